import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Test, type TestingModule } from '@nestjs/testing';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cacheStatus,
  PROVIDER_CALL_CHANNEL,
  ProvidersModule,
  ProvidersRegistry,
  type CallEvent,
  type ChatCompletionChunk,
  type ProvidersModuleOptions,
} from '@hush/providers';
import { MemoryCache } from '../libs/providers/src/store/memory-store.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { RerankFakeServer } from './fakes/rerank-fake-servers.js';
import { OtelHarness } from './support/otel.js';
import { AT_ONCE_MS } from './support/timing.js';

/**
 * Caches of answers (`cache: { ttlMs }` on an instance), through the public API over real HTTP fakes
 * on 127.0.0.1: embeddings per text, completions and streams per request, rerank scores per query and
 * documents; what a hit spends (nothing), how callers and telemetry tell a hit, and what keys hold.
 */

const KEY = 'sk-test-cache-secret-0000';

let otel: OtelHarness;
let openai: OpenAIFakeServer;
let cohere: RerankFakeServer;
let module: TestingModule | undefined;
const events: CallEvent[] = [];
const onCall = (event: unknown) => void events.push(event as CallEvent);

beforeAll(async () => {
  otel = OtelHarness.install();
  [openai, cohere] = await Promise.all([OpenAIFakeServer.start({ apiKey: KEY }), RerankFakeServer.start('cohere', { apiKey: KEY })]);
  subscribe(PROVIDER_CALL_CHANNEL, onCall);
});
afterAll(async () => {
  unsubscribe(PROVIDER_CALL_CHANNEL, onCall);
  await Promise.all([openai.close(), cohere.close()]);
  await otel.uninstall();
});
beforeEach(() => {
  otel.reset();
  events.length = 0;
  openai.reset();
  cohere.reset();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await module?.close();
  module = undefined;
});

const HOUR = 3_600_000;

function config(): ProvidersModuleOptions['config'] {
  const llm = { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', maxRetries: 0, pricing: { inputPerMTok: 2, outputPerMTok: 8 } };
  const embedder = { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'text-embedding-3-small', dimensions: 8, pricing: { inputPerMTok: 1 } };
  return {
    llm: {
      cached: { ...llm, cache: { ttlMs: HOUR } },
      plain: llm,
      budgeted: { ...llm, rpm: 1, timeoutMs: 2_000, cache: { ttlMs: HOUR } },
      brief: { ...llm, cache: { ttlMs: 150 } },
    },
    embedding: {
      docs: { ...embedder, cache: { ttlMs: HOUR } },
      uncached: embedder,
      short: { ...embedder, cache: { ttlMs: 150 } },
      budgeted: { ...embedder, rpm: 1, timeoutMs: 2_000, cache: { ttlMs: HOUR } },
    },
    reranker: {
      ranker: { type: 'cohere', baseUrl: cohere.baseUrl, apiKey: KEY, model: 'rerank-v3.5', pricing: { perSearch: 0.002 }, cache: { ttlMs: HOUR } },
      plainRanker: { type: 'cohere', baseUrl: cohere.baseUrl, apiKey: KEY, model: 'rerank-v3.5' },
    },
  };
}

async function boot(): Promise<ProvidersRegistry> {
  module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: config() })],
  }).compile();
  module.useLogger(false);
  return module.get(ProvidersRegistry);
}

const user = (text: string) => [{ role: 'user' as const, content: text }];
const texts = Array.from({ length: 100 }, (_, i) => `passage number ${i} about topic ${i % 7}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function callSpans(): ReadableSpan[] {
  return otel.spans().filter((s) => s.attributes['hush.call'] !== undefined);
}

function embeddingRequests(): string[][] {
  return openai.requests.filter((r) => r.pathname === '/v1/embeddings').map((r) => r.body.input as string[]);
}

describe('embeddings, cached per text', () => {
  it('sends only the texts not cached, in their order, and returns every vector in input order', async () => {
    const registry = await boot();
    const docs = registry.embedder('docs');
    const cachedIndexes = texts.map((_, i) => i).filter((i) => i % 5 < 3);
    expect(cachedIndexes).toHaveLength(60);
    const first = await docs.embed(cachedIndexes.map((i) => texts[i]!));
    expect(cacheStatus(first)).toBe('miss');
    openai.reset();
    events.length = 0;

    const result = await docs.embed(texts);
    const others = texts.filter((_, i) => i % 5 >= 3);
    expect(embeddingRequests()).toEqual([others]);
    expect(cacheStatus(result)).toBe('partial');
    // Usage and cost count only the 40 texts sent (6 words each at the fake).
    expect(result.usage).toEqual({ promptTokens: 240, totalTokens: 240 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ usage: { input: 240, output: 0 }, cache: 'partial' });
    expect(events[0]!.costUsd).toBeCloseTo(240 / 1e6);

    // Equal, in each form, to what an instance without a cache returns.
    const plain = registry.embedder('uncached');
    expect(result.embeddings).toEqual((await plain.embed(texts)).embeddings);
    const asFloat32 = await docs.embed(texts, { vectors: 'float32' });
    expect(asFloat32.embeddings[0]).toBeInstanceOf(Float32Array);
    expect(asFloat32.embeddings).toEqual((await plain.embed(texts, { vectors: 'float32' })).embeddings);
    const asBase64 = await docs.embed(texts, { vectors: 'base64' });
    expect(asBase64.embeddings).toEqual((await plain.embed(texts, { vectors: 'base64' })).embeddings);
    expect(asBase64.dimensions).toBe(8);
  });

  it('answers a call whose texts are all cached without any request, at no cost', async () => {
    const registry = await boot();
    const docs = registry.embedder('docs');
    const first = await docs.embed(texts.slice(0, 3));
    openai.reset();
    events.length = 0;
    const again = await docs.embed(texts.slice(0, 3));
    expect(embeddingRequests()).toEqual([]);
    expect(cacheStatus(again)).toBe('hit');
    expect(again.embeddings).toEqual(first.embeddings);
    expect(again.usage).toEqual({ promptTokens: 0, totalTokens: 0 });
    expect(events[0]).toMatchObject({ cache: 'hit', costUsd: 0, usage: { input: 0, output: 0 }, attempts: 0, outcome: 'ok' });
    expect(callSpans().at(-1)!.attributes).toMatchObject({ 'hush.cache': 'hit', 'hush.cost_usd': 0, 'hush.attempts': 0 });
  });

  it('keys by input type and dimensions: another mode or size is another entry', async () => {
    const docs = (await boot()).embedder('docs');
    await docs.embed(['one text'], { inputType: 'query' });
    await docs.embed(['one text'], { inputType: 'query' });
    await docs.embed(['one text'], { inputType: 'document' });
    await docs.embed(['one text']);
    expect(embeddingRequests()).toHaveLength(3);
  });

  it('sends a text again once its entry has outlived ttlMs', async () => {
    const short = (await boot()).embedder('short');
    await short.embed(['fleeting']);
    expect(cacheStatus(await short.embed(['fleeting']))).toBe('hit');
    await sleep(250);
    expect(cacheStatus(await short.embed(['fleeting']))).toBe('miss');
    expect(embeddingRequests()).toEqual([['fleeting'], ['fleeting']]);
  });

  it('takes nothing from the rpm budget on a hit', async () => {
    const budgeted = (await boot()).embedder('budgeted');
    await budgeted.embed(['a', 'b']);
    for (let i = 0; i < 5; i++) expect(cacheStatus(await budgeted.embed(['b', 'a']))).toBe('hit');
    // The one request of the minute was the first call's: a text not cached has to wait for room.
    await expect(budgeted.embed(['c'], { timeoutMs: 300 })).rejects.toMatchObject({ code: 'rate-limited' });
    expect(embeddingRequests()).toEqual([['a', 'b']]);
  });
});

describe('completions, cached when the LLM has cache:', () => {
  it('answers the same request from the cache: no upstream request, cost 0 in the call event and span', async () => {
    const cached = (await boot()).llm('cached');
    const first = await cached.generate(user('hello cache'), { temperature: 0.7 });
    expect(cacheStatus(first)).toBe('miss');
    expect(events[0]).toMatchObject({ cache: 'miss', usage: { input: 2, output: 3 } });
    expect(events[0]!.costUsd).toBeGreaterThan(0);

    const again = await cached.generate(user('hello cache'), { temperature: 0.7 });
    expect(openai.requests).toHaveLength(1);
    expect(cacheStatus(again)).toBe('hit');
    expect(again).toEqual(first);
    expect(events[1]).toMatchObject({ cache: 'hit', costUsd: 0, usage: { input: 0, output: 0 }, attempts: 0, outcome: 'ok' });
    const span = callSpans()[1]!;
    expect(span.attributes['hush.cache']).toBe('hit');
    expect(span.attributes['hush.cost_usd']).toBe(0);
    expect(span.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('keys by the whole request: other messages, another temperature or n are other entries', async () => {
    const cached = (await boot()).llm('cached');
    await cached.generate(user('one'), { temperature: 0.7 });
    await cached.generate(user('one'), { temperature: 0.2 });
    await cached.generate(user('one'), { temperature: 0.2, n: 2 });
    await cached.generate(user('two'), { temperature: 0.2 });
    await cached.generate([{ role: 'system', content: 'be brief' }, ...user('two')], { temperature: 0.2 });
    expect(openai.requests).toHaveLength(5);
    // Parameters in another order are the same request.
    const hit = await cached.generate(user('one'), { n: 2, temperature: 0.2 });
    expect(cacheStatus(hit)).toBe('hit');
    expect(openai.requests).toHaveLength(5);
  });

  it('generateBatch goes through the cache per conversation', async () => {
    const cached = (await boot()).llm('cached');
    await cached.generate(user('first'));
    const answers = await cached.generateBatch([user('first'), user('second')]);
    expect(answers.map((a) => cacheStatus(a))).toEqual(['hit', 'miss']);
    expect(openai.requests.map((r) => r.body.messages[0].content)).toEqual(['first', 'second']);
  });

  it('spends no rpm budget on hits', async () => {
    const budgeted = (await boot()).llm('budgeted');
    await budgeted.generate(user('budget'));
    const started = performance.now();
    for (let i = 0; i < 5; i++) expect(cacheStatus(await budgeted.generate(user('budget')))).toBe('hit');
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);
    await expect(budgeted.generate(user('not cached'), { timeoutMs: 300 })).rejects.toMatchObject({ code: 'rate-limited' });
    expect(openai.requests).toHaveLength(1);
  });

  it('calls the upstream again once the entry has outlived ttlMs', async () => {
    const brief = (await boot()).llm('brief');
    await brief.generate(user('soon gone'));
    expect(cacheStatus(await brief.generate(user('soon gone')))).toBe('hit');
    await sleep(250);
    expect(cacheStatus(await brief.generate(user('soon gone')))).toBe('miss');
    expect(openai.requests).toHaveLength(2);
  });

  it('never caches on an instance without cache:', async () => {
    const registry = await boot();
    const plain = registry.llm('plain');
    const a = await plain.generate(user('same'));
    const b = await plain.generate(user('same'));
    expect(openai.requests).toHaveLength(2);
    expect(cacheStatus(a)).toBeUndefined();
    expect(cacheStatus(b)).toBeUndefined();
    expect(events.every((e) => e.cache === undefined)).toBe(true);
    const embedder = registry.embedder('uncached');
    const v = await embedder.embed(['x']);
    await embedder.embed(['x']);
    expect(cacheStatus(v)).toBeUndefined();
    expect(embeddingRequests()).toHaveLength(2);
    const ranked = await registry.reranker('plainRanker').rerank('q', ['d']);
    await registry.reranker('plainRanker').rerank('q', ['d']);
    expect(cacheStatus(ranked)).toBeUndefined();
    expect(cohere.requests).toHaveLength(2);
  });
});

describe('streams', () => {
  it('stores a completed stream and replays the same chunks, in order, without a request', async () => {
    const cached = (await boot()).llm('cached');
    const first = await drain(cached.stream(user('stream me please')));
    expect(first.length).toBeGreaterThan(3);
    expect(first.every((c) => cacheStatus(c) === 'miss')).toBe(true);
    const replay = await drain(cached.stream(user('stream me please')));
    expect(openai.requests).toHaveLength(1);
    expect(replay).toEqual(first);
    expect(replay.every((c) => cacheStatus(c) === 'hit')).toBe(true);
    expect(events[1]).toMatchObject({ cache: 'hit', costUsd: 0, usage: { input: 0, output: 0 }, attempts: 0 });
    expect(events[1]!.timeToFirstChunkMs).toBeTypeOf('number');
    // A stream and a completion of the same request are stored apart.
    expect(cacheStatus(await cached.generate(user('stream me please')))).toBe('miss');
  });

  it('does not store a stream the consumer stopped early', async () => {
    const cached = (await boot()).llm('cached');
    for await (const chunk of cached.stream(user('cut short here'))) {
      expect(cacheStatus(chunk)).toBe('miss');
      break;
    }
    const whole = await drain(cached.stream(user('cut short here')));
    expect(whole.every((c) => cacheStatus(c) === 'miss')).toBe(true);
    expect(openai.requests).toHaveLength(2);
  });

  it('does not store a stream the upstream broke off', async () => {
    const cached = (await boot()).llm('cached');
    openai.hangNext({ afterChunks: 2 });
    const chunks: ChatCompletionChunk[] = [];
    await expect(
      (async () => {
        for await (const chunk of cached.stream(user('broken stream'), { timeoutMs: 400 })) chunks.push(chunk);
      })(),
    ).rejects.toMatchObject({ code: 'timeout' });
    expect(chunks).toHaveLength(2);
    const whole = await drain(cached.stream(user('broken stream')));
    expect(cacheStatus(whole[0])).toBe('miss');
    expect(openai.requests).toHaveLength(2);
  });
});

describe('rerank', () => {
  it('answers the same query and documents from the cache, whatever topK, at no cost', async () => {
    const ranker = (await boot()).reranker('ranker');
    const docs = ['cats purr', 'dogs bark', 'cats and dogs'];
    const first = await ranker.rerank('cats', docs);
    expect(cacheStatus(first)).toBe('miss');
    const top = await ranker.rerank('cats', docs, { topK: 1 });
    expect(cacheStatus(top)).toBe('hit');
    expect(top).toEqual(first.slice(0, 1));
    expect(cohere.requests).toHaveLength(1);
    expect(events[1]).toMatchObject({ cache: 'hit', costUsd: 0, attempts: 0 });
    expect(events[0]!.costUsd).toBeCloseTo(0.002);
    // Another order of the documents, or another query, is another entry.
    await ranker.rerank('cats', [...docs].reverse());
    await ranker.rerank('dogs', docs);
    expect(cohere.requests).toHaveLength(3);
  });
});

describe('keys', () => {
  it('hold no message, text, query or API key: only hashes', async () => {
    const written: string[] = [];
    const read: string[] = [];
    const setMany = MemoryCache.prototype.setMany;
    const getMany = MemoryCache.prototype.getMany;
    vi.spyOn(MemoryCache.prototype, 'setMany').mockImplementation(function (this: MemoryCache, entries, ttlMs) {
      written.push(...entries.map(([key]) => key));
      return setMany.call(this, entries, ttlMs);
    });
    vi.spyOn(MemoryCache.prototype, 'getMany').mockImplementation(function (this: MemoryCache, keys) {
      read.push(...keys);
      return getMany.call(this, keys);
    });
    const registry = await boot();
    await registry.llm('cached').generate(user('secret-message-text'));
    await drain(registry.llm('cached').stream(user('secret-message-text')));
    await registry.embedder('docs').embed(['secret-passage-text']);
    await registry.reranker('ranker').rerank('secret-query-text', ['secret-document-text']);
    expect(written).toHaveLength(4);
    expect(read).toHaveLength(4);
    for (const key of [...written, ...read]) {
      expect(key).toMatch(/^(llm|embedding|reranker):[0-9a-f]{64}$/);
      expect(key).not.toContain('secret');
      expect(key).not.toContain(KEY);
    }
  });
});
