// What the fake upstream answers, shared by it and by the checks the contenders' answers go through.

/** Chat: the completion's text and usage. */
export const CHAT_TEXT = 'Hello! How can I help you today?';
export const USAGE = { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 };

/** Streams: this many content chunks (the first carries the role), then a finish chunk, a usage chunk when asked. */
export const STREAM_CHUNKS = 64;
export const STREAM_TEXT = Array.from({ length: STREAM_CHUNKS }, (_, i) => (i === 0 ? 'Token0' : ` token${i}`));
export const STREAM_JOINED = STREAM_TEXT.join('');

/** Embeddings. */
export const DIMENSIONS = 1536;
export const EMBED_MAX_BATCH = 2048;

/** Components 1.. of every vector: float32 values in (-0.1, 0.1), from a fixed seed (as OpenAI's look). */
export function vectorTail() {
  const tail = new Float32Array(DIMENSIONS - 1);
  let seed = 0x9e3779b9;
  for (let i = 0; i < tail.length; i++) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    tail[i] = (seed / 0xffffffff - 0.5) * 0.2;
  }
  return tail;
}

/** The texts to embed: "doc <i>" with some words before, so requests have a realistic size. */
export function embedTexts(count) {
  return Array.from({ length: count }, (_, i) => `passage about topic ${i % 97} for retrieval benchmarks, doc ${i}`);
}

/**
 * Checks an embedding job's output: `count` vectors of DIMENSIONS numbers, vector i's first component
 * i (so order and completeness), and two of its other components equal to the upstream's. Returns
 * an error message or undefined.
 */
export function checkVectors(vectors, count) {
  const tail = vectorTail();
  if (!vectors || typeof vectors.length !== 'number') return `no vectors (got ${typeof vectors})`;
  if (vectors.length !== count) return `expected ${count} vectors, got ${vectors.length}`;
  for (let i = 0; i < count; i++) {
    const v = vectors[i];
    if (!v || v.length !== DIMENSIONS) return `vector ${i}: ${v ? v.length : 'no'} dimensions, expected ${DIMENSIONS}`;
    if (v[0] !== i) return `vector ${i}: first component ${v[0]}, expected ${i} (order or content wrong)`;
    if (Math.fround(v[1]) !== tail[0] || Math.fround(v[DIMENSIONS - 1]) !== tail[DIMENSIONS - 2]) return `vector ${i}: components differ from the upstream's`;
  }
  return undefined;
}
