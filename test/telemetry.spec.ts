import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Test, type TestingModule } from '@nestjs/testing';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  PROVIDER_CALL_CHANNEL,
  ProviderError,
  ProvidersConfigError,
  ProvidersModule,
  ProvidersRegistry,
  type CallEvent,
  type ChatCompletionChunk,
  type ProvidersModuleOptions,
} from '@hush/providers';
import { FaultServer } from './fakes/fault-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { RerankFakeServer } from './fakes/rerank-fake-servers.js';
import { histogramPoints, OtelHarness, parentOf, sumPoints } from './support/otel.js';

/**
 * The library's telemetry through the real OpenTelemetry SDK (registered globally for this file):
 * the span of each call shape and of each attempt, retries, fallbacks, aborted and failed calls, the
 * metrics, the call event on the diagnostics channel, the usage summary, the trace context and call
 * headers the upstream receives, content capture, and the `pricing` config. Every call goes over
 * real HTTP to fakes on 127.0.0.1.
 */

const KEY = 'sk-test-telemetry-0000';
const WRONG_KEY = 'sk-wrong-telemetry-key-0001';
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** 2 prompt tokens at the fake ("hello there"), 3 completion tokens ("echo: hello there"). */
const user = [{ role: 'user' as const, content: 'hello there' }];

let otel: OtelHarness;
let openai: OpenAIFakeServer;
let fault: FaultServer;
let cohere: RerankFakeServer;
let vllm: RerankFakeServer;
let module: TestingModule | undefined;
const events: CallEvent[] = [];
const onCall = (event: unknown) => void events.push(event as CallEvent);

const portOf = (url: string) => Number(new URL(url).port);

beforeAll(async () => {
  otel = OtelHarness.install();
  [openai, fault, cohere, vllm] = await Promise.all([
    OpenAIFakeServer.start({ apiKey: KEY }),
    FaultServer.start(),
    RerankFakeServer.start('cohere', { apiKey: KEY }),
    RerankFakeServer.start('vllm'),
  ]);
  subscribe(PROVIDER_CALL_CHANNEL, onCall);
});
afterAll(async () => {
  unsubscribe(PROVIDER_CALL_CHANNEL, onCall);
  await Promise.all([openai.close(), fault.close(), cohere.close(), vllm.close()]);
  await otel.uninstall();
});
beforeEach(() => {
  otel.reset();
  events.length = 0;
  openai.reset();
  fault.reset();
  cohere.reset();
  vllm.reset();
});
afterEach(async () => {
  await module?.close();
  module = undefined;
});

function config(): ProvidersModuleOptions['config'] {
  return {
    llm: {
      chat: {
        type: 'openai',
        baseUrl: openai.baseUrl,
        apiKey: KEY,
        model: 'gpt-4o-mini',
        maxRetries: 1,
        backoffBaseMs: 0,
        params: { top_p: 0.9 },
        pricing: { inputPerMTok: 2.5, outputPerMTok: 10 },
      },
      compat: {
        type: 'openai-compatible',
        baseUrl: openai.baseUrl,
        apiKey: KEY,
        model: 'gpt-4o-mini',
        maxRetries: 0,
        pricing: { inputPerMTok: 1, outputPerMTok: 2 },
      },
      flaky: { type: 'openai-compatible', baseUrl: fault.baseUrl, model: 'fault-llm', maxRetries: 1, backoffBaseMs: 0 },
      budgeted: { type: 'openai-compatible', baseUrl: fault.baseUrl, model: 'fault-llm', maxRetries: 0, tpm: 100 },
      primary: {
        type: 'openai-compatible',
        baseUrl: fault.baseUrl,
        model: 'fault-llm',
        maxRetries: 0,
        fallbacks: ['backup'],
        pricing: { inputPerMTok: 100, outputPerMTok: 100 },
      },
      backup: { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o', maxRetries: 0, pricing: { inputPerMTok: 5, outputPerMTok: 20 } },
      locked: { type: 'openai', baseUrl: openai.baseUrl, apiKey: WRONG_KEY, model: 'gpt-4o-mini', maxRetries: 0 },
      verbose: { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', maxRetries: 0, captureContent: true },
      quiet: { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', maxRetries: 0, captureContent: false },
      cached: {
        type: 'openai',
        baseUrl: openai.baseUrl,
        apiKey: KEY,
        model: 'gpt-4o-mini',
        maxRetries: 0,
        pricing: { inputPerMTok: 2.5, cachedInputPerMTok: 1.25, outputPerMTok: 10 },
      },
      silent: { type: 'openai-compatible', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', maxRetries: 0, streamUsage: false },
      capped: { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o-mini', maxRetries: 0, maxTokensCap: 64, fixedParams: { seed: 1 } },
      slow: { type: 'openai-compatible', baseUrl: fault.baseUrl, model: 'fault-llm', maxRetries: 1, backoffBaseMs: 0, attemptTimeoutMs: 150 },
    },
    embedding: {
      docs: { type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'text-embedding-3-small', dimensions: 8, pricing: { inputPerMTok: 0.5 } },
    },
    reranker: {
      ranker: { type: 'cohere', baseUrl: cohere.baseUrl, apiKey: KEY, model: 'rerank-v3.5', pricing: { perSearch: 0.002 } },
      local: { type: 'vllm', baseUrl: vllm.baseUrl, model: 'BAAI/bge-reranker-v2-m3' },
    },
  };
}

async function boot(options: Partial<ProvidersModuleOptions> = {}): Promise<ProvidersRegistry> {
  module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: config(), ...options })],
  }).compile();
  module.useLogger(false);
  return module.get(ProvidersRegistry);
}

/** The spans of logical calls (they carry `hush.call`), in the order they ended. */
function callSpans(): ReadableSpan[] {
  return otel.spans().filter((s) => s.attributes['hush.call'] !== undefined);
}

function onlyCallSpan(): ReadableSpan {
  const spans = callSpans();
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

/** The attempt spans under a call span, by attempt number. */
function attemptsOf(call: ReadableSpan): ReadableSpan[] {
  return otel
    .spans()
    .filter((s) => parentOf(s) === call.spanContext().spanId && s.attributes['hush.attempt'] !== undefined)
    .sort((a, b) => Number(a.attributes['hush.attempt']) - Number(b.attributes['hush.attempt']));
}

function traceparentOf(span: ReadableSpan): string {
  return `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
}

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('the span of each call shape', () => {
  it('generate: a CLIENT span "chat gpt-4o-mini" with the request, the answer, the usage and its cost; one child span for the attempt', async () => {
    const chat = (await boot()).llm('chat');
    const completion = await chat.generate(user, {
      max_tokens: 10,
      temperature: 0.5,
      stop: ['END'],
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
    });
    const port = portOf(openai.baseUrl);
    const span = onlyCallSpan();
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(parentOf(span)).toBeUndefined();
    expect(span.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 10,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stop_sequences': ['END'],
      'gen_ai.request.seed': 7,
      'gen_ai.request.presence_penalty': 0.1,
      'gen_ai.request.frequency_penalty': 0.2,
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.response.id': completion.id,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 2,
      'gen_ai.usage.output_tokens': 3,
      'server.address': '127.0.0.1',
      'server.port': port,
      'hush.instance': 'chat',
      'hush.kind': 'llm',
      'hush.type': 'openai',
      'hush.call': 'generate',
      'hush.attempts': 1,
      'hush.deployment': 0,
      // (2 × 2.5 + 3 × 10) / 1e6
      'hush.cost_usd': 0.000035,
    });
    expect(completion.id).toMatch(/^chatcmpl-fake\d+$/);

    const [attempt, ...more] = attemptsOf(span);
    expect(more).toHaveLength(0);
    expect(attempt!.name).toBe('chat gpt-4o-mini');
    expect(attempt!.kind).toBe(SpanKind.CLIENT);
    expect(attempt!.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(attempt!.spanContext().traceId).toBe(span.spanContext().traceId);
    expect(attempt!.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'hush.instance': 'chat',
      'hush.type': 'openai',
      'hush.attempt': 1,
      'hush.deployment': 0,
      'server.address': '127.0.0.1',
      'server.port': port,
    });
    expect(otel.spans()).toHaveLength(2);
  });

  it('cached input tokens are priced at cachedInputPerMTok', async () => {
    const cached = (await boot()).llm('cached');
    openai.enqueue({
      kind: 'mutate',
      json: (answer) => ({
        ...answer,
        usage: { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100, prompt_tokens_details: { cached_tokens: 400 } },
      }),
    });
    await cached.generate(user);
    const attributes = onlyCallSpan().attributes;
    expect(attributes['gen_ai.usage.input_tokens']).toBe(1000);
    expect(attributes['gen_ai.usage.output_tokens']).toBe(100);
    // (600 × 2.5 + 400 × 1.25 + 100 × 10) / 1e6
    expect(attributes['hush.cost_usd']).toBe(0.003);
    expect(events[0]!.costUsd).toBe(0.003);
  });

  it('a stop given as one string is recorded as a list of one; params the call did not set are left out', async () => {
    const compat = (await boot()).llm('compat');
    await compat.generate(user, { stop: 'END' });
    const attributes = onlyCallSpan().attributes;
    expect(attributes['gen_ai.request.stop_sequences']).toEqual(['END']);
    expect(Object.keys(attributes).filter((k) => k.startsWith('gen_ai.request.'))).toEqual(['gen_ai.request.model', 'gen_ai.request.stop_sequences']);
  });

  it('stream: the span says openai_compatible, the answer is gathered from the chunks, the usage from the last one', async () => {
    const compat = (await boot()).llm('compat');
    const chunks = await drain(compat.stream(user, { max_tokens: 50 }));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('echo: hello there');
    const port = portOf(openai.baseUrl);
    const span = onlyCallSpan();
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai_compatible',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 50,
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.response.id': chunks[0]!.id,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 2,
      'gen_ai.usage.output_tokens': 3,
      'server.address': '127.0.0.1',
      'server.port': port,
      'hush.instance': 'compat',
      'hush.kind': 'llm',
      'hush.type': 'openai-compatible',
      'hush.call': 'stream',
      'hush.attempts': 1,
      'hush.deployment': 0,
      // (2 × 1 + 3 × 2) / 1e6
      'hush.cost_usd': 0.000008,
    });
    const [attempt, ...more] = attemptsOf(span);
    expect(more).toHaveLength(0);
    expect(attempt!.name).toBe('chat gpt-4o-mini');
    expect(attempt!.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai_compatible',
      'gen_ai.request.model': 'gpt-4o-mini',
      'hush.instance': 'compat',
      'hush.type': 'openai-compatible',
      'hush.attempt': 1,
      'hush.deployment': 0,
      'server.address': '127.0.0.1',
      'server.port': port,
    });
    // The call ends when the stream does: after its attempt.
    expect(span.endTime[0] * 1e9 + span.endTime[1]).toBeGreaterThanOrEqual(attempt!.endTime[0] * 1e9 + attempt!.endTime[1]);
  });

  it('the params recorded are the ones sent: fixedParams over the call’s', async () => {
    const capped = (await boot()).llm('capped');
    await capped.generate(user, { seed: 99 });
    expect(openai.requests[0]!.body).toMatchObject({ seed: 1, max_completion_tokens: 64 });
    expect(onlyCallSpan().attributes['gen_ai.request.seed']).toBe(1);
  });

  // The parameters as sent: the cap the instance adds where the call gave none.
  it('the output limit that maxTokensCap adds is recorded as gen_ai.request.max_tokens', async () => {
    const capped = (await boot()).llm('capped');
    await capped.generate(user);
    expect(openai.requests[0]!.body).toMatchObject({ max_completion_tokens: 64 });
    expect(onlyCallSpan().attributes['gen_ai.request.max_tokens']).toBe(64);
  });

  it('generateBatch: one span that groups a generate span per conversation, each with its attempt; the group claims no usage of its own', async () => {
    const chat = (await boot()).llm('chat');
    const completions = await chat.generateBatch([[{ role: 'user', content: 'one' }], [{ role: 'user', content: 'two words' }]], {
      concurrency: 2,
      max_tokens: 20,
    });
    expect(completions).toHaveLength(2);
    const spans = callSpans();
    expect(spans).toHaveLength(3);
    const batch = spans.find((s) => s.attributes['hush.call'] === 'generateBatch')!;
    expect(batch.name).toBe('chat gpt-4o-mini');
    expect(batch.kind).toBe(SpanKind.CLIENT);
    expect(batch.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(batch.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'hush.instance': 'chat',
      'hush.kind': 'llm',
      'hush.type': 'openai',
      'hush.call': 'generateBatch',
      'hush.batch.size': 2,
    });
    const generates = spans
      .filter((s) => s.attributes['hush.call'] === 'generate')
      .sort((a, b) => Number(a.attributes['gen_ai.usage.input_tokens']) - Number(b.attributes['gen_ai.usage.input_tokens']));
    expect(generates).toHaveLength(2);
    const port = portOf(openai.baseUrl);
    // "one" → "echo: one"; "two words" → "echo: two words".
    for (const [span, input, output] of [
      [generates[0]!, 1, 2],
      [generates[1]!, 2, 3],
    ] as const) {
      expect(parentOf(span)).toBe(batch.spanContext().spanId);
      expect(span.spanContext().traceId).toBe(batch.spanContext().traceId);
      expect(span.name).toBe('chat gpt-4o-mini');
      expect(span.attributes).toStrictEqual({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.request.max_tokens': 20,
        'gen_ai.request.top_p': 0.9,
        'gen_ai.response.model': 'gpt-4o-mini',
        'gen_ai.response.id': completions[input - 1]!.id,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.usage.input_tokens': input,
        'gen_ai.usage.output_tokens': output,
        'server.address': '127.0.0.1',
        'server.port': port,
        'hush.instance': 'chat',
        'hush.kind': 'llm',
        'hush.type': 'openai',
        'hush.call': 'generate',
        'hush.attempts': 1,
        'hush.deployment': 0,
        'hush.cost_usd': (input * 2.5 + output * 10) / 1e6,
      });
      expect(attemptsOf(span).map((a) => a.attributes['hush.attempt'])).toEqual([1]);
    }
    // The group is no call of its own: two call events, two calls counted.
    expect(events.map((e) => e.operation)).toEqual(['chat', 'chat']);
    expect(sumPoints(await otel.metric('hush.client.calls')).map((p) => p.value)).toEqual([2]);
  });

  it('embed: "embeddings text-embedding-3-small", input tokens and their cost, the batch size and dimensions', async () => {
    const docs = (await boot()).embedder('docs');
    await docs.embed(['first text', 'a second one']);
    const port = portOf(openai.baseUrl);
    const span = onlyCallSpan();
    expect(span.name).toBe('embeddings text-embedding-3-small');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes).toStrictEqual({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.response.model': 'text-embedding-3-small',
      'gen_ai.embeddings.dimension.count': 8,
      'gen_ai.usage.input_tokens': 5,
      'server.address': '127.0.0.1',
      'server.port': port,
      'hush.instance': 'docs',
      'hush.kind': 'embedding',
      'hush.type': 'openai',
      'hush.call': 'embed',
      'hush.batch.size': 2,
      'hush.attempts': 1,
      'hush.deployment': 0,
      // 5 × 0.5 / 1e6
      'hush.cost_usd': 0.0000025,
    });
    const [attempt, ...more] = attemptsOf(span);
    expect(more).toHaveLength(0);
    expect(attempt!.name).toBe('embeddings text-embedding-3-small');
    expect(attempt!.attributes).toStrictEqual({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'text-embedding-3-small',
      'hush.instance': 'docs',
      'hush.type': 'openai',
      'hush.attempt': 1,
      'hush.deployment': 0,
      'server.address': '127.0.0.1',
      'server.port': port,
    });
  });

  it('rerank (cohere): "rerank rerank-v3.5", the documents and the price of the search; no token counts it was not told', async () => {
    const ranker = (await boot()).reranker('ranker');
    await ranker.rerank('red fruit', ['an apple is a red fruit', 'the sky', 'a banana']);
    const port = portOf(cohere.baseUrl);
    const span = onlyCallSpan();
    expect(span.name).toBe('rerank rerank-v3.5');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes).toStrictEqual({
      'gen_ai.operation.name': 'rerank',
      'gen_ai.provider.name': 'cohere',
      'gen_ai.request.model': 'rerank-v3.5',
      'server.address': '127.0.0.1',
      'server.port': port,
      'hush.instance': 'ranker',
      'hush.kind': 'reranker',
      'hush.type': 'cohere',
      'hush.call': 'rerank',
      'hush.rerank.documents': 3,
      'hush.attempts': 1,
      'hush.deployment': 0,
      'hush.cost_usd': 0.002,
    });
    const [attempt, ...more] = attemptsOf(span);
    expect(more).toHaveLength(0);
    expect(attempt!.name).toBe('rerank rerank-v3.5');
    expect(attempt!.attributes).toStrictEqual({
      'gen_ai.operation.name': 'rerank',
      'gen_ai.provider.name': 'cohere',
      'gen_ai.request.model': 'rerank-v3.5',
      'hush.instance': 'ranker',
      'hush.type': 'cohere',
      'hush.attempt': 1,
      'hush.deployment': 0,
      'server.address': '127.0.0.1',
      'server.port': port,
    });
  });

  it('rerank (vllm): gen_ai.provider.name "vllm", cost 0 without pricing', async () => {
    const local = (await boot()).reranker('local');
    await local.rerank('red fruit', ['an apple is a red fruit', 'the sky']);
    const span = onlyCallSpan();
    expect(span.name).toBe('rerank BAAI/bge-reranker-v2-m3');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'rerank',
      'gen_ai.provider.name': 'vllm',
      'gen_ai.request.model': 'BAAI/bge-reranker-v2-m3',
      'hush.type': 'vllm',
      'hush.cost_usd': 0,
      'server.port': portOf(vllm.baseUrl),
    });
    expect(attemptsOf(span).map((a) => a.attributes['gen_ai.provider.name'])).toEqual(['vllm']);
    // No cost is counted where there is none.
    expect(await otel.metric('hush.client.cost')).toBeUndefined();
  });
});

describe('retries, fallbacks, aborts and failures', () => {
  it('a retried call: two attempt spans, the first ERROR with error.type "500"; the call OK with hush.attempts 2; one retry counted', async () => {
    const flaky = (await boot()).llm('flaky');
    fault.next('chat', { kind: 'status', status: 500 });
    await flaky.generate(user);
    expect(fault.attempts('chat')).toBe(2);
    const span = onlyCallSpan();
    expect(span.name).toBe('chat fault-llm');
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes).toMatchObject({ 'hush.attempts': 2, 'hush.instance': 'flaky', 'gen_ai.provider.name': 'openai_compatible' });
    expect(span.attributes['error.type']).toBeUndefined();
    const [first, second, ...more] = attemptsOf(span);
    expect(more).toHaveLength(0);
    expect(first!.name).toBe('chat fault-llm');
    expect(first!.status.code).toBe(SpanStatusCode.ERROR);
    expect(first!.status.message).toMatch(/^llm "flaky" \(openai-compatible\): upstream answered 500/);
    expect(first!.attributes).toMatchObject({ 'hush.attempt': 1, 'error.type': '500', 'hush.instance': 'flaky' });
    expect(second!.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(second!.attributes).toMatchObject({ 'hush.attempt': 2, 'hush.instance': 'flaky' });
    expect(second!.attributes['error.type']).toBeUndefined();

    expect(sumPoints(await otel.metric('hush.client.retries'))).toEqual([
      {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai_compatible',
          'gen_ai.request.model': 'fault-llm',
          'hush.instance': 'flaky',
        },
        value: 1,
      },
    ]);
    expect(await otel.metric('hush.client.fallbacks')).toBeUndefined();
    expect(events).toEqual([expect.objectContaining({ instance: 'flaky', outcome: 'ok', attempts: 2 })]);
  });

  it('a fallback: the call names the fallback (attribute and event), the attempts name both instances, the cost is the fallback’s', async () => {
    const primary = (await boot()).llm('primary');
    fault.next('chat', { kind: 'status', status: 503 });
    const completion = await primary.generate(user);
    expect(completion.model).toBe('gpt-4o');
    const span = onlyCallSpan();
    expect(span.name).toBe('chat fault-llm');
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai_compatible',
      'gen_ai.request.model': 'fault-llm',
      'gen_ai.response.model': 'gpt-4o',
      'gen_ai.response.id': completion.id,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 2,
      'gen_ai.usage.output_tokens': 3,
      // The answering attempt's server: the fallback's.
      'server.address': '127.0.0.1',
      'server.port': portOf(openai.baseUrl),
      'hush.instance': 'primary',
      'hush.kind': 'llm',
      'hush.type': 'openai-compatible',
      'hush.call': 'generate',
      'hush.attempts': 2,
      'hush.deployment': 0,
      'hush.fallback': 'backup',
      // backup's prices (2 × 5 + 3 × 20) / 1e6, not primary's.
      'hush.cost_usd': 0.00007,
    });
    expect(span.events.map((e) => ({ name: e.name, attributes: e.attributes }))).toEqual([
      { name: 'hush.fallback', attributes: { 'hush.fallback': 'backup' } },
    ]);

    const [first, second, ...more] = attemptsOf(span);
    expect(more).toHaveLength(0);
    expect(first!.name).toBe('chat fault-llm');
    expect(first!.status.code).toBe(SpanStatusCode.ERROR);
    expect(first!.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai_compatible',
      'gen_ai.request.model': 'fault-llm',
      'hush.instance': 'primary',
      'hush.type': 'openai-compatible',
      'hush.attempt': 1,
      'hush.deployment': 0,
      'server.address': '127.0.0.1',
      'server.port': portOf(fault.baseUrl),
      'error.type': '503',
    });
    expect(second!.name).toBe('chat gpt-4o');
    expect(second!.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(second!.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'hush.instance': 'backup',
      'hush.type': 'openai',
      'hush.attempt': 2,
      'hush.deployment': 0,
      'server.address': '127.0.0.1',
      'server.port': portOf(openai.baseUrl),
    });

    const fallbacks = sumPoints(await otel.metric('hush.client.fallbacks'));
    expect(fallbacks.map((p) => p.value)).toEqual([1]);
    expect(fallbacks[0]!.attributes).toMatchObject({ 'hush.instance': 'primary', 'gen_ai.request.model': 'fault-llm' });
    expect(sumPoints(await otel.metric('hush.client.cost')).map((p) => p.value)).toEqual([0.00007]);
    expect(await otel.metric('hush.client.retries')).toBeUndefined();
    expect(events).toStrictEqual([
      {
        instance: 'primary',
        kind: 'llm',
        type: 'openai-compatible',
        model: 'fault-llm',
        operation: 'chat',
        durationMs: expect.any(Number),
        usage: { input: 2, output: 3 },
        costUsd: 0.00007,
        outcome: 'ok',
        attempts: 2,
        fallback: 'backup',
      },
    ]);
  });

  it('a stream the caller aborts midway: the call span is ERROR with error.type "aborted"; its time to the first chunk is still recorded', async () => {
    const compat = (await boot()).llm('compat');
    openai.hangNext({ afterChunks: 2 });
    const controller = new AbortController();
    const reading = (async () => {
      for await (const _ of compat.stream(user, { signal: controller.signal })) controller.abort();
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    const span = onlyCallSpan();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('aborted');
    expect(span.attributes['hush.attempts']).toBe(1);
    // Nothing was reported: no token counts.
    expect(span.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
    expect(span.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
    // The attempt had answered (its first chunk came): it is not the one that failed.
    const [attempt] = attemptsOf(span);
    expect(attempt!.status).toEqual({ code: SpanStatusCode.UNSET });

    expect(events).toStrictEqual([
      {
        instance: 'compat',
        kind: 'llm',
        type: 'openai-compatible',
        model: 'gpt-4o-mini',
        operation: 'chat',
        durationMs: expect.any(Number),
        timeToFirstChunkMs: expect.any(Number),
        usage: { input: 0, output: 0 },
        costUsd: 0,
        outcome: 'error',
        error: 'aborted',
        attempts: 1,
      },
    ]);
    expect(events[0]!.timeToFirstChunkMs!).toBeLessThanOrEqual(events[0]!.durationMs);
    expect(histogramPoints(await otel.metric('gen_ai.client.operation.time_to_first_chunk')).map((p) => p.count)).toEqual([1]);
    const calls = sumPoints(await otel.metric('hush.client.calls'));
    expect(calls).toEqual([{ attributes: expect.objectContaining({ 'hush.outcome': 'error', 'error.type': 'aborted' }), value: 1 }]);
    expect(await otel.metric('gen_ai.client.token.usage')).toBeUndefined();
  });

  it('a stream that ends normally records its time to the first chunk (event and metric)', async () => {
    const compat = (await boot()).llm('compat');
    await drain(compat.stream(user));
    expect(events).toStrictEqual([
      {
        instance: 'compat',
        kind: 'llm',
        type: 'openai-compatible',
        model: 'gpt-4o-mini',
        operation: 'chat',
        durationMs: expect.any(Number),
        timeToFirstChunkMs: expect.any(Number),
        usage: { input: 2, output: 3 },
        costUsd: 0.000008,
        outcome: 'ok',
        attempts: 1,
      },
    ]);
    expect(events[0]!.timeToFirstChunkMs!).toBeGreaterThan(0);
    expect(events[0]!.timeToFirstChunkMs!).toBeLessThanOrEqual(events[0]!.durationMs);
    const ttfc = await otel.metric('gen_ai.client.operation.time_to_first_chunk');
    expect(ttfc!.descriptor.unit).toBe('s');
    const [point, ...more] = histogramPoints(ttfc);
    expect(more).toHaveLength(0);
    expect(point!.count).toBe(1);
    expect(point!.sum).toBeCloseTo(events[0]!.timeToFirstChunkMs! / 1000, 9);
    expect(point!.boundaries).toEqual(DURATION_BUCKETS);
  });

  it('a stream whose server reports no usage: no token counts on the span or in the histogram (unknown is not 0)', async () => {
    const silent = (await boot()).llm('silent');
    await drain(silent.stream(user));
    expect(openai.requests[0]!.body.stream_options).toBeUndefined();
    const span = onlyCallSpan();
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
    expect(span.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
    expect(span.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
    expect(await otel.metric('gen_ai.client.token.usage')).toBeUndefined();
    expect(sumPoints(await otel.metric('hush.client.calls')).map((p) => p.value)).toEqual([1]);
    expect(events[0]!.usage).toEqual({ input: 0, output: 0 });
  });

  it('an attempt given up for attemptTimeoutMs: its span is ERROR with error.type "attempt-timeout", the retry answers', async () => {
    const slow = (await boot()).llm('slow');
    fault.next('chat', { kind: 'delay', ms: 2_000 });
    await slow.generate(user);
    const span = onlyCallSpan();
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.attributes['hush.attempts']).toBe(2);
    const [first, second] = attemptsOf(span);
    expect(first!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'llm "slow" (openai-compatible): the attempt took longer than attemptTimeoutMs 150 ms.',
    });
    expect(first!.attributes['error.type']).toBe('attempt-timeout');
    expect(second!.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(sumPoints(await otel.metric('hush.client.retries')).map((p) => p.value)).toEqual([1]);
  });

  it('a call that waits for room in its tpm budget is counted in hush.client.rate_limit.waits; calls with room are not', async () => {
    const budgeted = (await boot()).llm('budgeted');
    await budgeted.generate(user, { max_tokens: 10 });
    expect(await otel.metric('hush.client.rate_limit.waits')).toBeUndefined();
    // ~93 tokens estimated for the first, ~53 for the second: it waits until the first reports its usage.
    fault.next('chat', { kind: 'delay', ms: 200 });
    const first = budgeted.generate(user, { max_tokens: 90 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all([first, budgeted.generate(user, { max_tokens: 50 })]);
    expect(sumPoints(await otel.metric('hush.client.rate_limit.waits'))).toEqual([
      { attributes: expect.objectContaining({ 'hush.instance': 'budgeted', 'gen_ai.provider.name': 'openai_compatible' }), value: 1 },
    ]);
    expect(sumPoints(await otel.metric('hush.client.calls')).map((p) => p.value)).toEqual([3]);
  });

  it('a refused call (401): ERROR spans with error.type "401", a message without the key; the key is nowhere in spans, events or metrics', async () => {
    const locked = (await boot()).llm('locked');
    const error = await locked.generate(user).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 401 });
    const span = onlyCallSpan();
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    expect(span.status.message).toMatch(/^llm "locked" \(openai\): upstream answered 401 Unauthorized: Incorrect API key provided: \*\*\*/);
    expect(span.attributes).toStrictEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'hush.instance': 'locked',
      'hush.kind': 'llm',
      'hush.type': 'openai',
      'hush.call': 'generate',
      'hush.attempts': 1,
      'hush.cost_usd': 0,
      'error.type': '401',
    });
    const [attempt] = attemptsOf(span);
    expect(attempt!.status).toEqual({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    expect(attempt!.attributes['error.type']).toBe('401');

    const metrics = await otel.metrics();
    expect(sumPoints(metrics.find((m) => m.descriptor.name === 'hush.client.calls'))).toEqual([
      {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o-mini',
          'hush.instance': 'locked',
          'error.type': '401',
          'hush.outcome': 'error',
        },
        value: 1,
      },
    ]);
    expect(histogramPoints(metrics.find((m) => m.descriptor.name === 'gen_ai.client.operation.duration'))[0]!.attributes['error.type']).toBe('401');
    // No usage was reported: no token data points (a 0 would be a lie in the histogram).
    expect(metrics.find((m) => m.descriptor.name === 'gen_ai.client.token.usage')).toBeUndefined();
    expect(events).toStrictEqual([
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

    const everything = JSON.stringify({
      spans: otel.spans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })),
      metrics,
      events,
    });
    expect(everything).not.toContain(WRONG_KEY);
    expect(everything).not.toContain(WRONG_KEY.slice(3));
    expect(everything).not.toContain(KEY);
  });
});

describe('metrics', () => {
  it('token usage, duration, calls and cost, with the conventions’ names, units, buckets and attributes', async () => {
    const registry = await boot();
    const chat = registry.llm('chat');
    await chat.generate(user);
    await chat.generate(user);
    await drain(registry.llm('compat').stream(user));
    const port = portOf(openai.baseUrl);
    const common = (instance: string, provider: string) => ({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': provider,
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
      'hush.instance': instance,
      'server.address': '127.0.0.1',
      'server.port': port,
    });
    const metrics = await otel.metrics();
    const named = (name: string) => metrics.find((m) => m.descriptor.name === name);
    expect(metrics.map((m) => m.descriptor.name).sort()).toEqual([
      'gen_ai.client.operation.duration',
      'gen_ai.client.operation.time_to_first_chunk',
      'gen_ai.client.token.usage',
      'hush.client.calls',
      'hush.client.cost',
    ]);

    const tokens = named('gen_ai.client.token.usage')!;
    expect(tokens.descriptor).toMatchObject({ type: 'HISTOGRAM', unit: '{token}' });
    const tokenPoints = histogramPoints(tokens);
    expect(tokenPoints).toHaveLength(4);
    const point = (instance: string, type: string) =>
      tokenPoints.find((p) => p.attributes['hush.instance'] === instance && p.attributes['gen_ai.token.type'] === type);
    expect(point('chat', 'input')).toEqual({
      attributes: { ...common('chat', 'openai'), 'gen_ai.token.type': 'input' },
      count: 2,
      sum: 4,
      boundaries: TOKEN_BUCKETS,
    });
    expect(point('chat', 'output')).toEqual({
      attributes: { ...common('chat', 'openai'), 'gen_ai.token.type': 'output' },
      count: 2,
      sum: 6,
      boundaries: TOKEN_BUCKETS,
    });
    expect(point('compat', 'input')).toEqual({
      attributes: { ...common('compat', 'openai_compatible'), 'gen_ai.token.type': 'input' },
      count: 1,
      sum: 2,
      boundaries: TOKEN_BUCKETS,
    });
    expect(point('compat', 'output')).toEqual({
      attributes: { ...common('compat', 'openai_compatible'), 'gen_ai.token.type': 'output' },
      count: 1,
      sum: 3,
      boundaries: TOKEN_BUCKETS,
    });

    const duration = named('gen_ai.client.operation.duration')!;
    expect(duration.descriptor).toMatchObject({ type: 'HISTOGRAM', unit: 's' });
    const durations = histogramPoints(duration);
    expect(durations.map((p) => [p.attributes, p.count])).toEqual([
      [common('chat', 'openai'), 2],
      [common('compat', 'openai_compatible'), 1],
    ]);
    for (const p of durations) {
      expect(p.sum).toBeGreaterThan(0);
      expect(p.boundaries).toEqual(DURATION_BUCKETS);
    }
    // Streams only.
    expect(histogramPoints(named('gen_ai.client.operation.time_to_first_chunk')).map((p) => [p.attributes, p.count])).toEqual([
      [common('compat', 'openai_compatible'), 1],
    ]);

    // Counters (monotonic sums), observed from the library's own sums at collection.
    expect(named('hush.client.calls')).toMatchObject({ descriptor: { type: 'OBSERVABLE_COUNTER', unit: '{call}' }, isMonotonic: true });
    expect(sumPoints(named('hush.client.calls'))).toEqual([
      { attributes: { ...common('chat', 'openai'), 'hush.outcome': 'ok' }, value: 2 },
      { attributes: { ...common('compat', 'openai_compatible'), 'hush.outcome': 'ok' }, value: 1 },
    ]);
    expect(named('hush.client.cost')).toMatchObject({ descriptor: { type: 'OBSERVABLE_COUNTER', unit: 'USD' }, isMonotonic: true });
    expect(sumPoints(named('hush.client.cost'))).toEqual([
      { attributes: common('chat', 'openai'), value: 0.00007 },
      { attributes: common('compat', 'openai_compatible'), value: 0.000008 },
    ]);
  });

  it('embeddings count input tokens only; rerankers count calls and cost, and no tokens they were not told', async () => {
    const registry = await boot();
    await registry.embedder('docs').embed(['first text', 'a second one']);
    await registry.reranker('ranker').rerank('red fruit', ['an apple is a red fruit', 'the sky']);
    const tokens = histogramPoints(await otel.metric('gen_ai.client.token.usage'));
    expect(tokens.map((p) => [p.attributes['hush.instance'], p.attributes['gen_ai.token.type'], p.sum])).toEqual([['docs', 'input', 5]]);
    expect(
      sumPoints(await otel.metric('hush.client.calls')).map((p) => [p.attributes['gen_ai.operation.name'], p.attributes['hush.outcome'], p.value]),
    ).toEqual([
      ['embeddings', 'ok', 1],
      ['rerank', 'ok', 1],
    ]);
    expect(sumPoints(await otel.metric('hush.client.cost')).map((p) => [p.attributes['hush.instance'], p.value])).toEqual([
      ['docs', 0.0000025],
      ['ranker', 0.002],
    ]);
    expect(await otel.metric('gen_ai.client.operation.time_to_first_chunk')).toBeUndefined();
  });

  it('serverAddressOnMetrics: false labels no metric with the upstream address; spans keep it', async () => {
    const chat = (await boot({ telemetry: { serverAddressOnMetrics: false } })).llm('chat');
    await chat.generate(user);
    const metrics = await otel.metrics();
    expect(metrics.length).toBeGreaterThan(0);
    for (const metric of metrics) {
      for (const point of metric.dataPoints) {
        expect(Object.keys(point.attributes).filter((k) => k.startsWith('server.'))).toEqual([]);
        expect(point.attributes['hush.instance']).toBe('chat');
      }
    }
    expect(onlyCallSpan().attributes['server.address']).toBe('127.0.0.1');
  });

  it('two registries on one meter provider add up, as one counter would; a closed one’s counts stay', async () => {
    await (await boot()).llm('compat').generate(user);
    const first = module!;
    await (await boot()).llm('compat').generate(user);
    expect(sumPoints(await otel.metric('hush.client.calls')).map((p) => [p.attributes['hush.instance'], p.value])).toEqual([['compat', 2]]);
    await first.close();
    await module!.get(ProvidersRegistry).llm('compat').generate(user);
    expect(sumPoints(await otel.metric('hush.client.calls')).map((p) => [p.attributes['hush.instance'], p.value])).toEqual([['compat', 3]]);
    const [cost, ...more] = sumPoints(await otel.metric('hush.client.cost'));
    expect(more).toEqual([]);
    expect(cost!.value).toBeCloseTo(0.000024, 12);
  });

  it('past 1,999 attribute sets, calls and cost are counted in one overflow set (2,000 points, the SDK’s default limit)', async () => {
    const llm: Record<string, unknown> = {};
    for (let i = 0; i < 2001; i++)
      llm[`m${i}`] = {
        type: 'openai',
        baseUrl: openai.baseUrl,
        apiKey: KEY,
        model: 'gpt-4o-mini',
        maxRetries: 0,
        pricing: { inputPerMTok: 1, outputPerMTok: 0 },
      };
    const registry = await boot({ config: { llm } as ProvidersModuleOptions['config'] });
    for (let i = 0; i < 2000; i++) await registry.llm(`m${i}`).generate(user);
    await registry.llm('m1999').generate(user);
    const calls = sumPoints(await otel.metric('hush.client.calls'));
    expect(calls).toHaveLength(2000);
    expect(calls.filter((p) => p.attributes['hush.instance'] !== undefined).every((p) => p.value === 1)).toBe(true);
    expect(calls.find((p) => p.attributes['otel.metric.overflow'] === true)).toEqual({ attributes: { 'otel.metric.overflow': true }, value: 2 });
    const cost = sumPoints(await otel.metric('hush.client.cost'));
    expect(cost.find((p) => p.attributes['otel.metric.overflow'] === true)!.value).toBeCloseTo(0.000004, 12);
    // The histograms keep each call's own attributes (the SDK's own limit applies to them).
    expect(histogramPoints(await otel.metric('gen_ai.client.operation.duration')).length).toBe(2000);
  }, 30_000);

  it('a meter provider registered after the registry was made gets the library’s instruments', async () => {
    const chat = (await boot()).llm('chat');
    await chat.generate(user);
    otel.resetMetrics();
    await chat.generate(user);
    expect(sumPoints(await otel.metric('hush.client.calls')).map((p) => p.value)).toEqual([1]);
  });
});

describe('the call event', () => {
  it('is published once per call with exact fields, for every kind', async () => {
    const registry = await boot();
    await registry.llm('chat').generate(user);
    await registry.embedder('docs').embed('first text');
    await registry.reranker('ranker').rerank('q', ['a', 'b']);
    expect(events).toStrictEqual([
      {
        instance: 'chat',
        kind: 'llm',
        type: 'openai',
        model: 'gpt-4o-mini',
        operation: 'chat',
        durationMs: expect.any(Number),
        usage: { input: 2, output: 3 },
        costUsd: 0.000035,
        outcome: 'ok',
        attempts: 1,
      },
      {
        instance: 'docs',
        kind: 'embedding',
        type: 'openai',
        model: 'text-embedding-3-small',
        operation: 'embeddings',
        durationMs: expect.any(Number),
        usage: { input: 2, output: 0 },
        costUsd: 0.000001,
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
    ]);
    for (const event of events) expect(event.durationMs).toBeGreaterThan(0);
  });
});

describe('ProvidersRegistry.usage()', () => {
  it('per instance: calls, errors, tokens, cost and latency percentiles; instances not called are not listed', async () => {
    const registry = await boot();
    const chat = registry.llm('chat');
    for (let i = 0; i < 3; i++) await chat.generate(user);
    await drain(chat.stream(user));
    await registry
      .llm('locked')
      .generate(user)
      .catch(() => undefined);
    await registry.embedder('docs').embed(['first text', 'a second one']);
    await registry.reranker('ranker').rerank('q', ['a', 'b']);
    await registry.reranker('ranker').rerank('q', ['a', 'b']);
    const usage = registry.usage();
    expect(usage.map((u) => `${u.kind}:${u.name}`).sort()).toEqual(['embedding:docs', 'llm:chat', 'llm:locked', 'reranker:ranker']);
    const of = (name: string) => usage.find((u) => u.name === name)!;
    expect(of('chat')).toMatchObject({ kind: 'llm', calls: 4, errors: 0, inputTokens: 8, outputTokens: 12 });
    expect(of('chat').costUsd).toBeCloseTo(4 * 0.000035, 15);
    expect(of('locked')).toMatchObject({ kind: 'llm', calls: 1, errors: 1, inputTokens: 0, outputTokens: 0, costUsd: 0 });
    expect(of('docs')).toMatchObject({ kind: 'embedding', calls: 1, errors: 0, inputTokens: 5, outputTokens: 0, costUsd: 0.0000025 });
    expect(of('ranker')).toMatchObject({ kind: 'reranker', calls: 2, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0.004 });
    for (const u of usage) {
      const { p50, p95, p99, max } = u.latencyMs;
      expect(p50).toBeGreaterThan(0);
      expect(p50).toBeLessThanOrEqual(p95);
      expect(p95).toBeLessThanOrEqual(p99);
      expect(p99).toBeLessThanOrEqual(max);
    }
    // The percentiles are of the calls' own durations (the call events say the same).
    const chatDurations = events.filter((e) => e.instance === 'chat').map((e) => e.durationMs);
    expect(of('chat').latencyMs.max).toBe(Math.max(...chatDurations));
  });
});

describe('trace context and call headers at the upstream', () => {
  it('each request carries a traceparent of the call’s trace whose parent is its own attempt span (retries included)', async () => {
    const registry = await boot();
    openai.failNext(500);
    await registry.llm('chat').generate(user);
    const span = onlyCallSpan();
    const attempts = attemptsOf(span);
    expect(attempts).toHaveLength(2);
    expect(openai.requests).toHaveLength(2);
    expect(openai.requests.map((r) => r.headers.traceparent)).toEqual(attempts.map(traceparentOf));
    expect(attempts.every((a) => a.spanContext().traceId === span.spanContext().traceId)).toBe(true);

    otel.reset();
    openai.reset();
    await drain(registry.llm('compat').stream(user));
    await registry.embedder('docs').embed('first text');
    await registry.reranker('ranker').rerank('q', ['a', 'b']);
    const calls = callSpans();
    expect(calls.map((c) => c.attributes['hush.call'])).toEqual(['stream', 'embed', 'rerank']);
    const upstream = [...openai.requests.map((r) => r.headers.traceparent), ...cohere.requests.map((r) => r.headers.traceparent)];
    expect(upstream).toEqual(calls.map((c) => traceparentOf(attemptsOf(c)[0]!)));
  });

  it('a call made under the app’s span is its child, in the app’s trace', async () => {
    const chat = (await boot()).llm('chat');
    const tracer = trace.getTracer('app');
    const appSpan = await tracer.startActiveSpan('handle request', async (span) => {
      await chat.generate(user);
      span.end();
      return span;
    });
    const call = onlyCallSpan();
    expect(parentOf(call)).toBe(appSpan.spanContext().spanId);
    expect(call.spanContext().traceId).toBe(appSpan.spanContext().traceId);
    expect(openai.requests[0]!.headers.traceparent).toBe(traceparentOf(attemptsOf(call)[0]!));
  });

  it('headers of the call reach the upstream, never over the Authorization header or the trace context', async () => {
    const registry = await boot();
    const forged = '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01';
    const headers = { 'x-request-id': 'req-1', authorization: 'Bearer evil', traceparent: forged };
    await registry.llm('chat').generate(user, { headers });
    await drain(registry.llm('chat').stream(user, { headers }));
    await registry.llm('chat').generateBatch([user], { headers });
    await registry.embedder('docs').embed('first text', { headers });
    await registry.reranker('ranker').rerank('q', ['a', 'b'], { headers });
    const requests = [...openai.requests, ...cohere.requests];
    expect(requests).toHaveLength(5);
    for (const request of requests) {
      expect(request.headers['x-request-id']).toBe('req-1');
      expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(request.headers.traceparent).not.toBe(forged);
    }
    // A call without headers sends none of them.
    await registry.llm('chat').generate(user);
    expect(openai.requests.at(-1)!.headers['x-request-id']).toBeUndefined();
  });

  // Object spread is case-sensitive: a header the client sets itself, in any case, must not come from the call.
  it('a call header spelled Authorization (capital A) does not replace the configured key either', async () => {
    const chat = (await boot()).llm('chat');
    await chat.generate(user, { headers: { Authorization: 'Bearer evil', 'Content-Type': 'text/plain' } });
    expect(openai.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(openai.requests[0]!.headers['content-type']).toBe('application/json');
  });
});

describe('content capture', () => {
  const conversation = [
    { role: 'system' as const, content: 'be brief' },
    { role: 'user' as const, content: 'hello there' },
  ];

  it('is off by default: no messages or answers on any span', async () => {
    const registry = await boot();
    await registry.llm('chat').generate(conversation);
    await drain(registry.llm('chat').stream(conversation));
    expect(otel.spans()).toHaveLength(4);
    for (const span of otel.spans()) {
      expect(span.attributes['gen_ai.input.messages']).toBeUndefined();
      expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
    }
  });

  it('an instance’s captureContent records the messages and the answer on its call span (a stream’s answer joined)', async () => {
    const verbose = (await boot()).llm('verbose');
    const completion = await verbose.generate(conversation);
    let span = onlyCallSpan();
    expect(span.attributes['gen_ai.input.messages']).toBe(JSON.stringify(conversation));
    expect(span.attributes['gen_ai.output.messages']).toBe(JSON.stringify(completion.choices.map((c) => c.message)));
    expect(JSON.parse(String(span.attributes['gen_ai.output.messages']))).toEqual([
      expect.objectContaining({ role: 'assistant', content: 'echo: hello there' }),
    ]);
    // Not on the attempts.
    for (const attempt of attemptsOf(span)) expect(attempt.attributes['gen_ai.input.messages']).toBeUndefined();

    otel.reset();
    await drain(verbose.stream(conversation));
    span = onlyCallSpan();
    expect(span.attributes['gen_ai.input.messages']).toBe(JSON.stringify(conversation));
    expect(span.attributes['gen_ai.output.messages']).toBe(JSON.stringify([{ role: 'assistant', content: 'echo: hello there' }]));
  });

  it('forRoot({ telemetry: { captureContent: true } }) turns it on for every LLM, except one that says captureContent: false', async () => {
    const registry = await boot({ telemetry: { captureContent: true } });
    await registry.llm('chat').generate(conversation);
    expect(onlyCallSpan().attributes['gen_ai.input.messages']).toBe(JSON.stringify(conversation));
    expect(onlyCallSpan().attributes['gen_ai.output.messages']).toBeDefined();
    otel.reset();
    await registry.llm('quiet').generate(conversation);
    expect(onlyCallSpan().attributes['gen_ai.input.messages']).toBeUndefined();
    expect(onlyCallSpan().attributes['gen_ai.output.messages']).toBeUndefined();
  });

  it('a failed call records the messages it sent, and no answer', async () => {
    const registry = await boot({ telemetry: { captureContent: true } });
    await registry
      .llm('locked')
      .generate(conversation)
      .catch(() => undefined);
    const span = onlyCallSpan();
    expect(span.attributes['gen_ai.input.messages']).toBe(JSON.stringify(conversation));
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
  });
});

describe('pricing in the config', () => {
  async function configError(entry: Record<string, unknown>, kind: 'llm' | 'embedding' | 'reranker' = 'llm'): Promise<ProvidersConfigError> {
    const error = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: { [kind]: { priced: entry } } })],
    })
      .compile()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ProvidersConfigError);
    return error as ProvidersConfigError;
  }
  const llm = { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', model: 'm' };

  it('refuses a negative price, naming the key path', async () => {
    const error = await configError({ ...llm, pricing: { inputPerMTok: -1, outputPerMTok: 10 } });
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['llm.priced.pricing.inputPerMTok: "inputPerMTok" must not be less than 0; got -1.']);
  });

  it('refuses an unknown key inside pricing', async () => {
    const error = await configError({ ...llm, pricing: { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMtok: 0.5 } });
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'llm.priced.pricing.cachedInputPerMtok: Unknown key "cachedInputPerMtok" for type "openai-compatible".',
    ]);
  });

  // A key inside a nested map is suggested from that map's keys.
  it('hints at the keys of pricing for an unknown key inside it', async () => {
    const error = await configError({ ...llm, pricing: { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMtok: 0.5 } });
    expect(error.issues[0]!.hint).toContain('Did you mean "cachedInputPerMTok"?');
  });

  it('asks for what each kind is priced by', async () => {
    const missing = await configError({ ...llm, pricing: { inputPerMTok: 1 } });
    expect(missing.issues.map((i) => i.path)).toEqual(['llm.priced.pricing.outputPerMTok']);
    const embedder = await configError(
      { type: 'openai', apiKey: KEY, model: 'text-embedding-3-small', pricing: { inputPerMTok: 1, outputPerMTok: 2 } },
      'embedding',
    );
    expect(embedder.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'embedding.priced.pricing.outputPerMTok: Unknown key "outputPerMTok" for type "openai".',
    ]);
    const reranker = await configError({ type: 'vllm', baseUrl: 'http://127.0.0.1:1', pricing: { inputPerMTok: 1 } }, 'reranker');
    expect(reranker.issues.map((i) => i.path).sort()).toEqual(['reranker.priced.pricing.inputPerMTok', 'reranker.priced.pricing.perSearch']);
  });
});
