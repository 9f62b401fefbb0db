import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** The cache outside the repository that scripts/llama-source.mjs and scripts/llama-server.mjs use. */
export function cacheRoot(): string {
  if (process.env.HUSH_PROVIDERS_CACHE) return resolve(process.env.HUSH_PROVIDERS_CACHE);
  return join(process.env.XDG_CACHE_HOME ? resolve(process.env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'hush-providers');
}

/** The tiny models' shapes, as scripts/make-tiny-models.mjs writes them. */
export const TINY_DIMENSIONS = { embedding: 128, reranker: 64, chatContext: 8192, embeddingContext: 512 } as const;

export interface TinyModels {
  dir: string;
  chat: string;
  embedding: string;
  reranker: string;
}

/**
 * The tiny random-weight models for tests, in the cache (never models/, where real models may have
 * been pulled), keyed by the generator's source so a change of the script makes them anew. Made on
 * first use: offline, a few seconds; concurrent test files may race safely (atomic renames).
 */
export function ensureTinyModels(): TinyModels {
  const hash = createHash('sha256');
  for (const file of ['scripts/make-tiny-models.mjs', 'scripts/gguf.mjs']) hash.update(readFileSync(join(repo, file)));
  const dir = join(cacheRoot(), `tiny-models-${hash.digest('hex').slice(0, 12)}`);
  const models = { dir, chat: join(dir, 'chat.gguf'), embedding: join(dir, 'embedding.gguf'), reranker: join(dir, 'reranker.gguf') };
  if (![models.chat, models.embedding, models.reranker].every((path) => existsSync(path))) {
    execFileSync(process.execPath, ['scripts/make-tiny-models.mjs', '--quiet', '--out', dir], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return models;
}

export function norm(vector: number[]): number {
  return Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
}
