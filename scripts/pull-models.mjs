#!/usr/bin/env node
// @ts-check
/**
 * `npm run models:pull`: fetches real small GGUF models into models/ (needs a network: Hugging Face),
 * under the names config/providers.yaml uses, in place of the tiny random ones:
 *
 *   models/chat.gguf       HUSH_PULL_CHAT       default hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M              (~400 MB)
 *   models/embedding.gguf  HUSH_PULL_EMBEDDING  default hf:CompendiumLabs/bge-small-en-v1.5-gguf:Q8_0          (~35 MB)
 *   models/reranker.gguf   HUSH_PULL_RERANKER   default hf:gpustack/jina-reranker-v2-base-multilingual-GGUF:Q8_0 (~300 MB)
 *
 * Any URI node-llama-cpp resolves works (hf:<user>/<repo>:<quant>, hf:<user>/<repo>/<file>.gguf, https://...).
 * A model already in place that is not a tiny one is kept unless --force. `--only chat,embedding` limits it.
 * Downloads go to a temporary name and are renamed when complete.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readGguf } from './gguf.mjs';
import { defaultModelsDir, TINY_MODEL_FILES } from './make-tiny-models.mjs';

export const DEFAULT_PULLS = {
  chat: process.env.HUSH_PULL_CHAT ?? 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M',
  embedding: process.env.HUSH_PULL_EMBEDDING ?? 'hf:CompendiumLabs/bge-small-en-v1.5-gguf:Q8_0',
  reranker: process.env.HUSH_PULL_RERANKER ?? 'hf:gpustack/jina-reranker-v2-base-multilingual-GGUF:Q8_0',
};

function isTiny(path) {
  try {
    return readGguf(path).kv.get('hush.tiny_random')?.value === true;
  } catch {
    return false;
  }
}

async function main() {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? String(args[onlyAt + 1] ?? '').split(',') : Object.keys(DEFAULT_PULLS);
  let mod;
  try {
    mod = await import('node-llama-cpp');
  } catch {
    throw new Error('node-llama-cpp is not installed: run `npm install` first.');
  }
  const dir = defaultModelsDir();
  mkdirSync(dir, { recursive: true });
  for (const kind of /** @type {Array<keyof typeof DEFAULT_PULLS>} */ (only)) {
    if (!(kind in DEFAULT_PULLS)) throw new Error(`unknown kind "${kind}": chat, embedding or reranker`);
    const target = join(dir, TINY_MODEL_FILES[kind]);
    if (existsSync(target) && !isTiny(target) && !force) {
      console.log(`${kind}: ${target} is already a real model; kept (--force replaces it)`);
      continue;
    }
    const uri = DEFAULT_PULLS[kind];
    const partial = TINY_MODEL_FILES[kind].replace(/\.gguf$/, '.download.gguf');
    console.log(`${kind}: fetching ${uri}`);
    rmSync(join(dir, partial), { force: true });
    const downloader = await mod.createModelDownloader({
      modelUri: uri,
      dirPath: dir,
      fileName: partial,
      showCliProgress: process.stdout.isTTY,
      skipExisting: false,
    });
    const downloaded = await downloader.download();
    renameSync(downloaded, target);
    console.log(`${kind}: ${target} (${(downloader.totalSize / 1e6).toFixed(0)} MB)`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(`models:pull: ${err instanceof Error ? err.message : String(err)}`);
    console.error('It needs a network that reaches huggingface.co. Without one, the tiny random models (npm run models:tiny) keep everything running.');
    process.exit(1);
  });
}
