import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient, ProviderError, ProvidersModule, ProvidersRegistry, type ChatCompletionChunk } from '@hush/providers';
import { FaultServer, relevance, vectorOf, type Fault, type Route } from './fakes/fault-server.js';
import { AT_ONCE_MS } from './support/timing.js';

/**
 * The fault-injection suite of issue 6: every fault of the fault server, for every kind (llm through
 * `openai-compatible`, both generate and stream; embedding through `openai-compatible`; reranker
 * through `vllm`), over real HTTP on 127.0.0.1. Each test asserts what the caller sees, how many
 * upstream attempts the server counted, and how long it took, against the instance's policy.
 *
 * How long: AT_ONCE_MS (test/support/timing.ts) is the slack on top of what a call should take (no
 * wait for an abort or a refusal, the deadline for a timeout), for timers, sockets and a shared CPU;
 * what each test rules out (a hang, a wait of seconds) takes far longer.
 */

const HUGE_BYTES = 50 * 1024 * 1024;

type Section = 'llm' | 'embedding' | 'reranker';
interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** One way of calling an instance: its YAML entry, the call, and what a right answer is. */
interface Subject {
  label: string;
  section: Section;
  route: Route;
  entry(server: FaultServer): Record<string, unknown>;
  call(registry: ProvidersRegistry, name: string, options?: CallOptions): Promise<unknown>;
  expectAnswer(value: unknown): void;
}

const QUESTION = 'hello fault world';
const TEXTS = ['alpha', 'beta', 'gamma'];
const QUERY = 'red apple';
const DOCUMENTS = ['green pear', 'red apple pie', 'an apple', 'blue sky'];

/** Every chunk of a stream, or the error that ended it with the chunks seen before. */
async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<{ chunks: ChatCompletionChunk[]; error?: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

const textOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

const SUBJECTS: Subject[] = [
  {
    label: 'llm generate',
    section: 'llm',
    route: 'chat',
    entry: (server) => ({ type: 'openai-compatible', baseUrl: server.baseUrl, model: 'fault-llm' }),
    call: (registry, name, options) => registry.llm(name).generate([{ role: 'user', content: QUESTION }], options),
    expectAnswer: (value: any) => expect(value.choices[0].message.content).toBe(`ok: ${QUESTION}`),
  },
  {
    label: 'llm stream',
    section: 'llm',
    route: 'chat',
    entry: (server) => ({ type: 'openai-compatible', baseUrl: server.baseUrl, model: 'fault-llm' }),
    call: async (registry, name, options) => {
      const { chunks, error } = await drain(registry.llm(name).stream([{ role: 'user', content: QUESTION }], options));
      if (error) throw error;
      return chunks;
    },
    expectAnswer: (value: any) => {
      const chunks = value as ChatCompletionChunk[];
      expect(textOf(chunks)).toBe(`ok: ${QUESTION}`);
      // The usage chunk (asked for by the library) comes last.
      expect(chunks.at(-1)!.usage).toMatchObject({ total_tokens: expect.any(Number) });
    },
  },
  {
    label: 'embedding',
    section: 'embedding',
    route: 'embeddings',
    entry: (server) => ({ type: 'openai-compatible', baseUrl: server.baseUrl, model: 'fault-embed', dimensions: 8 }),
    call: (registry, name, options) => registry.embedder(name).embed(TEXTS, options),
    expectAnswer: (value: any) => {
      expect(value.dimensions).toBe(8);
      expect(value.embeddings).toEqual(TEXTS.map((t) => vectorOf(t, 8)));
    },
  },
  {
    label: 'reranker',
    section: 'reranker',
    route: 'rerank',
    entry: (server) => ({ type: 'vllm', baseUrl: server.origin, model: 'fault-rerank' }),
    call: (registry, name, options) => registry.reranker(name).rerank(QUERY, DOCUMENTS, options),
    expectAnswer: (value: any) => {
      const expected = DOCUMENTS.map((document, index) => ({ index, document, score: relevance(QUERY, document) })).sort(
        (a, b) => b.score - a.score || a.index - b.index,
      );
      expect(value).toEqual(expected);
    },
  },
];

/** The apps' working directory: empty, so that only the inline config counts (no config/providers.yaml). */
const CWD = mkdtempSync(join(tmpdir(), 'hush-faults-'));

let primary: FaultServer;
let backup: FaultServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  [primary, backup] = await Promise.all([FaultServer.start(), FaultServer.start()]);
});
afterAll(async () => {
  await Promise.all([primary?.close(), backup?.close()]);
  rmSync(CWD, { recursive: true, force: true });
});
beforeEach(() => {
  primary.reset();
  backup.reset();
});
afterEach(async () => {
  await Promise.all(modules.splice(0).map((m) => m.close()));
});

/** An app with `main` on the primary fault server, and `backup` on the healthy one when asked for. */
async function setup(subject: Subject, main: Record<string, unknown> = {}, options: { backup?: Record<string, unknown> } = {}): Promise<ProvidersRegistry> {
  const section: Record<string, Record<string, unknown>> = { main: { ...subject.entry(primary), ...main } };
  if (options.backup) {
    section.main!.fallbacks = ['backup'];
    section.backup = { ...subject.entry(backup), ...options.backup };
  }
  const module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ env: {}, cwd: CWD, shutdownGraceMs: 200, config: { [subject.section]: section } as never })],
  }).compile();
  module.useLogger(false);
  modules.push(module);
  return module.get(ProvidersRegistry);
}

/** The outcome of a call and how long it took. */
async function timed<T>(pending: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await pending;
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

const status = (code: number, extra: Partial<Extract<Fault, { kind: 'status' }>> = {}): Fault => ({ kind: 'status', status: code, ...extra });

describe.each(SUBJECTS)('$label over HTTP', (subject) => {
  const { route } = subject;

  it('answers on the happy path, in one attempt', async () => {
    const registry = await setup(subject);
    const { value, error } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    subject.expectAnswer(value);
    expect(primary.attempts(route)).toBe(1);
  });

  it.each([500, 502, 503])('retries %i maxRetries times, then fails with it (retryable, code http)', async (code) => {
    const registry = await setup(subject, { maxRetries: 2 });
    primary.always(route, status(code, { retryAfterMs: 0 }));
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: code, retryable: true, code: 'http', instance: 'main' });
    expect((error as Error).message).toContain(`injected fault: ${code}`);
    expect(primary.attempts(route)).toBe(3);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('recovers when the 503s stop, waiting the full-jitter backoff in between', async () => {
    const registry = await setup(subject, { maxRetries: 2 });
    primary.next(route, status(503), 2);
    const { value, error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    subject.expectAnswer(value);
    expect(primary.attempts(route)).toBe(3);
    // Backoff before retry n is at most 500 · 2ⁿ ms (the default backoffBaseMs): 500 + 1000.
    expect(ms).toBeLessThan(1_500 + AT_ONCE_MS);
  });

  it.each([400, 401, 404, 422])('fails at once on %i: one attempt, not retryable', async (code) => {
    const registry = await setup(subject, { maxRetries: 3 });
    primary.always(route, status(code));
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: code, retryable: false, code: 'http' });
    expect(primary.attempts(route)).toBe(1);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('waits as long as a 429 Retry-After: 1 says (≥ 1 s), then succeeds', async () => {
    const registry = await setup(subject, { maxRetries: 2, timeoutMs: 5_000 });
    primary.next(route, status(429, { retryAfter: 1 }));
    const { value, error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    subject.expectAnswer(value);
    expect(primary.attempts(route)).toBe(2);
    const [first, second] = primary.requests;
    expect(second!.startedAt - first!.startedAt).toBeGreaterThanOrEqual(995);
    expect(ms).toBeGreaterThanOrEqual(995);
    expect(ms).toBeLessThan(1_000 + AT_ONCE_MS);
  });

  it('honours retry-after-ms over Retry-After', async () => {
    const registry = await setup(subject, { maxRetries: 1 });
    primary.next(route, status(429, { retryAfterMs: 250, retryAfter: 30 }));
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    expect(primary.attempts(route)).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(245);
    // Retry-After would wait 30 s.
    expect(ms).toBeLessThan(250 + AT_ONCE_MS);
  });

  it('fails at once on a 429 whose Retry-After is beyond retryAfterMaxMs', async () => {
    // Waiting would take 30 s (the Retry-After), or 5 s (capped at retryAfterMaxMs).
    const registry = await setup(subject, { maxRetries: 3, retryAfterMaxMs: 5_000 });
    primary.always(route, status(429, { retryAfter: 30 }));
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ status: 429, retryable: true, code: 'http', retryAfterMs: 30_000 });
    expect(primary.attempts(route)).toBe(1);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('fails at once on a 429 whose Retry-After would overrun the deadline', async () => {
    // Waiting would last until the deadline, 3 s on.
    const registry = await setup(subject, { maxRetries: 3, timeoutMs: 3_000 });
    primary.always(route, status(429, { retryAfterMs: 10_000 }));
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ status: 429, retryable: true });
    expect(primary.attempts(route)).toBe(1);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('retries a connection reset, and succeeds on the next attempt', async () => {
    const registry = await setup(subject, { maxRetries: 2 });
    primary.next(route, { kind: 'reset' });
    const { value, error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    subject.expectAnswer(value);
    expect(primary.attempts(route)).toBe(2);
    expect(ms).toBeLessThan(500 + AT_ONCE_MS);
  });

  it('fails with code connection (retryable, no status) when every attempt is reset', async () => {
    const registry = await setup(subject, { maxRetries: 1 });
    primary.always(route, { kind: 'reset' });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'connection', retryable: true, status: undefined });
    expect(primary.attempts(route)).toBe(2);
    expect(ms).toBeLessThan(500 + AT_ONCE_MS);
  });

  it('ends a hung request at timeoutMs with code timeout, and the server sees the client go away', async () => {
    const registry = await setup(subject, { timeoutMs: 400, maxRetries: 2 });
    primary.always(route, { kind: 'hang' });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'timeout', retryable: true, instance: 'main' });
    expect((error as Error).message).toContain('no answer within timeoutMs 400 ms (1 attempt');
    expect(ms).toBeGreaterThanOrEqual(395);
    expect(ms).toBeLessThan(400 + AT_ONCE_MS);
    expect(primary.attempts(route)).toBe(1);
    await primary.waitFor((reqs) => reqs.every((r) => r.aborted));
  });

  it('ends a stalled answer (headers, part of the body, then nothing) at timeoutMs', async () => {
    const registry = await setup(subject, { timeoutMs: 400 });
    primary.always(route, { kind: 'stall' });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ code: 'timeout' });
    expect(ms).toBeGreaterThanOrEqual(395);
    expect(ms).toBeLessThan(400 + AT_ONCE_MS);
    expect(primary.attempts(route)).toBe(1);
    await primary.waitFor((reqs) => reqs.every((r) => r.aborted));
  });

  it('rejects with an AbortError at once on an abort, and the server sees the client go away', async () => {
    const registry = await setup(subject);
    primary.always(route, { kind: 'hang' });
    const controller = new AbortController();
    const pending = timed(subject.call(registry, 'main', { signal: controller.signal }));
    await primary.waitFor((reqs) => reqs.length === 1);
    const abortedAt = performance.now();
    controller.abort();
    const { error } = await pending;
    // The request hangs: without the abort, the call would wait for its deadline (minutes).
    expect(performance.now() - abortedAt).toBeLessThan(AT_ONCE_MS);
    expect((error as Error).name).toBe('AbortError');
    expect(error).not.toBeInstanceOf(ProviderError);
    await primary.waitFor((reqs) => reqs[0]!.aborted, AT_ONCE_MS);
    expect(primary.requests[0]!.endedAt! - abortedAt).toBeLessThan(AT_ONCE_MS);
  });

  it('rejects with an AbortError at once when aborted while waiting to retry, with no further attempt', async () => {
    const registry = await setup(subject, { maxRetries: 3 });
    primary.always(route, status(429, { retryAfter: 10 }));
    const controller = new AbortController();
    const pending = timed(subject.call(registry, 'main', { signal: controller.signal }));
    await primary.waitFor((reqs) => reqs.length === 1 && reqs[0]!.finished);
    await new Promise((r) => setTimeout(r, 20));
    const abortedAt = performance.now();
    controller.abort();
    const { error } = await pending;
    // The wait for the retry lasts 10 s.
    expect(performance.now() - abortedAt).toBeLessThan(AT_ONCE_MS);
    expect((error as Error).name).toBe('AbortError');
    expect(primary.attempts(route)).toBe(1);
  });

  it('fails on malformed JSON in a 200 with code bad-response, not retryable, in one attempt', async () => {
    const registry = await setup(subject, { maxRetries: 2 }, { backup: {} });
    primary.always(route, { kind: 'malformed-json' });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'bad-response', retryable: false, instance: 'main' });
    expect(primary.attempts(route)).toBe(1);
    expect(backup.attempts(route)).toBe(0);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('takes a 50 MB answer within the deadline when maxResponseBytes allows it (the padding is ignored)', { timeout: 30_000 }, async () => {
    const registry = await setup(subject, { timeoutMs: 15_000, maxResponseBytes: 64 * 1024 * 1024 });
    // A stream carries its 50 MB over many events of 256 KiB (one 50 MB event: see the streams section).
    primary.next(route, { kind: 'huge', bytes: HUGE_BYTES, ...(subject.label === 'llm stream' ? { eventBytes: 256 * 1024 } : {}) });
    const { value, error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    subject.expectAnswer(value);
    expect(primary.requests[0]!.bytesWritten).toBeGreaterThan(HUGE_BYTES);
    expect(primary.requests[0]!.finished).toBe(true);
    expect(ms).toBeLessThan(15_000);
  });

  it('refuses an answer larger than maxResponseBytes at once, and the server stops sending', async () => {
    const registry = await setup(subject, { timeoutMs: 15_000, maxRetries: 2, ...(subject.label === 'llm stream' ? { maxResponseBytes: 1024 * 1024 } : {}) });
    // A stream's limit is per event: one 50 MB event. (Under 1 MiB for the stream: the openai SDK's
    // parser is quadratic in one event's size, so a 32 MiB event alone takes it many seconds.)
    primary.next(route, { kind: 'huge', bytes: HUGE_BYTES });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'response-too-large', retryable: false, instance: 'main' });
    const what = subject.label === 'llm stream' ? 'one event of the stream' : 'the answer';
    expect((error as Error).message).toBe(
      `${subject.section} "main" (${subject.section === 'reranker' ? 'vllm' : 'openai-compatible'}): ${what} is larger than maxResponseBytes (${subject.label === 'llm stream' ? 1048576 : 33554432} bytes); the rest was not read. Raise maxResponseBytes for this instance if answers this large are expected.`,
    );
    expect(primary.attempts(route)).toBe(1);
    expect(ms).toBeLessThan(5_000);
    await primary.waitFor((reqs) => reqs.every((r) => r.endedAt !== undefined), 2_000);
    expect(primary.requests[0]!.finished).toBe(false);
    expect(primary.requests[0]!.bytesWritten).toBeLessThan(HUGE_BYTES);
  });

  it('ends a huge answer that trickles in at timeoutMs, and the server stops sending', async () => {
    const registry = await setup(subject, { timeoutMs: 500, maxResponseBytes: 64 * 1024 * 1024 });
    // 64 KiB every 10 ms: 50 MB would take more than 8 s.
    primary.always(route, { kind: 'huge', bytes: HUGE_BYTES, delayMs: 10 });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ code: 'timeout' });
    expect(ms).toBeGreaterThanOrEqual(495);
    expect(ms).toBeLessThan(500 + AT_ONCE_MS);
    await primary.waitFor((reqs) => reqs.every((r) => r.aborted), AT_ONCE_MS);
    expect(primary.requests[0]!.bytesWritten).toBeLessThan(HUGE_BYTES / 2);
  });

  it('follows x-should-retry over the status: not retried when false, retried when true', async () => {
    const registry = await setup(subject, { maxRetries: 2 });
    primary.always(route, status(503, { headers: { 'x-should-retry': 'false' } }));
    const { error } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ status: 503, retryable: false });
    expect(primary.attempts(route)).toBe(1);
    primary.reset();
    primary.next(route, status(400, { headers: { 'x-should-retry': 'true', 'retry-after-ms': '0' } }));
    const retried = await timed(subject.call(registry, 'main'));
    expect(retried.error).toBeUndefined();
    expect(primary.attempts(route)).toBe(2);
  });

  it('goes to a healthy fallback when the primary always answers 503: every call succeeds', async () => {
    const registry = await setup(subject, { maxRetries: 1 }, { backup: {} });
    primary.always(route, status(503, { retryAfterMs: 0 }));
    for (let i = 0; i < 10; i++) {
      const { value, error } = await timed(subject.call(registry, 'main'));
      expect(error).toBeUndefined();
      subject.expectAnswer(value);
    }
    expect(primary.attempts(route)).toBe(20);
    expect(backup.attempts(route)).toBe(10);
  });

  it('goes to the fallback after connection resets and a hung-up 502', async () => {
    const registry = await setup(subject, { maxRetries: 1 }, { backup: {} });
    primary.next(route, { kind: 'reset' }).next(route, status(502, { retryAfterMs: 0 }));
    const { value, error } = await timed(subject.call(registry, 'main'));
    expect(error).toBeUndefined();
    subject.expectAnswer(value);
    expect([primary.attempts(route), backup.attempts(route)]).toEqual([2, 1]);
  });

  it('does not fall back on a non-retryable failure', async () => {
    const registry = await setup(subject, {}, { backup: {} });
    primary.always(route, status(400));
    const { error } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(backup.attempts(route)).toBe(0);
  });

  it('fails with the fallback’s error when the fallback fails too, within the one deadline', async () => {
    const registry = await setup(subject, { maxRetries: 0, timeoutMs: 600 }, { backup: { maxRetries: 0 } });
    primary.always(route, status(503, { retryAfterMs: 0 }));
    backup.always(route, { kind: 'hang' });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ code: 'timeout', instance: 'main' });
    expect((error as Error).message).toContain('2 attempts');
    // The fallback hangs: it is the one deadline that ends it.
    expect(ms).toBeLessThan(600 + AT_ONCE_MS);
    expect([primary.attempts(route), backup.attempts(route)]).toEqual([1, 1]);
    await backup.waitFor((reqs) => reqs.every((r) => r.aborted), AT_ONCE_MS);
  });
});

describe('deployments and shutdown over HTTP', () => {
  const [generate] = SUBJECTS;

  it('takes a deployment that keeps failing out of the rotation, and every call succeeds on the other', async () => {
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          env: {},
          cwd: CWD,
          shutdownGraceMs: 200,
          config: {
            llm: {
              main: {
                type: 'openai-compatible',
                model: 'fault-llm',
                maxRetries: 1,
                cooldownFailures: 2,
                cooldownMs: 60_000,
                deployments: [{ baseUrl: primary.baseUrl }, { baseUrl: backup.baseUrl }],
              },
            },
          },
        }),
      ],
    }).compile();
    module.useLogger(false);
    modules.push(module);
    const registry = module.get(ProvidersRegistry);
    primary.always('chat', { kind: 'reset' });
    for (let i = 0; i < 20; i++) generate!.expectAnswer(await generate!.call(registry, 'main'));
    // A retry goes to the deployment the call has not tried; two resets in a row put the bad one in cooldown.
    expect(primary.attempts('chat')).toBe(2);
    expect(backup.attempts('chat')).toBe(20);
  });

  it.each(SUBJECTS)('$label: app.close() aborts a hung call after the grace period, and leaves no connection open', async (subject) => {
    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ env: {}, cwd: CWD, shutdownGraceMs: 200, config: { [subject.section]: { main: subject.entry(primary) } } as never })],
    }).compile();
    module.useLogger(false);
    const registry = module.get(ProvidersRegistry);
    primary.always(subject.route, subject.route === 'chat' && subject.label === 'llm stream' ? { kind: 'stall', afterChunks: 1 } : { kind: 'hang' });
    const pending = timed(subject.call(registry, 'main'));
    await primary.waitFor((reqs) => reqs.length === 1);
    const started = performance.now();
    await module.close();
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(performance.now() - started).toBeLessThan(200 + AT_ONCE_MS);
    const { error } = await pending;
    expect(error).toMatchObject({
      code: 'closed',
      retryable: false,
      message: `${subject.section} "main" (${subject.entry(primary).type}): aborted by shutdown after 200 ms of grace.`,
    });
    await primary.waitFor((reqs) => reqs[0]!.aborted, AT_ONCE_MS);
    await expect(subject.call(registry, 'main')).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('llm streams over HTTP', () => {
  const [, streamSubject] = SUBJECTS;
  const subject = streamSubject!;
  const stream = (registry: ProvidersRegistry, options?: CallOptions) => registry.llm('main').stream([{ role: 'user', content: QUESTION }], options);
  /** The stream's events: a role chunk, one per word of "ok: hello fault world", finish, usage. */
  const EVENTS = 1 + `ok: ${QUESTION}`.split(' ').length + 2;

  it('retries a 503 before the first chunk', async () => {
    const registry = await setup(subject, { maxRetries: 1 });
    primary.next('chat', status(503, { retryAfterMs: 0 }));
    const { chunks, error } = await drain(stream(registry));
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe(`ok: ${QUESTION}`);
    expect(chunks).toHaveLength(EVENTS);
    expect(primary.attempts('chat')).toBe(2);
  });

  it('goes to the fallback on a 503 before the first chunk', async () => {
    const registry = await setup(subject, { maxRetries: 0 }, { backup: {} });
    primary.always('chat', status(503));
    const { chunks, error } = await drain(stream(registry));
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe(`ok: ${QUESTION}`);
    expect([primary.attempts('chat'), backup.attempts('chat')]).toEqual([1, 1]);
  });

  it('fails with idle-timeout after idleTimeoutMs when the stream stalls after its first chunks, with no fallback', async () => {
    const registry = await setup(subject, { idleTimeoutMs: 300, maxRetries: 2 }, { backup: {} });
    primary.always('chat', { kind: 'stall', afterChunks: 2 });
    const started = performance.now();
    const arrivals: number[] = [];
    const chunks: ChatCompletionChunk[] = [];
    const error = await (async () => {
      for await (const chunk of stream(registry)) {
        chunks.push(chunk);
        arrivals.push(performance.now());
      }
    })().catch((e: unknown) => e);
    const ended = performance.now();
    expect(chunks).toHaveLength(2);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'idle-timeout', retryable: true, instance: 'main' });
    expect(ended - arrivals.at(-1)!).toBeGreaterThanOrEqual(295);
    expect(ended - started).toBeLessThan(300 + AT_ONCE_MS);
    expect([primary.attempts('chat'), backup.attempts('chat')]).toEqual([1, 0]);
    await primary.waitFor((reqs) => reqs[0]!.aborted, AT_ONCE_MS);
  });

  it('retries a stream whose headers came but whose first chunk did not within idleTimeoutMs', async () => {
    const registry = await setup(subject, { idleTimeoutMs: 300, maxRetries: 1 });
    primary.next('chat', { kind: 'stall', afterChunks: 0 });
    const { chunks, error, ms } = await (async () => {
      const started = performance.now();
      const result = await drain(stream(registry));
      return { ...result, ms: performance.now() - started };
    })();
    expect(error).toBeUndefined();
    expect(chunks).toHaveLength(EVENTS);
    expect(primary.attempts('chat')).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(295);
    expect(ms).toBeLessThan(300 + 500 + AT_ONCE_MS);
    expect(primary.requests[0]!.aborted).toBe(true);
  });

  it('goes to the fallback when the primary hangs before any header, after idleTimeoutMs', async () => {
    const registry = await setup(subject, { idleTimeoutMs: 300, maxRetries: 0, timeoutMs: 5_000 }, { backup: {} });
    primary.always('chat', { kind: 'hang' });
    const started = performance.now();
    const { chunks, error } = await drain(stream(registry));
    const ms = performance.now() - started;
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe(`ok: ${QUESTION}`);
    expect(ms).toBeGreaterThanOrEqual(295);
    // Without the idle timeout, the hung primary would hold the call until its deadline, 5 s on.
    expect(ms).toBeLessThan(300 + AT_ONCE_MS);
    expect([primary.attempts('chat'), backup.attempts('chat')]).toEqual([1, 1]);
    await primary.waitFor((reqs) => reqs[0]!.aborted, AT_ONCE_MS);
  });

  it('fails with bad-response on a broken data: line after the first chunks, with no retry and no fallback', async () => {
    const registry = await setup(subject, { maxRetries: 2 }, { backup: {} });
    primary.always('chat', { kind: 'malformed-sse', afterChunks: 2 });
    const { chunks, error } = await drain(stream(registry));
    expect(chunks).toHaveLength(2);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'bad-response', retryable: false });
    expect([primary.attempts('chat'), backup.attempts('chat')]).toEqual([1, 0]);
  });

  it('rejects the next iteration with an AbortError at once on an abort mid-stream; the server sees it', async () => {
    const registry = await setup(subject);
    primary.always('chat', { kind: 'stall', afterChunks: 1 });
    const controller = new AbortController();
    const iterator = stream(registry, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    const pending = iterator.next();
    pending.catch(() => undefined);
    const abortedAt = performance.now();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    // The stream stalls: without the abort, the iteration would wait for the deadline (minutes).
    expect(performance.now() - abortedAt).toBeLessThan(AT_ONCE_MS);
    await primary.waitFor((reqs) => reqs[0]!.aborted, AT_ONCE_MS);
  });

  it('ends a stream whose first event is a single 50 MB line by timeoutMs at the latest, when maxResponseBytes allows it', { timeout: 30_000 }, async () => {
    // What the caller sees depends on how fast the SSE parser under the driver copes with one huge
    // line (the openai SDK's buffering is quadratic in the event's size): the answer, or a timeout at
    // the deadline. Never a hang, never a late answer, and the request is over either way.
    const registry = await setup(subject, { timeoutMs: 2_000, maxResponseBytes: 64 * 1024 * 1024 });
    primary.next('chat', { kind: 'huge', bytes: HUGE_BYTES });
    const started = performance.now();
    const { chunks, error } = await drain(stream(registry));
    const ms = performance.now() - started;
    // The parser's copying runs in long synchronous stretches, so the deadline's timer may fire late
    // (by a second on an idle machine, more on a busy, shared CPU): a wider margin here, still far
    // below the minute the parse would take.
    expect(ms).toBeLessThan(2_000 + 4 * AT_ONCE_MS);
    if (error) expect(error).toMatchObject({ code: 'timeout' });
    else expect(textOf(chunks)).toBe(`ok: ${QUESTION}`);
    await primary.waitForIdle(AT_ONCE_MS);
  });

  it('aborts the upstream request when the consumer stops early', async () => {
    const registry = await setup(subject);
    primary.always('chat', { kind: 'stall', afterChunks: 3 });
    for await (const _ of stream(registry)) break;
    await primary.waitFor((reqs) => reqs[0]!.aborted, AT_ONCE_MS);
  });
});

describe('batched calls over HTTP', () => {
  const [, , embedding, reranker] = SUBJECTS;

  // A call split into several requests that fails on one of them has no use for the others: they
  // must be cancelled, not left running (or retrying, or hanging) after the caller got its error.
  it.each([
    ['embedding', embedding!, () => embedding!.call],
    ['reranker', reranker!, () => reranker!.call],
  ])('%s: a failed batch cancels its sibling still in flight', async (_label, subject) => {
    const registry = await setup(subject, { batchSize: 1, maxRetries: 0, timeoutMs: 10_000 });
    primary.next(subject.route, status(400)).next(subject.route, { kind: 'hang' });
    const { error, ms } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ status: 400, retryable: false });
    // Waiting for the hung sibling would take until the deadline, 10 s on.
    expect(ms).toBeLessThan(AT_ONCE_MS);
    // The hung sibling: the client must go away once the call has failed.
    await primary.waitFor((reqs) => reqs.length >= 2 && reqs.every((r) => r.endedAt !== undefined), AT_ONCE_MS);
    expect(primary.requests.find((r) => r.fault === 'hang')!.aborted).toBe(true);
  });

  it.each([
    ['embedding', embedding!, TEXTS.length],
    ['reranker', reranker!, DOCUMENTS.length],
  ])('%s: a failed batch’s siblings are not retried after the call has failed', async (_label, subject, batches) => {
    const registry = await setup(subject, { batchSize: 1, maxRetries: 2, timeoutMs: 10_000 });
    // One request per batch at first: the first answers 400 (the call fails), the others 503.
    primary.next(subject.route, status(400));
    primary.always(subject.route, status(503, { retryAfterMs: 100 }));
    const { error } = await timed(subject.call(registry, 'main'));
    expect(error).toMatchObject({ status: 400 });
    // Long enough for the retries (100 ms apart) of a batch left running to show up.
    await new Promise((r) => setTimeout(r, 400));
    expect(primary.attempts(subject.route)).toBeLessThanOrEqual(batches);
  });

  it('embedding: batches go out and come back in input order, base64 or float', async () => {
    for (const encodingFormat of ['base64', 'float']) {
      primary.reset();
      const registry = await setup(embedding!, { batchSize: 2, encodingFormat });
      const texts = Array.from({ length: 7 }, (_, i) => `text ${i}`);
      const result = await registry.embedder('main').embed(texts);
      expect(result.embeddings).toEqual(texts.map((t) => vectorOf(t, 8)));
      expect(primary.attempts('embeddings')).toBe(4);
      expect(primary.requests.every((r) => r.body.encoding_format === encodingFormat)).toBe(true);
    }
  });
});

describe('HttpClient (the SSE reader of the HTTP types) over HTTP', () => {
  // The anthropic type reads its stream through HttpClient.postSse. One large event must cost time
  // in proportion to its size: a parser that rescans (and re-flattens) its whole buffer on every read
  // is quadratic: a 32 MB event then takes about 10 s of CPU, where a linear one takes about 0.3 s.
  it('reads a single 32 MB event in time proportional to its size', { timeout: 10_000 }, async () => {
    const client = new HttpClient({ baseUrl: primary.baseUrl, maxResponseBytes: 64 * 1024 * 1024 }, { kind: 'llm', name: 'sse', type: 'test' });
    const bytes = 32 * 1024 * 1024;
    primary.next('chat', { kind: 'huge', bytes });
    const controller = new AbortController();
    const watchdog = setTimeout(() => controller.abort(), 3_000);
    const started = performance.now();
    const events: string[] = [];
    try {
      for await (const event of client.postSse(
        '/chat/completions',
        { model: 'm', messages: [{ role: 'user', content: QUESTION }], stream: true },
        controller.signal,
      )) {
        events.push(event.data);
      }
    } catch (error) {
      expect.fail(`postSse did not read the 32 MB event within 3 s (${Math.round(performance.now() - started)} ms): ${String(error)}`);
    } finally {
      clearTimeout(watchdog);
    }
    expect(events[0]!.length).toBeGreaterThan(bytes);
    expect(events.at(-1)).toBe('[DONE]');
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('refuses an event larger than maxResponseBytes, and takes many smaller events that add up to more', async () => {
    const client = new HttpClient({ baseUrl: primary.baseUrl, maxResponseBytes: 1024 * 1024 }, { kind: 'llm', name: 'sse', type: 'test' });
    const body = { model: 'm', messages: [{ role: 'user', content: QUESTION }], stream: true };
    primary.next('chat', { kind: 'huge', bytes: 4 * 1024 * 1024, eventBytes: 256 * 1024 });
    let events = 0;
    for await (const _ of client.postSse('/chat/completions', body, new AbortController().signal)) events++;
    expect(events).toBeGreaterThan(16);
    primary.next('chat', { kind: 'huge', bytes: HUGE_BYTES });
    const error = await (async () => {
      for await (const _ of client.postSse('/chat/completions', body, new AbortController().signal));
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'response-too-large', retryable: false });
    expect((error as Error).message).toBe(
      'llm "sse" (test): one event of the stream is larger than maxResponseBytes (1048576 bytes); the rest was not read. Raise maxResponseBytes for this instance if answers this large are expected.',
    );
    await primary.waitFor((reqs) => reqs.length === 2 && reqs[1]!.endedAt !== undefined, 2_000);
    expect(primary.requests[1]!.finished).toBe(false);
    expect(primary.requests[1]!.bytesWritten).toBeLessThan(HUGE_BYTES);
  });
});
