import { LRUCache } from 'lru-cache';
import type { ProviderKind } from '../core/provider-kind.js';
import { SlidingWindowBudget } from './sliding-window-budget.js';
import type { BudgetOwner, CooldownBoard, RateBudget, ResultCache, SharedStore } from './shared-store.js';

export interface MemoryStoreOptions {
  /** Cached answers kept at most; default 10,000. */
  maxEntries?: number;
  /** Their total size at most, bytes (keys and values, counted as UTF-16); default 64 MiB. */
  maxBytes?: number;
  /** The clock, ms since the epoch (tests). */
  now?: () => number;
}

export const MEMORY_CACHE_DEFAULTS = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

/** The state of one process: what every registry uses unless the config names a shared `store`. */
export class MemoryStore implements SharedStore {
  readonly type = 'memory' as const;
  readonly cooldowns: MemoryCooldowns;
  readonly cache: MemoryCache;
  readonly #now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.cooldowns = new MemoryCooldowns();
    this.cache = new MemoryCache(options.maxEntries ?? MEMORY_CACHE_DEFAULTS.maxEntries, options.maxBytes ?? MEMORY_CACHE_DEFAULTS.maxBytes, this.#now);
  }

  budget(_owner: BudgetOwner, perMinute: number): RateBudget {
    return new SlidingWindowBudget(perMinute, this.#now);
  }

  async close(): Promise<void> {
    this.cache.clear();
  }
}

export class MemoryCooldowns implements CooldownBoard {
  readonly #until = new Map<string, number>();

  coolUntil(kind: ProviderKind, instance: string, deployment: number): number {
    return this.#until.get(cooldownKey(kind, instance, deployment)) ?? 0;
  }

  cool(kind: ProviderKind, instance: string, deployment: number, untilMs: number): void {
    const key = cooldownKey(kind, instance, deployment);
    if ((this.#until.get(key) ?? 0) < untilMs) this.#until.set(key, untilMs);
  }
}

function cooldownKey(kind: ProviderKind, instance: string, deployment: number): string {
  return `${kind}\0${instance}\0${deployment}`;
}

/** A least-recently-used cache bounded by entries and bytes, each entry with its own time to live. */
export class MemoryCache implements ResultCache {
  readonly #lru: LRUCache<string, string>;

  constructor(maxEntries: number, maxBytes: number, now: () => number) {
    this.#lru = new LRUCache<string, string>({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: (value, key) => Math.max(1, (value.length + key.length) * 2),
      // lru-cache's own clock is performance.now(); entries expire by the store's clock instead.
      perf: { now },
    });
  }

  async getMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    return keys.map((key) => this.#lru.get(key));
  }

  async setMany(entries: ReadonlyArray<readonly [key: string, value: string]>, ttlMs: number): Promise<void> {
    for (const [key, value] of entries) this.#lru.set(key, value, { ttl: ttlMs });
  }

  /** Entries held now (expired ones may still count until read). */
  get size(): number {
    return this.#lru.size;
  }

  clear(): void {
    this.#lru.clear();
  }
}
