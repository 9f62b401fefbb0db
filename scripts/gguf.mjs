// @ts-check
/**
 * A small GGUF (version 3) reader and writer: enough to copy a vocabulary out of llama.cpp's
 * vocab-only files and write models with F32/F16 tensors. Format: ggml's docs/gguf.md.
 *
 * Values keep their GGUF type so they are written back exactly: { type, value } for scalars,
 * { type: ARRAY, itemType, value: [...] } for arrays.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const T = /** @type {const} */ ({
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
});
/** ggml tensor types this writer knows: element size in bytes. */
export const GGML = /** @type {const} */ ({ F32: 0, F16: 1 });
const GGML_SIZE = { 0: 4, 1: 2 };

/**
 * @typedef {{ type: number, value: any, itemType?: number }} GgufValue
 * @typedef {{ name: string, dims: number[], type: number, offset: bigint }} GgufTensorInfo
 * @typedef {{ version: number, kv: Map<string, GgufValue>, tensors: GgufTensorInfo[], dataOffset: number }} GgufFile
 */

/** Reads the header, metadata and tensor infos of a GGUF file (tensor data is not read). */
export function readGguf(path) {
  const buf = readFileSync(path);
  let pos = 0;
  const u32 = () => {
    const v = buf.readUInt32LE(pos);
    pos += 4;
    return v;
  };
  const u64 = () => {
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    return v;
  };
  const str = () => {
    const n = Number(u64());
    const s = buf.toString('utf8', pos, pos + n);
    pos += n;
    return s;
  };
  /** @param {number} type */
  const scalar = (type) => {
    switch (type) {
      case T.UINT8:
        return buf.readUInt8(pos++);
      case T.INT8:
        return buf.readInt8(pos++);
      case T.UINT16: {
        const v = buf.readUInt16LE(pos);
        pos += 2;
        return v;
      }
      case T.INT16: {
        const v = buf.readInt16LE(pos);
        pos += 2;
        return v;
      }
      case T.UINT32:
        return u32();
      case T.INT32: {
        const v = buf.readInt32LE(pos);
        pos += 4;
        return v;
      }
      case T.FLOAT32: {
        const v = buf.readFloatLE(pos);
        pos += 4;
        return v;
      }
      case T.BOOL:
        return buf.readUInt8(pos++) !== 0;
      case T.STRING:
        return str();
      case T.UINT64:
        return u64();
      case T.INT64: {
        const v = buf.readBigInt64LE(pos);
        pos += 8;
        return v;
      }
      case T.FLOAT64: {
        const v = buf.readDoubleLE(pos);
        pos += 8;
        return v;
      }
      default:
        throw new Error(`${path}: unknown GGUF value type ${type} at byte ${pos}`);
    }
  };
  if (u32() !== GGUF_MAGIC) throw new Error(`${path} is not a GGUF file`);
  const version = u32();
  if (version !== 3 && version !== 2) throw new Error(`${path}: GGUF version ${version} is not supported`);
  const tensorCount = Number(u64());
  const kvCount = Number(u64());
  /** @type {Map<string, GgufValue>} */
  const kv = new Map();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    if (type === T.ARRAY) {
      const itemType = u32();
      const n = Number(u64());
      const value = new Array(n);
      for (let j = 0; j < n; j++) value[j] = scalar(itemType);
      kv.set(key, { type, itemType, value });
    } else {
      kv.set(key, { type, value: scalar(type) });
    }
  }
  /** @type {GgufTensorInfo[]} */
  const tensors = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const nDims = u32();
    const dims = [];
    for (let d = 0; d < nDims; d++) dims.push(Number(u64()));
    tensors.push({ name, dims, type: u32(), offset: u64() });
  }
  const alignment = Number(kv.get('general.alignment')?.value ?? 32);
  const dataOffset = Math.ceil(pos / alignment) * alignment;
  return { version, kv, tensors, dataOffset };
}

/** A plain-object view of the metadata (arrays as arrays, bigints as numbers when safe). */
export function metadataOf(file) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, { value }] of file.kv) out[key] = typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  return out;
}

/** Helpers to build typed values. */
export const v = {
  u32: (value) => ({ type: T.UINT32, value }),
  i32: (value) => ({ type: T.INT32, value }),
  f32: (value) => ({ type: T.FLOAT32, value }),
  bool: (value) => ({ type: T.BOOL, value }),
  str: (value) => ({ type: T.STRING, value }),
  strs: (value) => ({ type: T.ARRAY, itemType: T.STRING, value }),
};

/**
 * @typedef {{ name: string, dims: number[], type: number, data: Float32Array | Uint16Array }} TensorToWrite
 */

/**
 * Writes a GGUF v3 file: metadata in the order given, then tensors, each aligned.
 * @param {string} path
 * @param {Map<string, GgufValue>} kv
 * @param {TensorToWrite[]} tensors
 */
export function writeGguf(path, kv, tensors) {
  const alignment = Number(kv.get('general.alignment')?.value ?? 32);
  /** @type {Buffer[]} */
  const head = [];
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    head.push(b);
  };
  const u64 = (n) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    head.push(b);
  };
  const str = (s) => {
    const b = Buffer.from(s, 'utf8');
    u64(b.length);
    head.push(b);
  };
  const scalar = (type, value) => {
    let b;
    switch (type) {
      case T.UINT8:
        b = Buffer.alloc(1);
        b.writeUInt8(value);
        break;
      case T.INT8:
        b = Buffer.alloc(1);
        b.writeInt8(value);
        break;
      case T.UINT16:
        b = Buffer.alloc(2);
        b.writeUInt16LE(value);
        break;
      case T.INT16:
        b = Buffer.alloc(2);
        b.writeInt16LE(value);
        break;
      case T.UINT32:
        b = Buffer.alloc(4);
        b.writeUInt32LE(value);
        break;
      case T.INT32:
        b = Buffer.alloc(4);
        b.writeInt32LE(value);
        break;
      case T.FLOAT32:
        b = Buffer.alloc(4);
        b.writeFloatLE(value);
        break;
      case T.BOOL:
        b = Buffer.alloc(1);
        b.writeUInt8(value ? 1 : 0);
        break;
      case T.STRING:
        str(value);
        return;
      case T.UINT64:
        b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(value));
        break;
      case T.INT64:
        b = Buffer.alloc(8);
        b.writeBigInt64LE(BigInt(value));
        break;
      case T.FLOAT64:
        b = Buffer.alloc(8);
        b.writeDoubleLE(value);
        break;
      default:
        throw new Error(`unknown GGUF value type ${type}`);
    }
    head.push(b);
  };
  u32(GGUF_MAGIC);
  u32(3);
  u64(tensors.length);
  u64(kv.size);
  for (const [key, val] of kv) {
    str(key);
    u32(val.type);
    if (val.type === T.ARRAY) {
      u32(/** @type {number} */ (val.itemType));
      u64(val.value.length);
      // Arrays of numbers are written in one piece (token scores and types are long).
      if (val.itemType === T.FLOAT32) head.push(Buffer.from(Float32Array.from(val.value).buffer));
      else if (val.itemType === T.INT32) head.push(Buffer.from(Int32Array.from(val.value).buffer));
      else if (val.itemType === T.UINT32) head.push(Buffer.from(Uint32Array.from(val.value).buffer));
      else for (const item of val.value) scalar(val.itemType, item);
    } else {
      scalar(val.type, val.value);
    }
  }
  let offset = 0;
  const offsets = [];
  for (const t of tensors) {
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== elements) throw new Error(`tensor ${t.name}: ${t.data.length} values for dims ${t.dims.join('x')}`);
    const expected = t.type === GGML.F32 ? Float32Array : Uint16Array;
    if (!(t.data instanceof expected)) throw new Error(`tensor ${t.name}: data does not match ggml type ${t.type}`);
    offsets.push(offset);
    str(t.name);
    u32(t.dims.length);
    for (const d of t.dims) u64(d);
    u32(t.type);
    u64(offset);
    offset += Math.ceil((elements * GGML_SIZE[t.type]) / alignment) * alignment;
  }
  const fd = openSync(path, 'w');
  try {
    let written = 0;
    for (const b of head) written += writeSync(fd, b);
    const pad = (n) => {
      if (n > 0) written += writeSync(fd, Buffer.alloc(n));
    };
    pad(Math.ceil(written / alignment) * alignment - written);
    const dataStart = written;
    tensors.forEach((t, i) => {
      pad(dataStart + offsets[i] - written);
      written += writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    });
    pad(Math.ceil(written / alignment) * alignment - written);
  } finally {
    closeSync(fd);
  }
}

/** Float32 → IEEE half, round to nearest even (enough for random weights). */
export function toF16(values) {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    let exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    if (exp <= 0) {
      if (exp < -10) {
        out[i] = sign;
        continue;
      }
      mant = (mant | 0x800000) >>> (1 - exp);
      out[i] = sign | ((mant + 0x1000) >>> 13);
      continue;
    }
    if (exp >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    const half = sign | (exp << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    out[i] = rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half;
  }
  return out;
}
