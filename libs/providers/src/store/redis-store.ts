import { randomBytes } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import type { LoggerService } from '@nestjs/common';
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { abortErrorOf } from '../core/abort.js';
import { STORE_CHANNEL, type StoreEvent } from '../core/diagnostics.js';
import type { ProviderKind } from '../core/provider-kind.js';
import type { RedisStoreConfig } from '../config/store-config.js';
import { MemoryCooldowns, MemoryStore } from './memory-store.js';
import { COOL_SCRIPT, SETTLE_SCRIPT, TAKE_SCRIPT } from './redis-scripts.js';
import { BudgetExceededError, SlidingWindowBudget } from './sliding-window-budget.js';
import type { BudgetEntry, BudgetOwner, CooldownBoard, RateBudget, ResultCache, SharedStore } from './shared-store.js';

const storeEvents = channel(STORE_CHANNEL);

const WINDOW_MS = 60_000;
/** Budget keys outlive the window a little, so that an idle budget leaves nothing behind. */
const KEY_TTL_MS = WINDOW_MS + 1_000;
/** A take waiting while estimates are out looks again at least this often, should a settle's message be lost. */
const SETTLE_POLL_MS = 1_000;
/** While Redis is connected but failing (timeouts), how often it is asked whether it answers again. */
const PROBE_MS = 1_000;
/** The longest bootstrap waits for Redis's first answer (or first refusal). */
const CONNECT_WAIT_MIN_MS = 2_000;

export const IOREDIS_MISSING = 'The ioredis package is missing: install ioredis to use store type redis (npm install ioredis).';

interface ScriptedClient extends RedisClient {
  hushTake(base: string, units: string, est: string, spent: string, ...args: Array<string | number>): Promise<[number, number, number, number]>;
  hushSettle(base: string, units: string, est: string, spent: string, ...args: Array<string | number>): Promise<number>;
  hushCool(key: string, ...args: Array<string | number>): Promise<number>;
}

type RedisConstructor = new (url: string, options: RedisOptions) => RedisClient;

/** ioredis, loaded only when a Redis store is configured (it is an optional peer). */
export async function loadIoredis(load: () => Promise<unknown> = () => import('ioredis')): Promise<Function> {
  let mod: { Redis?: RedisConstructor; default?: RedisConstructor };
  try {
    mod = (await load()) as typeof mod;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(IOREDIS_MISSING, { cause: err });
    throw err;
  }
  const Redis = mod.Redis ?? mod.default;
  if (typeof Redis !== 'function') throw new Error(IOREDIS_MISSING);
  return Redis;
}

/**
 * The shared store on Redis (or Valkey): rpm/tpm budgets counted by Lua scripts on the server,
 * cooldowns written with an expiry and published to every process's mirror, cached answers with
 * their TTL. Redis is never a reason for a call to fail: when it is down or slow (past `timeoutMs`),
 * this process uses its own memory for the operation, says so once, and goes back to Redis as soon
 * as it answers.
 */
export class RedisStore implements SharedStore {
  readonly type = 'redis' as const;
  readonly cooldowns: CooldownBoard;
  readonly cache: ResultCache;
  readonly #link: RedisLink;

  private constructor(link: RedisLink) {
    this.#link = link;
    this.cooldowns = link.cooldowns;
    this.cache = link.cache;
  }

  /**
   * Connects, loads the cooldowns in force, and subscribes to their changes. When Redis cannot be
   * reached or refuses the credentials: with `required`, rejects saying what failed; otherwise warns
   * once and works from this process's memory, while ioredis keeps reconnecting in the background.
   */
  static async connect(config: RedisStoreConfig, logger: LoggerService): Promise<RedisStore> {
    const Redis = (await loadIoredis()) as RedisConstructor;
    const link = new RedisLink(Redis, config, logger);
    await link.start();
    return new RedisStore(link);
  }

  /** Operations this process answered from its own memory because Redis was down or slow. */
  get fallbacks(): number {
    return this.#link.fallbacks;
  }

  /** Times Redis became unavailable (the bootstrap included). */
  get outages(): number {
    return this.#link.outages;
  }

  /** Redis answers, and operations go to it. */
  get available(): boolean {
    return this.#link.usable();
  }

  budget(owner: BudgetOwner, perMinute: number): RateBudget {
    return new RedisBudget(this.#link, this.#link.budgetKey(owner), perMinute);
  }

  close(): Promise<void> {
    return this.#link.close();
  }
}

/** The two connections, the outage state, and this process's memory standing in for Redis. */
class RedisLink {
  readonly cooldowns: CooldownBoard;
  readonly cache: ResultCache;
  fallbacks = 0;
  outages = 0;
  readonly #config: RedisStoreConfig;
  readonly #logger: LoggerService;
  /** `host:port`, all that logs and errors say of the URL. */
  readonly #address: string;
  readonly #password: string;
  readonly #client: ScriptedClient;
  /** Pub/sub needs a connection of its own. */
  readonly #subscriber: RedisClient;
  readonly #memory = new MemoryStore();
  readonly #mirror: MemoryCooldowns;
  readonly #memoryBudgets = new Map<string, RateBudget>();
  /** Waiting takes by budget key, woken when a settle is published. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #cooldownChannel: string;
  readonly #budgetChannel: string;
  /** Makes entry ids unique across processes. */
  readonly #token = randomBytes(6).toString('base64url');
  #seq = 0;
  #down = true;
  #warned = false;
  #closed = false;
  #probe: NodeJS.Timeout | undefined;
  #started = false;
  readonly #refusals = new Set<string>();

  constructor(Redis: RedisConstructor, config: RedisStoreConfig, logger: LoggerService) {
    this.#config = config;
    this.#logger = logger;
    const url = new URL(config.url);
    this.#address = `${url.hostname}:${url.port || '6379'}`;
    this.#password = decodeURIComponent(url.password);
    this.#cooldownChannel = `${config.keyPrefix}:cooldowns`;
    this.#budgetChannel = `${config.keyPrefix}:budgets`;
    this.#mirror = this.#memory.cooldowns;
    const options: RedisOptions = {
      lazyConnect: true,
      // While Redis is away, commands fail at once (and memory answers) instead of queueing.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.timeoutMs,
      connectTimeout: Math.max(CONNECT_WAIT_MIN_MS, config.timeoutMs),
      retryStrategy: (times) => Math.min(times * 100, 2_000),
      connectionName: 'hush-providers',
      // ioredis arms this timer even for a socket that is already gone: left at 2 s, it holds the process after close().
      disconnectTimeout: 100,
    };
    this.#client = new Redis(config.url, options) as ScriptedClient;
    this.#client.defineCommand('hushTake', { numberOfKeys: 4, lua: TAKE_SCRIPT });
    this.#client.defineCommand('hushSettle', { numberOfKeys: 4, lua: SETTLE_SCRIPT });
    this.#client.defineCommand('hushCool', { numberOfKeys: 1, lua: COOL_SCRIPT });
    // The subscriber's SUBSCRIBE waits for its connection, and ioredis subscribes again after a reconnect.
    this.#subscriber = new Redis(config.url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
    this.cooldowns = new RedisCooldowns(this.#mirror, (kind, instance, deployment, untilMs) => this.#publishCooldown(kind, instance, deployment, untilMs));
    this.cache = new RedisCache(this, this.#memory.cache, `${config.keyPrefix}:cache:`);
  }

  budgetKey(owner: BudgetOwner): string {
    return `${this.#config.keyPrefix}:{${owner.kind}:${owner.instance}}:${owner.unit}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopProbe();
    // Waiting takes look again, find the store closed, and finish on memory.
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake();
    await Promise.allSettled([this.#quit(this.#client), this.#quit(this.#subscriber)]);
    await this.#memory.close();
  }

  async start(): Promise<void> {
    const client = this.#client;
    let firstError: unknown;
    client.on('error', (err: unknown) => {
      firstError ??= err;
      if (err instanceof Error && err.name === 'ReplyError') firstError = err;
    });
    client.on('close', () => {
      if (!this.#closed && !this.#down) this.#unavailable('connection lost');
    });
    client.on('ready', () => void this.#recovered());
    this.#subscriber.on('error', () => undefined);
    this.#subscriber.on('message', (channelName: string, message: string) => this.#onMessage(channelName, message));
    // A subscriber back after a drop may have missed cooldowns.
    this.#subscriber.on('ready', () => {
      if (this.usable()) void this.#loadCooldowns();
    });

    const wait = Math.max(CONNECT_WAIT_MIN_MS, this.#config.timeoutMs) + 500;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      client.connect().then(
        () => undefined,
        () => firstError ?? new Error('connection lost'),
      ),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${wait} ms`), wait))),
    ]);
    clearTimeout(timer);
    if (outcome === undefined) {
      this.#subscriber.connect().catch(() => undefined);
      await this.#timed(this.#subscriber.subscribe(this.#cooldownChannel, this.#budgetChannel)).catch(() => undefined);
      await this.#loadCooldowns();
      this.#down = false;
      this.#started = true;
      return;
    }
    const reason = typeof outcome === 'string' ? outcome : this.#describe(outcome);
    if (this.#config.required) {
      this.#closed = true;
      await Promise.allSettled([this.#quit(client), this.#quit(this.#subscriber)]);
      throw new Error(
        `store: Redis at ${this.#address} is unavailable (${reason}); store.required is true, so the providers do not start without it ` +
          "(required: false runs on this process's memory until Redis answers).",
      );
    }
    // ioredis goes on reconnecting; "ready" brings the store back.
    this.#subscriber.connect().catch(() => undefined);
    this.#subscriber.subscribe(this.#cooldownChannel, this.#budgetChannel).catch(() => undefined);
    this.#down = false;
    this.#started = true;
    this.#unavailable(reason);
  }

  /**
   * Runs `op` on Redis within `timeoutMs`. When Redis is down, slow or failing, answers
   * `undefined`: the caller uses its memory equivalent.
   */
  async run<T>(op: (client: ScriptedClient) => Promise<T>): Promise<T | undefined> {
    if (!this.usable()) {
      if (!this.#closed) this.fallbacks++;
      return undefined;
    }
    try {
      return await this.#timed(op(this.#client));
    } catch (err) {
      this.#failed(err);
      this.fallbacks++;
      return undefined;
    }
  }

  /** The memory budget that stands in for one Redis budget while Redis is away. */
  memoryBudget(key: string, perMinute: number): RateBudget {
    const id = `${key}\0${perMinute}`;
    let budget = this.#memoryBudgets.get(id);
    if (!budget) this.#memoryBudgets.set(id, (budget = new SlidingWindowBudget(perMinute)));
    return budget;
  }

  nextId(): string {
    return `${this.#token}.${(++this.#seq).toString(36)}`;
  }

  get budgetChannel(): string {
    return this.#budgetChannel;
  }

  /** Resolves after `ms`, or when a settle of budget `key` is published; rejects when `signal` aborts. */
  sleep(key: string, ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortErrorOf(signal));
    if (this.#closed) return Promise.resolve();
    let waiters = this.#waiters.get(key);
    if (!waiters) this.#waiters.set(key, (waiters = new Set()));
    const set = waiters;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key);
      };
      const wake = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(abortErrorOf(signal));
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  wake(key: string): void {
    for (const wake of [...(this.#waiters.get(key) ?? [])]) wake();
  }

  usable(): boolean {
    return !this.#closed && !this.#down && this.#client.status === 'ready';
  }

  #timed<T>(promise: Promise<T>): Promise<T> {
    const ms = this.#config.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeout(ms)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** A failed operation: the server refusing one command is not an outage; a timeout or a lost connection is. */
  #failed(err: unknown): void {
    if (err instanceof Error && err.name === 'ReplyError' && !/^(NOAUTH|WRONGPASS|LOADING|MASTERDOWN|CLUSTERDOWN)/.test(err.message)) {
      const what = err.message.split(' ')[0] ?? 'ERR';
      if (!this.#refusals.has(what) && this.#refusals.size < 20) {
        this.#refusals.add(what);
        this.#logger.warn(`Redis at ${this.#address} refused an operation (${what}): this process's memory answered it instead`);
      }
      return;
    }
    this.#unavailable(this.#describe(err));
  }

  #unavailable(reason: string): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.outages++;
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn(`Redis at ${this.#address} is unavailable (${reason}): using this process's memory until it answers`);
    }
    if (storeEvents.hasSubscribers) storeEvents.publish({ store: 'redis', address: this.#address, state: 'unavailable', reason } satisfies StoreEvent);
    // A connection that stays up but stops answering brings no "ready": ask it now and then.
    this.#probe ??= setInterval(() => {
      if (this.#client.status !== 'ready') return;
      this.#timed(this.#client.ping()).then(
        () => void this.#recovered(),
        () => undefined,
      );
    }, PROBE_MS);
    this.#probe.unref();
  }

  async #recovered(): Promise<void> {
    if (this.#closed || !this.#down || !this.#started) return;
    if (this.#client.status !== 'ready') return;
    this.#stopProbe();
    this.#down = false;
    this.#warned = false;
    this.#logger.log(`Redis at ${this.#address} answers again: budgets, cooldowns and caches are shared again`);
    if (storeEvents.hasSubscribers) storeEvents.publish({ store: 'redis', address: this.#address, state: 'available' } satisfies StoreEvent);
    // Cooldowns published while this process was away.
    await this.#loadCooldowns();
  }

  #stopProbe(): void {
    if (this.#probe) clearInterval(this.#probe);
    this.#probe = undefined;
  }

  /** What went wrong, in words that hold no secret (the password is cut out of anything unforeseen). */
  #describe(err: unknown): string {
    if (err instanceof RedisTimeout) return err.message;
    const e = err as { code?: string; message?: string; name?: string };
    const message = typeof e?.message === 'string' ? e.message : String(err);
    if (e?.code === 'ECONNREFUSED') return 'connection refused';
    if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return 'host not found';
    if (/^Command timed out/.test(message)) return `no answer within ${this.#config.timeoutMs} ms`;
    if (e?.code === 'ETIMEDOUT') return 'connection timed out';
    if (e?.code === 'ECONNRESET' || /Connection is closed|Stream isn't writeable/i.test(message)) return 'connection lost';
    if (message.startsWith('WRONGPASS')) return 'wrong password';
    if (message.startsWith('NOAUTH')) return 'a password is required';
    const text = `${e?.code ?? e?.name ?? 'error'}: ${message}`.slice(0, 120);
    return this.#password ? text.split(this.#password).join('***') : text;
  }

  async #quit(client: RedisClient): Promise<void> {
    try {
      if (client.status === 'ready') await this.#timed(client.quit());
    } catch {
      // disconnected below either way
    } finally {
      client.disconnect();
    }
  }

  #cooldownKey(kind: ProviderKind, instance: string, deployment: number): string {
    return `${this.#config.keyPrefix}:{${kind}:${instance}}:cooldown:${deployment}`;
  }

  #publishCooldown(kind: ProviderKind, instance: string, deployment: number, untilMs: number): void {
    const ttl = Math.ceil(untilMs - Date.now());
    if (ttl <= 0) return;
    const message = JSON.stringify({ kind, instance, deployment, until: untilMs });
    void this.run((c) => c.hushCool(this.#cooldownKey(kind, instance, deployment), String(untilMs), ttl, this.#cooldownChannel, message));
  }

  #onMessage(channelName: string, message: string): void {
    if (this.#closed) return;
    if (channelName === this.#budgetChannel) return this.wake(message);
    if (channelName !== this.#cooldownChannel) return;
    try {
      const { kind, instance, deployment, until } = JSON.parse(message) as Record<string, unknown>;
      if (typeof kind === 'string' && typeof instance === 'string' && typeof deployment === 'number' && typeof until === 'number') {
        this.#mirror.cool(kind as ProviderKind, instance, deployment, until);
      }
    } catch {
      // not one of ours
    }
  }

  /** The cooldowns in force on the server, into the mirror (SCAN: never blocks the server). */
  async #loadCooldowns(): Promise<void> {
    const prefix = `${this.#config.keyPrefix}:{`;
    const match = `${prefix}*}:cooldown:*`;
    let cursor = '0';
    try {
      do {
        const [next, keys] = await this.#timed(this.#client.scan(cursor, 'MATCH', match, 'COUNT', 500));
        cursor = next;
        if (keys.length === 0) continue;
        const pipeline = this.#client.pipeline();
        for (const key of keys) pipeline.get(key);
        const values = (await this.#timed(pipeline.exec())) ?? [];
        keys.forEach((key, i) => {
          const until = Number(values[i]?.[1]);
          const parsed = parseCooldownKey(key, prefix);
          if (parsed && Number.isFinite(until)) this.#mirror.cool(parsed.kind, parsed.instance, parsed.deployment, until);
        });
      } while (cursor !== '0' && !this.#closed);
    } catch (err) {
      this.#failed(err);
    }
  }
}

/** `<prefix>:{<kind>:<instance>}:cooldown:<n>` (instance names hold no braces). */
function parseCooldownKey(key: string, prefix: string): { kind: ProviderKind; instance: string; deployment: number } | undefined {
  const close = key.indexOf('}:cooldown:', prefix.length);
  if (!key.startsWith(prefix) || close < 0) return undefined;
  const tag = key.slice(prefix.length, close);
  const colon = tag.indexOf(':');
  const deployment = Number(key.slice(close + '}:cooldown:'.length));
  if (colon < 0 || !Number.isInteger(deployment)) return undefined;
  return { kind: tag.slice(0, colon) as ProviderKind, instance: tag.slice(colon + 1), deployment };
}

class RedisTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** A budget counted on the server; while Redis is away, this process's memory budget stands in. */
class RedisBudget implements RateBudget {
  /** Entries recorded on Redis, with their ids (the others came from the memory budget). */
  readonly #ids = new WeakMap<BudgetEntry, string>();
  readonly #keys: [string, string, string, string];

  constructor(
    private readonly store: RedisLink,
    private readonly key: string,
    readonly perMinute: number,
  ) {
    this.#keys = [key, `${key}:units`, `${key}:est`, `${key}:spent`];
  }

  async take(units: number, signal: AbortSignal, maxWaitMs: number, estimate = false): Promise<BudgetEntry> {
    const amount = finiteUnits(units);
    const giveUpAt = Date.now() + Math.max(0, maxWaitMs);
    for (let waited = false; ; waited = true) {
      if (signal.aborted) throw abortErrorOf(signal);
      const id = this.store.nextId();
      const answer = await this.store.run((c) =>
        c.hushTake(...this.#keys, id, String(amount), String(this.perMinute), estimate ? 1 : 0, WINDOW_MS, KEY_TTL_MS),
      );
      if (answer === undefined) {
        const entry = await this.store.memoryBudget(this.key, this.perMinute).take(amount, signal, Math.max(0, giveUpAt - Date.now()), estimate);
        if (waited && !entry.waited) (entry as { waited: boolean }).waited = true;
        return entry;
      }
      const [granted, at, waitMs, unsettled] = answer.map(Number) as [number, number, number, number];
      if (granted === 1) {
        const entry: BudgetEntry = { at, units: amount, waited };
        this.#ids.set(entry, id);
        return entry;
      }
      const left = giveUpAt - Date.now();
      if (left <= 0 || (waitMs > left && unsettled === 0)) throw new BudgetExceededError(waitMs);
      // Room comes when the window moves, or earlier when an estimate settles (published by the script).
      const cap = unsettled > 0 ? SETTLE_POLL_MS : Infinity;
      await this.store.sleep(this.key, Math.max(1, Math.min(waitMs, left, cap)), signal);
    }
  }

  settle(entry: BudgetEntry, actual?: number): void {
    const id = this.#ids.get(entry);
    if (id === undefined) return this.store.memoryBudget(this.key, this.perMinute).settle(entry, actual);
    this.#ids.delete(entry);
    const known = actual !== undefined && Number.isFinite(actual);
    if (known) entry.units = finiteUnits(actual);
    void this.store
      .run((c) => c.hushSettle(...this.#keys, id, known ? String(entry.units) : '', WINDOW_MS, KEY_TTL_MS, this.store.budgetChannel, this.key))
      .then((inWindow) => {
        if (inWindow === 0) entry.expired = true;
        // This process's waiters need not wait for the message to come back.
        this.store.wake(this.key);
      });
  }
}

/** Cooldowns read from this process's mirror (synchronously), written to Redis for every process. */
class RedisCooldowns implements CooldownBoard {
  constructor(
    private readonly mirror: MemoryCooldowns,
    private readonly publish: (kind: ProviderKind, instance: string, deployment: number, untilMs: number) => void,
  ) {}

  coolUntil(kind: ProviderKind, instance: string, deployment: number): number {
    return this.mirror.coolUntil(kind, instance, deployment);
  }

  cool(kind: ProviderKind, instance: string, deployment: number, untilMs: number): void {
    this.mirror.cool(kind, instance, deployment, untilMs);
    this.publish(kind, instance, deployment, untilMs);
  }
}

/** Cached values under `<prefix>:cache:<key>`, each with its TTL; this process's memory while Redis is away. */
class RedisCache implements ResultCache {
  constructor(
    private readonly store: RedisLink,
    private readonly memory: ResultCache,
    private readonly prefix: string,
  ) {}

  async getMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) return [];
    const values = await this.store.run((c) => c.mget(keys.map((key) => this.prefix + key)));
    if (values === undefined) return this.memory.getMany(keys);
    return values.map((value) => value ?? undefined);
  }

  async setMany(entries: ReadonlyArray<readonly [key: string, value: string]>, ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const done = await this.store.run(async (c) => {
      const pipeline = c.pipeline();
      for (const [key, value] of entries) pipeline.set(this.prefix + key, value, 'PX', ttl);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
      return true;
    });
    if (done === undefined) await this.memory.setMany(entries, ttlMs);
  }
}

/** A count fit for a budget: a finite number ≥ 0 (as SlidingWindowBudget counts). */
function finiteUnits(units: number): number {
  return Number.isFinite(units) && units > 0 ? units : 0;
}
