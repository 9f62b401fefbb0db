import { badResponse, describeValue, isObject, type HttpCallSite } from '../http/http-errors.js';
import type { EmbedderBatchResult, EmbeddingUsage } from '../core/embedder.js';
import { decodeBase64Rows } from '../core/vectors.js';

/**
 * Readers for the answers of embedding services, shared by the drivers that speak a service's own
 * API. Anything off (a missing field, a wrong count, a vector that is not numbers) is a
 * `bad-response` ProviderError that names the instance, never the vectors or a secret.
 */

/** One vector: a non-empty list of finite numbers. */
export function readVector(site: HttpCallSite, value: unknown, index: number): number[] {
  if (Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return value as number[];
  }
  throw badResponse(site, `vector ${index} is not a list of numbers (got ${describeValue(value)})`);
}

/**
 * A bare list of `count` vectors, in input order (TEI's answer, Ollama's `embeddings`, Cohere's
 * `embeddings.float`). With `itemKey`, each item is an object holding its vector under that key
 * (Gemini's `embeddings: [{values}]`).
 */
export function readVectorList(site: HttpCallSite, value: unknown, count: number, where: string, options: { itemKey?: string } = {}): number[][] {
  if (!Array.isArray(value)) throw badResponse(site, `expected ${where} to be a list of vectors, got ${describeValue(value)}`);
  if (value.length !== count) throw badResponse(site, `asked for ${count} vectors, got ${value.length}`);
  const { itemKey } = options;
  return value.map((item, index) => readVector(site, itemKey === undefined ? item : isObject(item) ? item[itemKey] : undefined, index));
}

/**
 * The value at a dotted path of a JSON answer (`usage.total_tokens`); undefined where a step is
 * missing. For optional parts of an answer (usage); required ones go through a reader that says what was wrong.
 */
export function valueAt(answer: unknown, path: string): unknown {
  let value = answer;
  for (const key of path ? path.split('.') : []) value = isObject(value) ? value[key] : undefined;
  return value;
}

/**
 * The list of `count` vectors at a dotted path of the answer (`embeddings`, `embeddings.float`; ''
 * for an answer that is the list itself), in input order. An answer of another shape is a bad
 * response naming the shape expected (`{embeddings: {float: [...]}}`).
 */
export function readVectorListAt(site: HttpCallSite, answer: unknown, path: string, count: number, options: { itemKey?: string } = {}): number[][] {
  const keys = path ? path.split('.') : [];
  let value = answer;
  for (const key of keys) {
    if (!isObject(value)) throw badResponse(site, `expected ${keys.reduceRight((inner, k) => `{${k}: ${inner}}`, '[...]')}, got ${describeValue(value)}`);
    value = value[key];
  }
  return readVectorList(site, value, count, path || 'the answer', options);
}

/**
 * OpenAI-shaped `data: [{index, embedding}]` (OpenAI and its kin, Jina, Voyage), put in input order
 * by `index` whatever order it came in; an index seen twice or out of range is a bad response. With
 * `positional`, a server that leaves out `index` everywhere is taken at its order (a partial one is not).
 * `read` checks each vector (default: a list of numbers).
 */
export function readIndexedVectors<V = number[]>(
  site: HttpCallSite,
  response: unknown,
  count: number,
  options: { positional?: boolean; read?: (site: HttpCallSite, value: unknown, index: number) => V } = {},
): V[] {
  const read = options.read ?? (readVector as unknown as (site: HttpCallSite, value: unknown, index: number) => V);
  const data = isObject(response) ? response.data : undefined;
  if (!Array.isArray(data)) throw badResponse(site, `expected {data: [...]}, got ${describeValue(response)}`);
  if (data.length !== count) throw badResponse(site, `asked for ${count} vectors, got ${data.length}`);
  const byPosition = options.positional === true && data.every((item) => !isObject(item) || item.index === undefined);
  const vectors = new Array<V>(count);
  // Kept apart from the vectors: a reader may return a falsy value (an empty string) for a slot.
  const seen = new Array<boolean>(count).fill(false);
  data.forEach((item, position) => {
    const index = byPosition ? position : isObject(item) ? item.index : undefined;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || seen[index]) {
      throw badResponse(site, `item ${position} of data has index ${String(index)} (expected each of 0..${count - 1} once)`);
    }
    seen[index] = true;
    vectors[index] = read(site, isObject(item) ? item.embedding : undefined, index);
  });
  return vectors;
}

/**
 * `data: [{index, embedding}]` from a request that asked for base64 of little-endian float32 (Jina's
 * `embedding_type`, Voyage's `encoding_format`), in input order as readIndexedVectors puts it. The
 * answer decides the form: a proxy or an older server may ignore the ask and send lists of numbers,
 * which are read as such. Base64 is decoded straight into `Float32Array` rows, or, with `keepBase64`
 * (the caller asked for base64), handed over as it came. A string that is not whole float32s,
 * vectors of different lengths, or strings mixed with lists, is a bad response.
 */
export function readIndexedBase64Vectors(
  site: HttpCallSite,
  response: unknown,
  count: number,
  options: { positional?: boolean; keepBase64?: boolean } = {},
): EmbedderBatchResult {
  const raw = readIndexedVectors<unknown>(site, response, count, { positional: options.positional, read: (_site, value) => value });
  if (typeof raw[0] !== 'string') return { embeddings: raw.map((value, index) => readVector(site, value, index)) };
  let rowBytes = 0;
  const strings = raw.map((value, index) => {
    if (typeof value !== 'string') throw badResponse(site, `vector ${index} is not base64 float32 (got ${describeValue(value)})`);
    // Checked here, not only when decoding: base64 handed over as it came is never decoded by us.
    const bytes = Buffer.byteLength(value, 'base64');
    if (bytes === 0 || bytes % 4 !== 0) throw badResponse(site, `vector ${index} is not base64 float32 (${bytes} bytes)`);
    if (index === 0) rowBytes = bytes;
    else if (bytes !== rowBytes) throw badResponse(site, `vectors of different lengths in one answer (${rowBytes / 4} and ${bytes / 4})`);
    return value;
  });
  if (options.keepBase64) return { base64: strings };
  const rows = decodeBase64Rows(strings, rowBytes / 4);
  if (!rows) throw badResponse(site, 'the vectors are not all of one length');
  return { embeddings: rows };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One vector as OpenAI sends it: base64 of little-endian float32, or a list of numbers. */
export function readBase64OrListVector(site: HttpCallSite, value: unknown, index: number): number[] {
  if (typeof value !== 'string') return readVector(site, value, index);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0) throw badResponse(site, `vector ${index} is not base64 float32 (${bytes.length} bytes)`);
  const length = bytes.length / 4;
  if (!LITTLE_ENDIAN) return Array.from({ length }, (_, i) => bytes.readFloatLE(i * 4));
  // Copied into a buffer of its own: the decoded bytes may sit at an offset a Float32Array cannot view.
  const floats = new Float32Array(length);
  new Uint8Array(floats.buffer).set(bytes);
  return Array.from(floats);
}

/** Usage from a token count the service reports (absent or odd: no usage, rather than a wrong one). */
export function usageOfTokens(prompt: unknown, total: unknown = prompt): EmbeddingUsage | undefined {
  const promptTokens = isCount(prompt) ? prompt : isCount(total) ? total : undefined;
  if (promptTokens === undefined) return undefined;
  return { promptTokens, totalTokens: isCount(total) ? total : promptTokens };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
