import type { VectorFormat, VectorOf } from './embedder.js';

/**
 * Embedding vectors in their three forms: `number[]`, `Float32Array`, and base64 of little-endian
 * float32 (OpenAI's wire form). Conversions go straight from one form to the other, without a
 * `number[]` in between.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The length of a vector in any form (a base64 string's without decoding it). */
export function vectorLength(vector: number[] | Float32Array | string): number {
  return typeof vector === 'string' ? Buffer.byteLength(vector, 'base64') / 4 : vector.length;
}

/**
 * Decodes base64 float32 vectors of `dimensions` each into one packed `Float32Array` (rows are views
 * of it): the bytes go from the string straight into the floats' memory. Undefined when a vector is
 * not `dimensions * 4` bytes.
 */
export function decodeBase64Rows(vectors: readonly string[], dimensions: number): Float32Array[] | undefined {
  const packed = new Float32Array(vectors.length * dimensions);
  const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const rowBytes = dimensions * 4;
  for (let i = 0; i < vectors.length; i++) {
    const value = vectors[i]!;
    if (Buffer.byteLength(value, 'base64') !== rowBytes) return undefined;
    bytes.write(value, i * rowBytes, rowBytes, 'base64');
  }
  if (!LITTLE_ENDIAN) bytes.swap32();
  const rows = new Array<Float32Array>(vectors.length);
  for (let i = 0; i < vectors.length; i++) rows[i] = packed.subarray(i * dimensions, (i + 1) * dimensions);
  return rows;
}

/** A vector as base64 of little-endian float32. */
export function encodeBase64(vector: number[] | Float32Array): string {
  const floats = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  if (LITTLE_ENDIAN) return bytes.toString('base64');
  return Buffer.from(bytes).swap32().toString('base64');
}

/** Vectors as the caller asked for them. Base64 input of the wrong size gives undefined. */
export function convertVectors<F extends VectorFormat>(
  vectors: ReadonlyArray<number[] | Float32Array> | readonly string[],
  format: F,
): Array<VectorOf[F]> | undefined {
  if (vectors.length === 0) return [];
  const base64 = typeof vectors[0] === 'string';
  if (format === 'base64') {
    return (base64 ? [...(vectors as string[])] : (vectors as Array<number[] | Float32Array>).map(encodeBase64)) as Array<VectorOf[F]>;
  }
  const rows = base64 ? decodeBase64Rows(vectors as string[], vectorLength(vectors[0]!)) : (vectors as Array<number[] | Float32Array>);
  if (!rows) return undefined;
  if (format === 'float32') return rows.map((v) => (v instanceof Float32Array ? v : Float32Array.from(v))) as Array<VectorOf[F]>;
  return rows.map((v) => (v instanceof Float32Array ? Array.from(v) : v)) as Array<VectorOf[F]>;
}
