import { createHash } from 'node:crypto';
import type { ProviderKind } from '../core/provider-kind.js';
import type { ResultCache } from '../store/shared-store.js';
import { stableJson } from '../core/stable-json.js';

/**
 * How a call's answer came, on an instance with `cache:`: all from the cache (`hit`), part from it
 * and part from the upstream (`partial`, embeddings only), or all from the upstream (`miss`).
 */
export type CacheStatus = 'hit' | 'partial' | 'miss';

// Registered (Symbol.for), so a second copy of the library (ESM and CJS in one app) reads the same mark.
const CACHE_STATUS = Symbol.for('@hush/providers.cache');

/**
 * Whether a result came from the instance's cache: `hit`, `partial` or `miss`, or undefined when the
 * instance has no `cache:` (or the value is not a result of the library). Reads an embedding result,
 * a completion, each chunk of a stream, and the array `rerank` resolves to. The mark is a
 * non-enumerable property: copies (`{ ...completion }`) and JSON leave it out.
 */
export function cacheStatus(result: unknown): CacheStatus | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  return (result as { [CACHE_STATUS]?: CacheStatus })[CACHE_STATUS];
}

/** Marks `result` with how it came (see `cacheStatus`). */
export function markCache<T extends object>(result: T, status: CacheStatus): T {
  Object.defineProperty(result, CACHE_STATUS, { value: status, enumerable: false, configurable: true, writable: true });
  return result;
}

/** Bumped when what a key covers, or the form of a stored value, changes: old entries are then never read. */
const KEY_VERSION = 1;

/**
 * One instance's view of the store's cache: keys made from hashed material (so no text, message or
 * secret appears in a key), and store failures read as misses and never fail a call.
 */
export class AnswerCache {
  constructor(
    private readonly cache: ResultCache,
    readonly ttlMs: number,
    private readonly kind: ProviderKind,
  ) {}

  /** A key for `material` (any JSON value; objects' keys are sorted first, so their order does not matter). */
  key(material: unknown): string {
    return `${this.kind}:${createHash('sha256')
      .update(stableJson([KEY_VERSION, material]))
      .digest('hex')}`;
  }

  /**
   * Keys for many texts sharing one context (an embedder's model and options): the context's JSON
   * once, then each text, hashed together.
   */
  keysOf(context: unknown, texts: readonly string[]): string[] {
    const prefix = `${stableJson([KEY_VERSION, context])}\n`;
    return texts.map((text) => `${this.kind}:${createHash('sha256').update(prefix).update(text).digest('hex')}`);
  }

  async get(keys: readonly string[]): Promise<Array<string | undefined>> {
    try {
      const values = await this.cache.getMany(keys);
      return keys.map((_, i) => (typeof values[i] === 'string' ? values[i] : undefined));
    } catch {
      return keys.map(() => undefined);
    }
  }

  async set(entries: ReadonlyArray<readonly [key: string, value: string]>): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.cache.setMany(entries, this.ttlMs);
    } catch {
      // A store that cannot write costs the next call a miss, nothing more.
    }
  }
}

/** The instance's cache, when its config has `cache:`. */
export function answerCacheOf(cache: ResultCache, config: { cache?: { ttlMs: number } }, kind: ProviderKind): AnswerCache | undefined {
  return config.cache ? new AnswerCache(cache, config.cache.ttlMs, kind) : undefined;
}
