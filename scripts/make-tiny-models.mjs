#!/usr/bin/env node
// @ts-check
/**
 * Writes tiny GGUF models with random weights into models/, offline, in two or three seconds:
 *
 *   models/chat.gguf       llama architecture (Llama 3 shape: GQA, RoPE, SwiGLU; 2 layers, 64 dims), the
 *                          Llama 3 vocabulary (128,256 tokens) and the Llama 3 Instruct chat template   ~25 MB
 *   models/embedding.gguf  BERT (bge vocabulary, 30,522 WordPiece tokens), mean pooling, 128 dims      ~10 MB
 *   models/reranker.gguf   BERT with a classification head and rank pooling (llama.cpp --rerank)       ~5 MB
 *
 * Real architectures and real vocabularies (taken from the vocab-only GGUF files in the llama.cpp source
 * that node-llama-cpp carries), so tokenizers, chat templates, pooling and ranking all run for real; but
 * the weights are random, so the text they write is noise. Each file says so in its metadata
 * (`hush.tiny_random = true`), and the app warns once at startup when it loads one.
 *
 * The output is deterministic: the same seed gives the same bytes.
 *
 *   node scripts/make-tiny-models.mjs            write the models that are missing
 *   node scripts/make-tiny-models.mjs --force    overwrite (real models pulled into models/ too!)
 *   options: --out <dir> (default models/ beside this repo's package.json), --seed <n>, --quiet
 */
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GGML, readGguf, toF16, v, writeGguf } from './gguf.mjs';
import { llamaSource } from './llama-source.mjs';

export const TINY_MODEL_FILES = /** @type {const} */ ({ chat: 'chat.gguf', embedding: 'embedding.gguf', reranker: 'reranker.gguf' });

/** Meta Llama 3 Instruct's chat template, as its tokenizer_config.json has it. */
export const LLAMA3_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const DESCRIPTION = 'Tiny model with RANDOM weights made by @hush/providers scripts/make-tiny-models.mjs for offline tests and demos: its output is noise.';

// ---------------------------------------------------------------------------------------------
// Deterministic random numbers: one stream per tensor (seeded from the tensor's name), so adding
// a tensor never changes the others.

function hash32(text, seed) {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, std) values; Box–Muller. */
function normal(count, std, rng) {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = 1 - rng();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const theta = 2 * Math.PI * rng();
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

class TensorSet {
  /** @param {number} seed */
  constructor(seed) {
    this.seed = seed;
    /** @type {import('./gguf.mjs').TensorToWrite[]} */
    this.tensors = [];
  }
  /** Random normal weights; ggml dims (ne0 first). */
  random(name, dims, std, type = GGML.F32) {
    const count = dims.reduce((a, b) => a * b, 1);
    const values = normal(count, std, mulberry32(hash32(name, this.seed)));
    this.tensors.push({ name, dims, type, data: type === GGML.F16 ? toF16(values) : values });
  }
  fill(name, dims, value) {
    const count = dims.reduce((a, b) => a * b, 1);
    this.tensors.push({ name, dims, type: GGML.F32, data: new Float32Array(count).fill(value) });
  }
}

/** The tokenizer.* keys of a vocab-only file, copied as they are (with the overrides given). */
function vocabularyOf(path, overrides = {}) {
  const file = readGguf(path);
  const kv = new Map();
  for (const [key, value] of file.kv) if (key.startsWith('tokenizer.')) kv.set(key, value);
  for (const [key, value] of Object.entries(overrides)) kv.set(key, value);
  return { kv, vocabSize: /** @type {unknown[]} */ (file.kv.get('tokenizer.ggml.tokens')?.value ?? []).length };
}

function header(arch, name, extra) {
  return new Map([
    ['general.architecture', v.str(arch)],
    ['general.name', v.str(name)],
    ['general.description', v.str(DESCRIPTION)],
    ['general.license', v.str('mit')],
    ['general.file_type', v.u32(1)], // mostly F16
    ['hush.tiny_random', v.bool(true)],
    ...Object.entries(extra),
  ]);
}

// ---------------------------------------------------------------------------------------------

/** A Llama 3-shaped chat model: 2 layers, 64 dims, tied output embedding. */
function chatModel(vocabDir, seed) {
  const vocab = vocabularyOf(join(vocabDir, 'ggml-vocab-llama-bpe.gguf'), {
    // Llama 3 Instruct ends its turns with <|eot_id|>.
    'tokenizer.ggml.eos_token_id': v.u32(128009),
    'tokenizer.chat_template': v.str(LLAMA3_CHAT_TEMPLATE),
  });
  const nEmbd = 64,
    nHead = 4,
    nHeadKv = 2,
    nLayer = 2,
    nFf = 192,
    headDim = nEmbd / nHead;
  const kv = header('llama', 'hush-tiny-random-chat (llama 3 shape)', {
    'llama.vocab_size': v.u32(vocab.vocabSize),
    'llama.context_length': v.u32(8192),
    'llama.embedding_length': v.u32(nEmbd),
    'llama.block_count': v.u32(nLayer),
    'llama.feed_forward_length': v.u32(nFf),
    'llama.attention.head_count': v.u32(nHead),
    'llama.attention.head_count_kv': v.u32(nHeadKv),
    'llama.rope.dimension_count': v.u32(headDim),
    'llama.rope.freq_base': v.f32(500000),
    'llama.attention.layer_norm_rms_epsilon': v.f32(1e-5),
  });
  for (const [key, value] of vocab.kv) kv.set(key, value);
  const t = new TensorSet(seed);
  // The output is tied to the input embedding: when the layers add little to the residual stream the
  // model just repeats its last token. Strong attention/FFN outputs over a modest embedding keep the
  // next token depending on the whole context, with logits spread enough for sampling to matter.
  t.random('token_embd.weight', [nEmbd, vocab.vocabSize], 0.25, GGML.F16);
  t.fill('output_norm.weight', [nEmbd], 1);
  for (let i = 0; i < nLayer; i++) {
    t.fill(`blk.${i}.attn_norm.weight`, [nEmbd], 1);
    t.random(`blk.${i}.attn_q.weight`, [nEmbd, nEmbd], 0.08);
    t.random(`blk.${i}.attn_k.weight`, [nEmbd, headDim * nHeadKv], 0.08);
    t.random(`blk.${i}.attn_v.weight`, [nEmbd, headDim * nHeadKv], 0.08);
    t.random(`blk.${i}.attn_output.weight`, [nEmbd, nEmbd], 0.3);
    t.fill(`blk.${i}.ffn_norm.weight`, [nEmbd], 1);
    t.random(`blk.${i}.ffn_gate.weight`, [nEmbd, nFf], 0.08);
    t.random(`blk.${i}.ffn_up.weight`, [nEmbd, nFf], 0.08);
    t.random(`blk.${i}.ffn_down.weight`, [nFf, nEmbd], 0.3);
  }
  return { kv, tensors: t.tensors };
}

/**
 * A BERT encoder (bge-style) with the bge WordPiece vocabulary; `rank` adds the classification head
 * of a cross-encoder reranker (cls, cls.output) and rank pooling.
 */
function bertModel(vocabDir, seed, { nEmbd, nHead, nLayer, nFf, rank }) {
  const vocab = vocabularyOf(join(vocabDir, 'ggml-vocab-bert-bge.gguf'));
  const nCtx = 512;
  const kv = header('bert', rank ? 'hush-tiny-random-reranker (bert cross-encoder)' : 'hush-tiny-random-embedding (bert, mean pooling)', {
    'bert.context_length': v.u32(nCtx),
    'bert.embedding_length': v.u32(nEmbd),
    'bert.block_count': v.u32(nLayer),
    'bert.feed_forward_length': v.u32(nFf),
    'bert.attention.head_count': v.u32(nHead),
    'bert.attention.layer_norm_epsilon': v.f32(1e-12),
    'bert.attention.causal': v.bool(false),
    // llama_pooling_type: 1 mean, 4 rank
    'bert.pooling_type': v.u32(rank ? 4 : 1),
  });
  for (const [key, value] of vocab.kv) kv.set(key, value);
  const t = new TensorSet(seed);
  t.random('token_embd.weight', [nEmbd, vocab.vocabSize], 0.5, GGML.F16);
  t.random('token_types.weight', [nEmbd, 2], 0.05);
  t.random('position_embd.weight', [nEmbd, nCtx], 0.05);
  t.fill('token_embd_norm.weight', [nEmbd], 1);
  t.fill('token_embd_norm.bias', [nEmbd], 0);
  for (let i = 0; i < nLayer; i++) {
    for (const part of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) {
      t.random(`blk.${i}.${part}.weight`, [nEmbd, nEmbd], 0.08);
      t.random(`blk.${i}.${part}.bias`, [nEmbd], 0.02);
    }
    t.fill(`blk.${i}.attn_output_norm.weight`, [nEmbd], 1);
    t.fill(`blk.${i}.attn_output_norm.bias`, [nEmbd], 0);
    t.random(`blk.${i}.ffn_up.weight`, [nEmbd, nFf], 0.08);
    t.random(`blk.${i}.ffn_up.bias`, [nFf], 0.02);
    t.random(`blk.${i}.ffn_down.weight`, [nFf, nEmbd], 0.08);
    t.random(`blk.${i}.ffn_down.bias`, [nEmbd], 0.02);
    t.fill(`blk.${i}.layer_output_norm.weight`, [nEmbd], 1);
    t.fill(`blk.${i}.layer_output_norm.bias`, [nEmbd], 0);
  }
  if (rank) {
    t.random('cls.weight', [nEmbd, nEmbd], 0.3);
    t.random('cls.bias', [nEmbd], 0.02);
    // Spread enough that documents get visibly different scores.
    t.random('cls.output.weight', [nEmbd, 1], 0.8);
    t.fill('cls.output.bias', [1], 0);
  }
  return { kv, tensors: t.tensors };
}

/** The models this script writes, by kind. */
export const TINY_MODELS = {
  chat: (vocabDir, seed) => chatModel(vocabDir, seed),
  embedding: (vocabDir, seed) => bertModel(vocabDir, seed + 1, { nEmbd: 128, nHead: 4, nLayer: 2, nFf: 256, rank: false }),
  reranker: (vocabDir, seed) => bertModel(vocabDir, seed + 2, { nEmbd: 64, nHead: 4, nLayer: 2, nFf: 128, rank: true }),
};

/** The repository's models/ directory (beside the root package.json). */
export function defaultModelsDir() {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', 'models');
}

/**
 * Writes the tiny models that are missing (all of them with `force`). Returns what it wrote.
 * @param {{ out?: string, force?: boolean, seed?: number, log?: (line: string) => void, kinds?: Array<keyof typeof TINY_MODELS> }} [options]
 */
export function makeTinyModels(options = {}) {
  const out = resolve(options.out ?? defaultModelsDir());
  const seed = options.seed ?? 20_26;
  const log = options.log ?? (() => undefined);
  const kinds = options.kinds ?? /** @type {Array<keyof typeof TINY_MODELS>} */ (Object.keys(TINY_MODELS));
  const todo = kinds.filter((kind) => options.force || !existsSync(join(out, TINY_MODEL_FILES[kind])));
  const written = [];
  if (todo.length === 0) return written;
  const source = llamaSource({ log });
  const vocabDir = join(source.dir, 'models');
  mkdirSync(out, { recursive: true });
  for (const kind of todo) {
    const t0 = Date.now();
    const file = join(out, TINY_MODEL_FILES[kind]);
    const { kv, tensors } = TINY_MODELS[kind](vocabDir, seed);
    const tmp = file.replace(/\.gguf$/, `.tmp-${process.pid}.gguf`);
    writeGguf(tmp, kv, tensors);
    renameSync(tmp, file);
    const mb = (statSync(file).size / 1e6).toFixed(1);
    const shown = relative(process.cwd(), file);
    log(`wrote ${shown && !shown.startsWith('..') ? shown : file} (${kind}, ${mb} MB, random weights) in ${Date.now() - t0} ms`);
    written.push(file);
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const quiet = args.includes('--quiet');
  try {
    const t0 = Date.now();
    const written = makeTinyModels({
      out: value('--out'),
      force: args.includes('--force'),
      seed: value('--seed') === undefined ? undefined : Number(value('--seed')),
      log: (line) => console.log(line),
    });
    if (written.length > 0)
      console.log(`tiny random-weight models ready in ${Date.now() - t0} ms: their text is noise (npm run models:pull fetches real small models).`);
    else if (!quiet) console.log('models/ already has chat.gguf, embedding.gguf and reranker.gguf (use --force to overwrite them with tiny ones).');
  } catch (err) {
    console.error(`make-tiny-models: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
}
