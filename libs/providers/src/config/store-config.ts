import type { KeyPath } from './key-path.js';

/** The config's top-level `store:`, checked. */
export type StoreConfig = { type: 'memory' } | RedisStoreConfig;

export interface RedisStoreConfig {
  type: 'redis';
  /** `redis://[user:pass@]host:port[/db]`, or `rediss://` for TLS. Holds a secret: never printed. */
  url: string;
  /** Every key starts with `<keyPrefix>:`; default "hush". */
  keyPrefix: string;
  /** Bootstrap fails when Redis cannot be reached or refuses the credentials; default false: a warning, and this process's memory until Redis answers. */
  required: boolean;
  /** The longest one Redis operation may take before this process uses its own memory for it, ms; default 250. */
  timeoutMs: number;
}

export const STORE_DEFAULTS = { keyPrefix: 'hush', required: false, timeoutMs: 250 } as const;

const STORE_KEYS = { memory: ['type'], redis: ['type', 'url', 'keyPrefix', 'required', 'timeoutMs'] } as const;
export const KEY_PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

type Problem = (path: KeyPath, message: string, hint?: string) => void;

/** `store:` checked: a missing one is the memory store. Problems go to `problem`; the URL is never quoted in them. */
export function resolveStore(raw: unknown, problem: Problem): StoreConfig {
  if (raw === undefined || raw === null) return { type: 'memory' };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problem(['store'], `"store" must be a map (type: memory | redis, url, keyPrefix); got ${Array.isArray(raw) ? 'a list' : typeof raw}.`);
    return { type: 'memory' };
  }
  const store = raw as Record<string, unknown>;
  const type = store.type;
  if (type !== 'memory' && type !== 'redis') {
    problem(
      ['store', 'type'],
      type === undefined ? '"store" needs a "type".' : `Unknown store type ${JSON.stringify(type)}.`,
      'Types: memory (this process, the default), redis (shared by every process on the same server).',
    );
    return { type: 'memory' };
  }
  const allowed: readonly string[] = STORE_KEYS[type];
  for (const key of Object.keys(store)) {
    if (!allowed.includes(key)) {
      const other = type === 'memory' && (STORE_KEYS.redis as readonly string[]).includes(key);
      problem(['store', key], `Unknown key "${key}" in a ${type} store.`, other ? `"${key}" applies to type: redis.` : `Keys: ${allowed.join(', ')}.`);
    }
  }
  if (type === 'memory') return { type };

  const url = store.url;
  let urlOk = false;
  if (url === undefined) problem(['store', 'url'], 'A redis store needs a "url".', 'url: redis://host:6379 (or ${REDIS_URL}); rediss:// for TLS.');
  else if (typeof url !== 'string') problem(['store', 'url'], `store.url must be a string; got ${typeof url}.`);
  else urlOk = checkRedisUrl(url, problem);

  let keyPrefix: string = STORE_DEFAULTS.keyPrefix;
  if (store.keyPrefix !== undefined) {
    if (typeof store.keyPrefix !== 'string' || !KEY_PREFIX.test(store.keyPrefix)) {
      problem(['store', 'keyPrefix'], 'store.keyPrefix must be 1 to 64 letters, digits, "_", ".", ":" or "-".', `e.g. keyPrefix: myapp`);
    } else keyPrefix = store.keyPrefix;
  }

  let required: boolean = STORE_DEFAULTS.required;
  if (store.required !== undefined) {
    const value = store.required === 'true' ? true : store.required === 'false' ? false : store.required;
    if (typeof value !== 'boolean') problem(['store', 'required'], 'store.required must be true or false.');
    else required = value;
  }

  let timeoutMs: number = STORE_DEFAULTS.timeoutMs;
  if (store.timeoutMs !== undefined) {
    const value = typeof store.timeoutMs === 'string' && store.timeoutMs.trim() !== '' ? Number(store.timeoutMs) : store.timeoutMs;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 60_000) {
      problem(['store', 'timeoutMs'], 'store.timeoutMs must be a whole number of milliseconds from 1 to 60000.');
    } else timeoutMs = value;
  }
  return urlOk ? { type, url: url as string, keyPrefix, required, timeoutMs } : { type: 'memory' };
}

/** A Redis URL as ioredis and redis-cli take it. The problem never quotes it: it may hold a password. */
function checkRedisUrl(url: string, problem: Problem): boolean {
  const shape = 'Write redis://[user:password@]host:port[/db], or rediss://… for TLS.';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problem(['store', 'url'], 'store.url is not a URL.', shape);
    return false;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    problem(['store', 'url'], `store.url must use redis:// or rediss://; it uses ${parsed.protocol.replace(/:$/, '')}://.`, shape);
    return false;
  }
  if (parsed.hostname === '') {
    problem(['store', 'url'], 'store.url names no host.', shape);
    return false;
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) {
    problem(['store', 'url'], 'store.url: the path must be a database number (/0, /1, ...).', shape);
    return false;
  }
  return true;
}
