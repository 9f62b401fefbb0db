import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProvidersModule, ProvidersRegistry } from '@hush/providers';
import { STORE_CHANNEL, type StoreEvent } from '@hush/providers';
import { IOREDIS_MISSING, loadIoredis, RedisStore } from '../libs/providers/src/store/redis-store.js';
import { BudgetExceededError } from '../libs/providers/src/store/sliding-window-budget.js';
import type { RedisStoreConfig } from '../libs/providers/src/config/store-config.js';
import { freePort } from './support/local-process.js';
import { REDIS_MISSING, redisServerBinary, SKIP_REDIS, startRedis, type RedisServer } from './support/redis-server.js';
import { scriptedLLMProvider } from './support/scripted-provider.js';
import { AT_ONCE_MS } from './support/timing.js';

/**
 * The Redis store against a real redis-server (Debian's package; CI installs it in
 * scripts/ci-prepare.sh): budgets, cooldowns and caches shared by two stores as two processes would
 * share them, Redis killed and stalled under them, and bad bootstraps. Without redis-server the
 * suite fails, unless HUSH_SKIP_REDIS=1 (then it is skipped, and says so).
 */
const binary = redisServerBinary();
if (SKIP_REDIS)
  console.warn(`test/redis-store.spec.ts skipped: HUSH_SKIP_REDIS=1 (${binary ? `redis-server is at ${binary}` : 'redis-server is not installed'}).`);

const PASSWORD = 'hush-redis-pw-7f3a9c';

/** Every line a store logs, by level. */
class Lines implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log(message: unknown) {
    this.lines.push({ level: 'log', message: String(message) });
  }
  warn(message: unknown) {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  error(message: unknown) {
    this.lines.push({ level: 'error', message: String(message) });
  }
  of(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

const never = () => new AbortController().signal;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.skipIf(SKIP_REDIS)(`RedisStore on a real redis-server${SKIP_REDIS ? ' (skipped: HUSH_SKIP_REDIS=1)' : ''}`, () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisStore[] = [];
  let prefixes = 0;
  let keyPrefix = '';

  const config = (extra: Partial<RedisStoreConfig> = {}): RedisStoreConfig => ({
    type: 'redis',
    url: server.url,
    keyPrefix,
    required: false,
    timeoutMs: 250,
    ...extra,
  });
  const open = async (extra: Partial<RedisStoreConfig> = {}, logger: LoggerService = new Lines()) => {
    const store = await RedisStore.connect(config(extra), logger);
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    if (!binary) throw new Error(REDIS_MISSING);
    server = await startRedis(binary);
    raw = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await raw.connect();
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.dispose();
  });
  beforeEach(() => {
    // Each test has keys of its own.
    keyPrefix = `t${++prefixes}`;
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  describe('budgets', () => {
    it('are atomic across processes: 2 stores × 20 takes at once on perMinute 10 grant exactly 10', async () => {
      const [a, b] = [await open(), await open()];
      const owner = { kind: 'llm' as const, instance: 'chat', unit: 'rpm' as const };
      const budgets = [a.budget(owner, 10), b.budget(owner, 10)];
      const outcomes = await Promise.allSettled(budgets.flatMap((budget) => Array.from({ length: 20 }, () => budget.take(1, never(), 0))));
      const granted = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as Error);
      expect(granted).toHaveLength(10);
      expect(refused).toHaveLength(30);
      for (const err of refused) {
        expect(err).toBeInstanceOf(BudgetExceededError);
        expect(err.message).toMatch(/^the budget frees up in \d+ ms$/);
        // The oldest entry leaves the window a minute after it came in.
        expect((err as BudgetExceededError).waitMs).toBeGreaterThan(55_000);
        expect((err as BudgetExceededError).waitMs).toBeLessThanOrEqual(60_000);
      }
      expect(a.fallbacks + b.fallbacks).toBe(0);
    });

    it('keeps its keys under one hash tag, expiring a little after the window, holding ids and counts only', async () => {
      const store = await open();
      await store.budget({ kind: 'embedding', instance: 'docs', unit: 'tpm' }, 100).take(40, never(), 0, true);
      const keys = (await raw.keys(`${keyPrefix}:*`)).sort();
      expect(keys).toEqual([
        `${keyPrefix}:{embedding:docs}:tpm`,
        `${keyPrefix}:{embedding:docs}:tpm:est`,
        `${keyPrefix}:{embedding:docs}:tpm:spent`,
        `${keyPrefix}:{embedding:docs}:tpm:units`,
      ]);
      for (const key of keys) {
        const ttl = await raw.pttl(key);
        expect(ttl).toBeGreaterThan(55_000);
        expect(ttl).toBeLessThanOrEqual(61_000);
      }
      expect(await raw.get(`${keyPrefix}:{embedding:docs}:tpm:spent`)).toBe('40');
      expect(Object.values(await raw.hgetall(`${keyPrefix}:{embedding:docs}:tpm:units`))).toEqual(['40']);
    });

    it('settle corrects a tpm estimate for every process, and wakes a take waiting in another one', async () => {
      const [a, b] = [await open(), await open()];
      const owner = { kind: 'llm' as const, instance: 'chat', unit: 'tpm' as const };
      const [ta, tb] = [a.budget(owner, 100), b.budget(owner, 100)];
      const estimate = await ta.take(80, never(), 0, true);
      expect(estimate).toMatchObject({ units: 80, waited: false });
      // No room now, and the window frees none before 60 s: only the estimate can make room.
      await expect(tb.take(30, never(), 0)).rejects.toThrow(BudgetExceededError);
      const started = performance.now();
      const waiting = tb.take(30, never(), 20_000);
      await new Promise((r) => setTimeout(r, 100));
      ta.settle(estimate, 20);
      expect(estimate.units).toBe(20);
      await expect(waiting).resolves.toMatchObject({ units: 30, waited: true });
      expect(performance.now() - started).toBeLessThan(100 + AT_ONCE_MS);
      // 20 + 30 spent: 50 more fit, then nothing.
      await expect(ta.take(50, never(), 0)).resolves.toMatchObject({ units: 50 });
      await expect(tb.take(1, never(), 0)).rejects.toThrow(/^the budget frees up in \d+ ms$/);
      expect(await raw.get(`${keyPrefix}:{llm:chat}:tpm:spent`)).toBe('100');
    });

    it('lets a request larger than the whole budget into an empty window', async () => {
      const store = await open();
      const tpm = store.budget({ kind: 'llm', instance: 'big', unit: 'tpm' }, 100);
      await expect(tpm.take(250, never(), 0)).resolves.toMatchObject({ units: 250, waited: false });
      await expect(tpm.take(1, never(), 0)).rejects.toThrow(BudgetExceededError);
    });

    it('gives up at once when no estimate is out and the window frees nothing in time', async () => {
      const store = await open();
      const rpm = store.budget({ kind: 'llm', instance: 'chat', unit: 'rpm' }, 1);
      await rpm.take(1, never(), 0);
      const started = performance.now();
      // Waiting 30 s could not help (the window frees up in about 60 s): refused at once.
      await expect(rpm.take(1, never(), 30_000)).rejects.toThrow(/^the budget frees up in \d+ ms$/);
      expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);
    });

    it('waits while an estimate is out, up to maxWait, then gives up', async () => {
      const store = await open();
      const tpm = store.budget({ kind: 'llm', instance: 'chat', unit: 'tpm' }, 10);
      await tpm.take(10, never(), 0, true);
      const started = performance.now();
      await expect(tpm.take(5, never(), 400)).rejects.toThrow(BudgetExceededError);
      expect(performance.now() - started).toBeGreaterThanOrEqual(390);
      expect(performance.now() - started).toBeLessThan(400 + AT_ONCE_MS);
    });

    it('stops waiting when the signal aborts', async () => {
      const store = await open();
      const tpm = store.budget({ kind: 'llm', instance: 'chat', unit: 'tpm' }, 10);
      await tpm.take(10, never(), 0, true);
      const controller = new AbortController();
      const waiting = tpm.take(5, controller.signal, 30_000);
      setTimeout(() => controller.abort(), 50);
      await expect(waiting).rejects.toMatchObject({ name: 'AbortError', message: 'The operation was aborted' });
    });
  });

  describe('cooldowns', () => {
    it('a cooldown set by one store is seen by another within 100 ms, and by a store that connects later', async () => {
      const [a, b] = [await open(), await open()];
      const untilMs = Date.now() + 30_000;
      const started = performance.now();
      a.cooldowns.cool('llm', 'chat:eu', 1, untilMs);
      expect(a.cooldowns.coolUntil('llm', 'chat:eu', 1)).toBe(untilMs);
      await until(() => b.cooldowns.coolUntil('llm', 'chat:eu', 1) === untilMs, 'the cooldown in the other store', 2_000);
      expect(performance.now() - started).toBeLessThan(100);
      expect(b.cooldowns.coolUntil('llm', 'chat:eu', 0)).toBe(0);

      const key = `${keyPrefix}:{llm:chat:eu}:cooldown:1`;
      expect(await raw.get(key)).toBe(String(untilMs));
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);

      const later = await open();
      expect(later.cooldowns.coolUntil('llm', 'chat:eu', 1)).toBe(untilMs);
    });

    it('only lengthens a cooldown', async () => {
      const [a, b] = [await open(), await open()];
      const long = Date.now() + 30_000;
      a.cooldowns.cool('reranker', 'rr', 0, long);
      await until(() => b.cooldowns.coolUntil('reranker', 'rr', 0) === long, 'the long cooldown');
      b.cooldowns.cool('reranker', 'rr', 0, long - 10_000);
      expect(b.cooldowns.coolUntil('reranker', 'rr', 0)).toBe(long);
      await new Promise((r) => setTimeout(r, 100));
      expect(await raw.get(`${keyPrefix}:{reranker:rr}:cooldown:0`)).toBe(String(long));
    });
  });

  describe('cache', () => {
    it('shares values under <prefix>:cache:<key> until their TTL ends', async () => {
      const [a, b] = [await open(), await open()];
      await a.cache.setMany(
        [
          ['k1', 'v1'],
          ['k2', 'v2'],
        ],
        300,
      );
      expect(await b.cache.getMany(['k1', 'missing', 'k2'])).toEqual(['v1', undefined, 'v2']);
      expect(await raw.get(`${keyPrefix}:cache:k1`)).toBe('v1');
      expect(await raw.pttl(`${keyPrefix}:cache:k1`)).toBeLessThanOrEqual(300);
      await until(async () => (await b.cache.getMany(['k1']))[0] === undefined, 'the expiry', 5_000);
      expect(await raw.exists(`${keyPrefix}:cache:k1`, `${keyPrefix}:cache:k2`)).toBe(0);
      expect(await a.cache.getMany([])).toEqual([]);
    });
  });

  describe('through ProvidersModule.forRoot', () => {
    const modules: TestingModule[] = [];
    afterEach(async () => {
      await Promise.all(modules.splice(0).map((m) => m.close()));
    });

    it('store: { type: redis } makes two apps share one rpm budget', async () => {
      const scripted = [scriptedLLMProvider(), scriptedLLMProvider()];
      const app = async ({ definition }: (typeof scripted)[number]) => {
        const module = await Test.createTestingModule({
          imports: [
            ProvidersModule.forRoot({
              configPath: [],
              env: {},
              config: {
                store: { type: 'redis', url: server.url, keyPrefix },
                llm: { chat: { type: 'scripted', model: 'm', rpm: 2, timeoutMs: 3_000 } },
              } as never,
              providers: [definition],
            }),
          ],
        }).compile();
        module.useLogger(false);
        modules.push(module);
        return module.get(ProvidersRegistry);
      };
      const [one, two] = [await app(scripted[0]!), await app(scripted[1]!)];
      const user = [{ role: 'user' as const, content: 'hi' }];
      await one.llm('chat').generate(user);
      await two.llm('chat').generate(user);
      const error = await one
        .llm('chat')
        .generate(user)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'rate-limited' });
      expect((error as Error).message).toMatch(
        /^llm "chat" \(scripted\): the rpm\/tpm budget has no room \(the budget frees up in \d+ ms\); before the deadline\.$/,
      );
      expect(scripted.map((s) => s.drivers.get('chat')!.calls.length)).toEqual([1, 1]);
      expect(await raw.zcard(`${keyPrefix}:{llm:chat}:rpm`)).toBe(2);
    });
  });

  it('loads ioredis only when asked, and says what to install when it is missing', async () => {
    const missing = Object.assign(new Error("Cannot find package 'ioredis'"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(loadIoredis(() => Promise.reject(missing))).rejects.toThrow(
      /^The ioredis package is missing: install ioredis to use store type redis \(npm install ioredis\)\.$/,
    );
    expect(IOREDIS_MISSING).toBe('The ioredis package is missing: install ioredis to use store type redis (npm install ioredis).');
    await expect(loadIoredis()).resolves.toBe(Redis);
  });
});

describe.skipIf(SKIP_REDIS)(`RedisStore when Redis fails${SKIP_REDIS ? ' (skipped: HUSH_SKIP_REDIS=1)' : ''}`, () => {
  let server: RedisServer | undefined;
  const stores: RedisStore[] = [];
  const events: StoreEvent[] = [];
  const onEvent = (event: unknown) => events.push(event as StoreEvent);

  beforeAll(() => {
    if (!binary) throw new Error(REDIS_MISSING);
    subscribe(STORE_CHANNEL, onEvent);
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await server?.dispose();
    server = undefined;
    events.length = 0;
  });
  afterAll(() => unsubscribe(STORE_CHANNEL, onEvent));

  const open = async (url: string, extra: Partial<RedisStoreConfig> = {}) => {
    const logger = new Lines();
    const store = await RedisStore.connect({ type: 'redis', url, keyPrefix: 'f', required: false, timeoutMs: 200, ...extra }, logger);
    stores.push(store);
    return { store, logger };
  };

  it('Redis killed mid-run: every operation goes on from memory, one warning; restarted: shared again', async () => {
    server = await startRedis(binary!);
    const a = await open(server.url);
    const b = await open(server.url);
    const owner = { kind: 'llm' as const, instance: 'chat', unit: 'rpm' as const };
    await a.store.budget(owner, 3).take(1, never(), 0);

    await server.kill();
    await until(() => !a.store.available && !b.store.available, 'both stores noticing the outage');
    const started = performance.now();
    const rpm = a.store.budget(owner, 3);
    // Memory now: this process's own window, empty.
    await expect(rpm.take(1, never(), 0)).resolves.toMatchObject({ units: 1, waited: false });
    await rpm.take(1, never(), 0);
    await rpm.take(1, never(), 0);
    await expect(rpm.take(1, never(), 0)).rejects.toThrow(BudgetExceededError);
    const tpm = a.store.budget({ kind: 'llm', instance: 'chat', unit: 'tpm' }, 10);
    const estimate = await tpm.take(10, never(), 0, true);
    tpm.settle(estimate, 4);
    await expect(tpm.take(6, never(), 0)).resolves.toMatchObject({ units: 6 });
    await a.store.cache.setMany([['k', 'v']], 60_000);
    expect(await a.store.cache.getMany(['k', 'other'])).toEqual(['v', undefined]);
    const untilMs = Date.now() + 30_000;
    a.store.cooldowns.cool('llm', 'chat', 0, untilMs);
    expect(a.store.cooldowns.coolUntil('llm', 'chat', 0)).toBe(untilMs);
    // From memory at once: nothing waited for Redis's timeout.
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);

    const address = `127.0.0.1:${server.port}`;
    expect(a.logger.of('warn')).toEqual([`Redis at ${address} is unavailable (connection lost): using this process's memory until it answers`]);
    expect(a.store.fallbacks).toBeGreaterThanOrEqual(9);
    expect(a.store.outages).toBe(1);
    expect(events.filter((e) => e.state === 'unavailable')).toEqual([
      { store: 'redis', address, state: 'unavailable', reason: 'connection lost' },
      { store: 'redis', address, state: 'unavailable', reason: 'connection lost' },
    ]);

    await server.restart();
    await until(() => a.store.available && b.store.available, 'both stores back on Redis', 15_000);
    expect(a.logger.of('warn')).toHaveLength(1);
    expect(a.logger.of('log')).toEqual([`Redis at ${address} answers again: budgets, cooldowns and caches are shared again`]);
    expect(events.filter((e) => e.state === 'available')).toHaveLength(2);
    // Shared again (the restarted server is empty): 3 between the two stores.
    const shared = [a.store.budget(owner, 3), b.store.budget(owner, 3)];
    await shared[0]!.take(1, never(), 0);
    await shared[1]!.take(1, never(), 0);
    await shared[0]!.take(1, never(), 0);
    await expect(shared[1]!.take(1, never(), 0)).rejects.toThrow(BudgetExceededError);
    const later = Date.now() + 20_000;
    a.store.cooldowns.cool('embedding', 'docs', 2, later);
    await until(() => b.store.cooldowns.coolUntil('embedding', 'docs', 2) === later, 'the cooldown after the restart', 2_000);
  });

  it('a stalled Redis costs one timeout, then memory answers until Redis answers again', async () => {
    server = await startRedis(binary!);
    const { store, logger } = await open(server.url);
    await store.cache.setMany([['k', 'shared']], 60_000);
    server.pause();
    try {
      const started = performance.now();
      expect(await store.cache.getMany(['k'])).toEqual([undefined]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      expect(store.available).toBe(false);
      // The next ones skip Redis.
      const next = performance.now();
      await store.cache.setMany([['k', 'local']], 60_000);
      expect(await store.cache.getMany(['k'])).toEqual(['local']);
      expect(performance.now() - next).toBeLessThan(150);
      expect(logger.of('warn')).toEqual([
        `Redis at 127.0.0.1:${server.port} is unavailable (no answer within 200 ms): using this process's memory until it answers`,
      ]);
    } finally {
      server.resume();
    }
    await until(() => store.available, 'the store back on Redis', 10_000);
    expect(await store.cache.getMany(['k'])).toEqual(['shared']);
  });

  it('a wrong password with required: true stops the bootstrap, saying so without the password', async () => {
    server = await startRedis(binary!, { password: PASSWORD });
    const url = `redis://:wrong-${PASSWORD}@127.0.0.1:${server.port}`;
    const logger = new Lines();
    const error = await RedisStore.connect({ type: 'redis', url, keyPrefix: 'f', required: true, timeoutMs: 200 }, logger).catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe(
      `store: Redis at 127.0.0.1:${server.port} is unavailable (wrong password); store.required is true, so the providers do not start without it ` +
        "(required: false runs on this process's memory until Redis answers).",
    );
    expect(logger.lines).toEqual([]);
  });

  it('no password where one is needed, with required: true: says a password is required', async () => {
    server = await startRedis(binary!, { password: PASSWORD });
    const error = await RedisStore.connect(
      { type: 'redis', url: `redis://127.0.0.1:${server.port}`, keyPrefix: 'f', required: true, timeoutMs: 200 },
      new Lines(),
    ).catch((e: unknown) => e as Error);
    expect((error as Error).message).toMatch(
      new RegExp(`^store: Redis at 127\\.0\\.0\\.1:${server.port} is unavailable \\(a password is required\\); store\\.required is true`),
    );
  });

  it('a wrong password with required: false: one warning, however often the reconnects are refused, and memory answers', async () => {
    server = await startRedis(binary!, { password: PASSWORD });
    const { store, logger } = await open(`redis://:not-${PASSWORD}@127.0.0.1:${server.port}`);
    expect(store.available).toBe(false);
    expect(logger.of('warn')).toEqual([`Redis at 127.0.0.1:${server.port} is unavailable (wrong password): using this process's memory until it answers`]);
    const rpm = store.budget({ kind: 'llm', instance: 'chat', unit: 'rpm' }, 1);
    await expect(rpm.take(1, never(), 0)).resolves.toMatchObject({ units: 1 });
    await expect(rpm.take(1, never(), 0)).rejects.toThrow(BudgetExceededError);
    await store.cache.setMany([['k', 'v']], 60_000);
    expect(await store.cache.getMany(['k'])).toEqual(['v']);
    // Still refused on every reconnect: still one warning.
    await new Promise((r) => setTimeout(r, 500));
    expect(logger.of('warn')).toHaveLength(1);
    expect(JSON.stringify(logger.lines)).not.toContain(PASSWORD);
  });

  it('an unreachable Redis: required: true refuses to start, required: false warns and runs on memory', async () => {
    const port = await freePort();
    const url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const error = await RedisStore.connect({ type: 'redis', url, keyPrefix: 'f', required: true, timeoutMs: 200 }, new Lines()).catch(
      (e: unknown) => e as Error,
    );
    expect((error as Error).message).toBe(
      `store: Redis at 127.0.0.1:${port} is unavailable (connection refused); store.required is true, so the providers do not start without it ` +
        "(required: false runs on this process's memory until Redis answers).",
    );
    expect(JSON.stringify(error)).not.toContain(PASSWORD);
    expect(String((error as Error).stack)).not.toContain(PASSWORD);

    const { store, logger } = await open(url);
    expect(logger.of('warn')).toEqual([`Redis at 127.0.0.1:${port} is unavailable (connection refused): using this process's memory until it answers`]);
    expect(store.outages).toBe(1);
    await expect(store.budget({ kind: 'reranker', instance: 'rr', unit: 'rpm' }, 5).take(1, never(), 0)).resolves.toMatchObject({ units: 1 });
    expect(store.fallbacks).toBe(1);
    expect(JSON.stringify(logger.lines)).not.toContain(PASSWORD);
  });

  it('the bootstrap through ProvidersModule.forRoot fails with the same message when required', async () => {
    const port = await freePort();
    const { definition } = scriptedLLMProvider();
    const error = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          config: {
            store: { type: 'redis', url: `redis://:${PASSWORD}@127.0.0.1:${port}`, required: true },
            llm: { chat: { type: 'scripted', model: 'm' } },
          } as never,
          providers: [definition],
        }),
      ],
    })
      .compile()
      .catch((e: unknown) => e as Error);
    expect((error as Error).message).toContain(`store: Redis at 127.0.0.1:${port} is unavailable (connection refused); store.required is true`);
    expect((error as Error).message).not.toContain(PASSWORD);
  });
});
