import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { REDIS_MISSING, redisServerBinary, SKIP_REDIS, startRedis, type RedisServer } from './support/redis-server.js';
import { compileLibrary, Replica } from './support/scale-out.js';

/**
 * Replicas in processes of their own, sharing one real redis-server: the rpm budget holds across
 * them, and an embedding cached by one is not sent upstream by another. Each replica is a child
 * process that boots ProvidersModule.forRoot from the compiled library.
 */

const KEY = 'sk-test-scale-out-0000';

describe.skipIf(SKIP_REDIS)('replicas on one Redis store', () => {
  let redis: RedisServer;
  let upstream: OpenAIFakeServer;
  let lib: string;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    const binary = redisServerBinary();
    if (!binary) throw new Error(REDIS_MISSING);
    [redis, upstream, lib] = await Promise.all([startRedis(binary), OpenAIFakeServer.start({ apiKey: KEY, defaultDimensions: 4 }), compileLibrary()]);
  }, 120_000);
  afterAll(async () => {
    for (const r of replicas) r.kill();
    await Promise.all([redis?.dispose(), upstream?.close()]);
  });
  beforeEach(() => upstream.reset());

  const config = (keyPrefix: string) => ({
    store: { type: 'redis', url: redis.url, keyPrefix, required: true },
    llm: { chat: { type: 'openai', baseUrl: upstream.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', rpm: 30, timeoutMs: 2_000, maxRetries: 0 } },
    embedding: {
      docs: { type: 'openai', baseUrl: upstream.baseUrl, apiKey: KEY, model: 'text-embedding-3-small', dimensions: 4, cache: { ttlMs: 60_000 } },
    },
  });

  async function start(count: number, keyPrefix: string, job: object): Promise<Replica[]> {
    const started = await Promise.all(Array.from({ length: count }, () => Replica.start(lib, config(keyPrefix), job)));
    replicas.push(...started);
    return started;
  }

  it('three processes firing 30 calls each at rpm: 30: exactly 30 reach the upstream, the others fail rate-limited', async () => {
    const three = await start(3, 'rpm-test', { chat: 'chat', calls: 30 });
    for (const r of three) r.go();
    const outcomes = (await Promise.all(three.map((r) => r.results()))).flat();
    const ok = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    expect(outcomes).toHaveLength(90);
    expect(upstream.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(30);
    expect(ok).toHaveLength(30);
    // The window frees up in about 60 s, past the 2 s deadline: refused at once, with the library's error.
    expect(new Set(refused.map((o) => o.code))).toEqual(new Set(['rate-limited']));
    expect(refused[0]!.message).toMatch(/^llm "chat" \(openai\): the rpm\/tpm budget has no room \(the budget frees up in \d+ ms\); before the deadline\.$/);
  }, 60_000);

  it('process A embeds 3 texts, then process B the same 3: the upstream sees one request', async () => {
    const texts = ['alpha', 'beta', 'gamma'];
    const [a] = await start(1, 'cache-test', { embed: 'docs', texts });
    a!.go();
    expect(await a!.results()).toEqual([{ ok: true }]);
    const [b] = await start(1, 'cache-test', { embed: 'docs', texts });
    b!.go();
    expect(await b!.results()).toEqual([{ ok: true }]);
    expect(upstream.requests.filter((r) => r.path.endsWith('/embeddings'))).toHaveLength(1);
  }, 60_000);

  it('no key or value in Redis holds the API key, a message or a text', async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      // The two tests above wrote budgets and cache entries.
      expect(keys.some((k) => k.startsWith('rpm-test:{llm:chat}:rpm'))).toBe(true);
      expect(keys.some((k) => k.startsWith('cache-test:cache:'))).toBe(true);
      const dump = [];
      for (const key of keys) {
        const type = await client.type(key);
        const value =
          type === 'string'
            ? await client.get(key)
            : type === 'hash'
              ? await client.hgetall(key)
              : type === 'set'
                ? await client.smembers(key)
                : await client.zrange(key, 0, -1);
        dump.push(key, JSON.stringify(value));
      }
      const text = dump.join('\n');
      for (const secret of [KEY, 'call 0', 'call 29', 'alpha', 'gamma']) expect(text).not.toContain(secret);
    } finally {
      client.disconnect();
    }
  });
});
