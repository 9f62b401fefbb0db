import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheStatus, ProvidersModule, ProvidersRegistry, STORE_CHANNEL, type StoreEvent } from '@hush/providers';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { REDIS_MISSING, redisServerBinary, SKIP_REDIS, startRedis, type RedisServer } from './support/redis-server.js';

/**
 * Calls through ProvidersModule while the shared Redis dies and comes back: no call fails, each app
 * holds its budgets and cache in its own memory meanwhile, and once Redis answers again two apps
 * share one budget again.
 */

const KEY = 'sk-test-redis-outage-0000';
const user = [{ role: 'user' as const, content: 'hello there' }];

describe.skipIf(SKIP_REDIS)('a Redis outage under load', () => {
  let redis: RedisServer;
  let upstream: OpenAIFakeServer;
  const modules: TestingModule[] = [];
  const events: StoreEvent[] = [];
  const onEvent = (event: unknown) => void events.push(event as StoreEvent);

  beforeAll(async () => {
    const binary = redisServerBinary();
    if (!binary) throw new Error(REDIS_MISSING);
    [redis, upstream] = await Promise.all([startRedis(binary), OpenAIFakeServer.start({ apiKey: KEY, defaultDimensions: 4 })]);
    subscribe(STORE_CHANNEL, onEvent);
  });
  afterAll(async () => {
    unsubscribe(STORE_CHANNEL, onEvent);
    for (const m of modules) await m.close();
    await Promise.all([redis?.dispose(), upstream?.close()]);
  });

  async function app(): Promise<ProvidersRegistry> {
    const config = {
      store: { type: 'redis', url: redis.url, keyPrefix: 'outage', timeoutMs: 100 },
      llm: {
        chat: { type: 'openai', baseUrl: upstream.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', rpm: 4, tpm: 100_000, timeoutMs: 1_000, maxRetries: 0 },
      },
      embedding: { docs: { type: 'openai', baseUrl: upstream.baseUrl, apiKey: KEY, model: 'text-embedding-3-small', dimensions: 4, cache: { ttlMs: 60_000 } } },
    };
    const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config })] }).compile();
    module.useLogger(false);
    modules.push(module);
    return module.get(ProvidersRegistry);
  }

  const until = async (what: () => boolean, ms: number) => {
    const deadline = performance.now() + ms;
    while (!what()) {
      if (performance.now() > deadline) throw new Error(`not within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('kill Redis: every call goes on (budgets and cache in memory); restart it: two apps share one budget again', async () => {
    const a = await app();
    const b = await app();
    // Before: the budget is shared (rpm 4: A takes 2, B 2, the fifth call is refused).
    await a.llm('chat').generate(user);
    await a.llm('chat').generate(user);
    await b.llm('chat').generate(user);
    await b.llm('chat').generate(user);
    await expect(a.llm('chat').generate(user)).rejects.toMatchObject({ code: 'rate-limited' });
    expect(cacheStatus(await a.embedder('docs').embed(['one', 'two']))).toBe('miss');

    await redis.kill();
    // Each app now holds rpm 4 on its own, from an empty window: four calls each succeed.
    const started = performance.now();
    const during = await Promise.allSettled([
      ...Array.from({ length: 4 }, () => a.llm('chat').generate(user)),
      ...Array.from({ length: 4 }, () => b.llm('chat').generate(user)),
    ]);
    expect(during.map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    // Cached in A's memory from now on: a miss once, then a hit, with Redis down.
    expect(cacheStatus(await a.embedder('docs').embed(['three']))).toBe('miss');
    expect(cacheStatus(await a.embedder('docs').embed(['three']))).toBe('hit');
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(events.filter((e) => e.state === 'unavailable').length).toBeGreaterThanOrEqual(2);

    await redis.restart();
    await until(() => events.filter((e) => e.state === 'available').length >= 2, 10_000);
    // Shared again, on the restarted (empty) server: 4 calls between the two apps, then refused.
    await a.llm('chat').generate(user);
    await b.llm('chat').generate(user);
    await a.llm('chat').generate(user);
    await b.llm('chat').generate(user);
    await expect(b.llm('chat').generate(user)).rejects.toMatchObject({ code: 'rate-limited' });
    expect(events.every((e) => !JSON.stringify(e).includes('redis://'))).toBe(true);
  }, 40_000);
});
