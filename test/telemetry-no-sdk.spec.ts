import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { Test, type TestingModule } from '@nestjs/testing';
import * as otelApi from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROVIDER_CALL_CHANNEL, ProviderError, ProvidersModule, ProvidersRegistry, type CallEvent, type ChatCompletionChunk } from '@hush/providers';
import { FaultServer } from './fakes/fault-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { RerankFakeServer } from './fakes/rerank-fake-servers.js';

/**
 * Telemetry with no OpenTelemetry SDK registered (this file registers nothing; vitest gives it a
 * process of its own): the calls work, the library asks for no tracer and registers nothing, the
 * upstream gets no trace context, and the call event on the diagnostics channel and the usage
 * summary are there all the same.
 */

const KEY = 'sk-test-nosdk-0000';
const WRONG_KEY = 'sk-wrong-nosdk-key-0001';
const user = [{ role: 'user' as const, content: 'hello there' }];

// The API as the library loads it (an optional peer, through require) and as this file imports it:
// the two may be different module instances of the same package.
const required = createRequire(import.meta.url)('@opentelemetry/api') as typeof otelApi;
const apis = [required, otelApi];

let openai: OpenAIFakeServer;
let fault: FaultServer;
let cohere: RerankFakeServer;
let module: TestingModule | undefined;
const events: CallEvent[] = [];
const onCall = (event: unknown) => void events.push(event as CallEvent);

beforeAll(async () => {
  [openai, fault, cohere] = await Promise.all([
    OpenAIFakeServer.start({ apiKey: KEY }),
    FaultServer.start(),
    RerankFakeServer.start('cohere', { apiKey: KEY }),
  ]);
});
afterAll(async () => {
  await Promise.all([openai.close(), fault.close(), cohere.close()]);
});
beforeEach(() => {
  events.length = 0;
  openai.reset();
  fault.reset();
  cohere.reset();
});
afterEach(async () => {
  unsubscribe(PROVIDER_CALL_CHANNEL, onCall);
  vi.restoreAllMocks();
  await module?.close();
  module = undefined;
});

async function boot(): Promise<ProvidersRegistry> {
  module = await Test.createTestingModule({
    imports: [
      ProvidersModule.forRoot({
        configPath: [],
        env: {},
        config: {
          llm: {
            chat: {
              type: 'openai',
              baseUrl: openai.baseUrl,
              apiKey: KEY,
              model: 'gpt-4o-mini',
              maxRetries: 0,
              pricing: { inputPerMTok: 2.5, outputPerMTok: 10 },
            },
            primary: { type: 'openai-compatible', baseUrl: fault.baseUrl, model: 'fault-llm', maxRetries: 0, fallbacks: ['chat'] },
            locked: { type: 'openai', baseUrl: openai.baseUrl, apiKey: WRONG_KEY, model: 'gpt-4o-mini', maxRetries: 0 },
          },
          embedding: { docs: { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'text-embedding-3-small', pricing: { inputPerMTok: 0.5 } } },
          reranker: { ranker: { type: 'cohere', baseUrl: cohere.baseUrl, apiKey: KEY, model: 'rerank-v3.5', pricing: { perSearch: 0.002 } } },
        },
      }),
    ],
  }).compile();
  module.useLogger(false);
  return module.get(ProvidersRegistry);
}

/** Every kind and shape once, a fallback and a refused call; returns what the calls answered. */
async function callEverything(registry: ProvidersRegistry) {
  const completion = await registry.llm('chat').generate(user);
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of registry.llm('chat').stream(user)) chunks.push(chunk);
  const batch = await registry.llm('chat').generateBatch([user, user]);
  const embedding = await registry.embedder('docs').embed(['first text', 'a second one']);
  const ranked = await registry.reranker('ranker').rerank('red fruit', ['the sky', 'an apple is a red fruit']);
  fault.next('chat', { kind: 'status', status: 503 });
  const fallback = await registry.llm('primary').generate(user);
  const refused = await registry
    .llm('locked')
    .generate(user)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  return { completion, chunks, batch, embedding, ranked, fallback, refused };
}

function noopTracerProviderClass(api: typeof otelApi): Function {
  return new api.ProxyTracerProvider().getDelegate().constructor;
}

describe('with no OpenTelemetry SDK registered', () => {
  it('the calls work, and the library asks for no tracer, registers nothing and sends no trace context', async () => {
    const getTracer = apis.map((api) => vi.spyOn(api.trace, 'getTracer'));
    const registry = await boot();
    const answers = await callEverything(registry);

    expect(answers.completion.choices[0]!.message.content).toBe('echo: hello there');
    expect(answers.chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('echo: hello there');
    expect(answers.batch).toHaveLength(2);
    expect(answers.embedding.embeddings).toHaveLength(2);
    expect(answers.ranked.map((r) => r.index)).toEqual([1, 0]);
    expect(answers.fallback.model).toBe('gpt-4o-mini');
    expect(answers.refused).toBeInstanceOf(ProviderError);
    expect(answers.refused).toMatchObject({ status: 401 });

    for (const spy of getTracer) expect(spy).not.toHaveBeenCalled();
    for (const api of apis) {
      const provider = api.trace.getTracerProvider();
      expect(provider).toBeInstanceOf(api.ProxyTracerProvider);
      expect((provider as otelApi.ProxyTracerProvider).getDelegate()).toBeInstanceOf(noopTracerProviderClass(api));
      expect(api.metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
      expect(api.propagation.fields()).toEqual([]);
      expect(api.trace.getSpan(api.context.active())).toBeUndefined();
    }
    const upstream = [...openai.requests, ...cohere.requests];
    expect(upstream.length).toBeGreaterThanOrEqual(7);
    for (const request of upstream) {
      expect(request.headers.traceparent).toBeUndefined();
      expect(request.headers.tracestate).toBeUndefined();
    }
  });

  it('the call event is published with exact fields for every call (a batch’s calls each, a fallback’s and a failure’s included)', async () => {
    subscribe(PROVIDER_CALL_CHANNEL, onCall);
    await callEverything(await boot());
    const chat = { instance: 'chat', kind: 'llm', type: 'openai', model: 'gpt-4o-mini', operation: 'chat' };
    const okChat = { ...chat, durationMs: expect.any(Number), usage: { input: 2, output: 3 }, costUsd: 0.000035, outcome: 'ok', attempts: 1 };
    expect(events).toStrictEqual([
      okChat,
      { ...okChat, timeToFirstChunkMs: expect.any(Number) },
      okChat,
      okChat,
      {
        instance: 'docs',
        kind: 'embedding',
        type: 'openai',
        model: 'text-embedding-3-small',
        operation: 'embeddings',
        durationMs: expect.any(Number),
        usage: { input: 5, output: 0 },
        costUsd: 0.0000025,
        outcome: 'ok',
        attempts: 1,
      },
      {
        instance: 'ranker',
        kind: 'reranker',
        type: 'cohere',
        model: 'rerank-v3.5',
        operation: 'rerank',
        durationMs: expect.any(Number),
        usage: { input: 0, output: 0 },
        costUsd: 0.002,
        outcome: 'ok',
        attempts: 1,
      },
      {
        instance: 'primary',
        kind: 'llm',
        type: 'openai-compatible',
        model: 'fault-llm',
        operation: 'chat',
        durationMs: expect.any(Number),
        usage: { input: 2, output: 3 },
        // The answering instance's price (chat's); primary has none.
        costUsd: 0.000035,
        outcome: 'ok',
        attempts: 2,
        fallback: 'chat',
      },
      {
        instance: 'locked',
        kind: 'llm',
        type: 'openai',
        model: 'gpt-4o-mini',
        operation: 'chat',
        durationMs: expect.any(Number),
        usage: { input: 0, output: 0 },
        costUsd: 0,
        outcome: 'error',
        error: '401',
        attempts: 1,
      },
    ]);
    for (const event of events) expect(event.durationMs).toBeGreaterThan(0);
    const stream = events[1]!;
    expect(stream.timeToFirstChunkMs!).toBeGreaterThan(0);
    expect(stream.timeToFirstChunkMs!).toBeLessThanOrEqual(stream.durationMs);
    expect(JSON.stringify(events)).not.toContain(WRONG_KEY);
  });

  it('ProvidersRegistry.usage() adds the calls up without an SDK', async () => {
    const registry = await boot();
    await callEverything(registry);
    const usage = registry.usage();
    const of = (name: string) => usage.find((u) => u.name === name)!;
    expect(usage.map((u) => `${u.kind}:${u.name}`).sort()).toEqual(['embedding:docs', 'llm:chat', 'llm:locked', 'llm:primary', 'reranker:ranker']);
    // generate, stream and the batch's two calls.
    expect(of('chat')).toMatchObject({ calls: 4, errors: 0, inputTokens: 8, outputTokens: 12 });
    expect(of('chat').costUsd).toBeCloseTo(4 * 0.000035, 15);
    expect(of('primary')).toMatchObject({ calls: 1, errors: 0, inputTokens: 2, outputTokens: 3, costUsd: 0.000035 });
    expect(of('locked')).toMatchObject({ calls: 1, errors: 1, inputTokens: 0, outputTokens: 0, costUsd: 0 });
    expect(of('docs')).toMatchObject({ calls: 1, errors: 0, inputTokens: 5, costUsd: 0.0000025 });
    expect(of('ranker')).toMatchObject({ calls: 1, errors: 0, costUsd: 0.002 });
    for (const { latencyMs } of usage) {
      expect(latencyMs.p50).toBeGreaterThan(0);
      expect(latencyMs.p50).toBeLessThanOrEqual(latencyMs.p95);
      expect(latencyMs.p95).toBeLessThanOrEqual(latencyMs.p99);
      expect(latencyMs.p99).toBeLessThanOrEqual(latencyMs.max);
    }
  });
});
