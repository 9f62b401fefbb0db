import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, ProvidersModule, ProvidersRegistry, type ChatCompletionChunk } from '@hush/providers';
import { FaultServer } from './fakes/fault-server.js';
import { scriptedLLMs } from './support/scripted-provider.js';

/**
 * Where the call policies meet: attempt timeouts × streams × concurrency slots, budgets × slots ×
 * deployments × cooldowns, shutdown × timers. Each case counts what must be given back (slots,
 * upstream requests, budget, timers), not only what the caller sees.
 */

const user = [{ role: 'user' as const, content: 'hi' }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('attempt timeouts × streams × slots, over real HTTP', () => {
  let server: FaultServer;
  let module: TestingModule | undefined;
  const ATTEMPT_MS = 150;
  // The late answer comes long after the attempt gave up: a request still open then was not ended.
  const LATE_MS = 1_500;

  beforeAll(async () => {
    server = await FaultServer.start();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.reset();
    server.always('chat', undefined);
  });
  afterEach(async () => {
    await module?.close();
    module = undefined;
  });

  async function boot(entry: Record<string, unknown>): Promise<ProvidersRegistry> {
    module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          config: { llm: { chat: { type: 'openai-compatible', baseUrl: server.baseUrl, model: 'fault-llm', ...entry } } },
        }),
      ],
    }).compile();
    module.useLogger(false);
    return module.get(ProvidersRegistry);
  }

  for (const mode of ['stream', 'generate'] as const) {
    it(`${mode}: every timed-out attempt ends its own request and gives its slot back`, async () => {
      const registry = await boot({ maxConcurrency: 1, maxQueue: 1, attemptTimeoutMs: ATTEMPT_MS, maxRetries: 1, backoffBaseMs: 0, timeoutMs: 4_000 });
      const llm = registry.llm('chat');
      const call = () => (mode === 'stream' ? drain(llm.stream(user)) : llm.generate(user));
      const CALLS = 4;
      // Every attempt of the first CALLS calls answers late; each call fails after its two attempts.
      server.next('chat', { kind: 'delay', ms: LATE_MS }, CALLS * 2);
      for (let i = 0; i < CALLS; i++) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ProviderError);
        expect(error).toMatchObject({ code: 'attempt-timeout', instance: 'chat', retryable: true });
        expect((error as Error).message).toBe(`llm "chat" (openai-compatible): the attempt took longer than attemptTimeoutMs ${ATTEMPT_MS} ms.`);
      }
      // Each late request was ended by the client when its attempt gave up, before the answer came.
      // (On a loaded machine an attempt may give up before its request even reached the server.)
      await server.waitFor((requests) => requests.length >= CALLS && requests.every((r) => r.endedAt !== undefined), 3_000);
      for (const request of server.requests) {
        expect(request.aborted).toBe(true);
        expect(request.endedAt! - request.startedAt).toBeLessThan(LATE_MS - 300);
      }
      // Faults left over by attempts that never reached the server do not carry into what follows.
      server.reset();
      // The one slot is free: the next calls run at once, one after the other and side by side.
      const answers = await Promise.all([call(), call()]);
      expect(answers).toHaveLength(2);
      expect((llm as unknown as { inFlight: number }).inFlight).toBe(0);
      expect(server.openSockets).toBeLessThanOrEqual(2);
    });
  }

  it('a slot comes back exactly once whichever way a stream ends', async () => {
    // maxQueue 0: a slot that was not given back refuses the next call at once.
    const registry = await boot({ maxConcurrency: 1, maxQueue: 0, maxRetries: 0, idleTimeoutMs: 200 });
    const llm = registry.llm('chat');
    // Consumer stops after the first chunk.
    for await (const _ of llm.stream(user)) break;
    // The stream stalls after a chunk (idle timeout).
    server.next('chat', { kind: 'stall', afterChunks: 1 });
    await expect(drain(llm.stream(user))).rejects.toMatchObject({ code: 'idle-timeout' });
    // The caller aborts mid-stream.
    const controller = new AbortController();
    server.next('chat', { kind: 'stall', afterChunks: 1 });
    const aborted = (async () => {
      for await (const _ of llm.stream(user, { signal: controller.signal })) controller.abort();
    })();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    // The upstream fails before the first chunk.
    server.next('chat', { kind: 'status', status: 500 });
    await expect(drain(llm.stream(user))).rejects.toMatchObject({ status: 500 });
    // After all of them: one call at a time, each taking the one slot, and then a second at once
    // is refused (proving the slot count did not grow from a double release either).
    expect((await drain(llm.stream(user))).length).toBeGreaterThan(1);
    server.next('chat', { kind: 'delay', ms: 300 });
    const holding = llm.generate(user);
    await server.waitFor((requests) => requests.some((r) => r.fault === 'delay'));
    await expect(llm.generate(user)).rejects.toMatchObject({ code: 'queue-full' });
    await holding;
    expect((llm as unknown as { inFlight: number }).inFlight).toBe(0);
  });
});

describe('usage without total_tokens', () => {
  const setup = scriptedLLMs();

  it('counts prompt + completion for tpm, and the budget keeps working', async () => {
    const { registry, drivers } = await setup({ chat: { tpm: 100, maxRetries: 0 } });
    const llm = registry.llm('chat');
    drivers.get('chat')!.streamSteps.push(() =>
      (async function* () {
        yield 'a';
        // Some OpenAI-compatible servers send no total_tokens in the usage chunk.
        yield {
          id: 'x',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'chat',
          choices: [],
          usage: { prompt_tokens: 40, completion_tokens: 50 } as never,
        };
      })(),
    );
    const chunks = await drain(llm.stream(user));
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 50 });
    // 90 tokens spent: a small call still fits…
    await expect(llm.generate(user, { max_tokens: 5 })).resolves.toMatchObject({ object: 'chat.completion' });
    // …and one that needs more than the 100 - 92 left is refused by the budget, not by a NaN.
    const refused = await llm.generate(user, { max_tokens: 20, timeoutMs: 5_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'rate-limited', instance: 'chat' });
    expect((refused as Error).message).toMatch(
      /^llm "chat" \(scripted\): the rpm\/tpm budget has no room \(the budget frees up in \d+ ms\); before the deadline\.$/,
    );
  });
});

describe('budgets × slots × deployments × cooldowns', () => {
  const setup = scriptedLLMs();
  const slow = (ms: number, text: string, log?: string[]) => async () => {
    log?.push(`${text} start`);
    await sleep(ms);
    log?.push(`${text} end`);
    return text;
  };

  it('a call refused by its own budget puts no deployment in cooldown', async () => {
    const { registry, drivers } = await setup({
      chat: { tpm: 100, maxRetries: 0, cooldownFailures: 1, cooldownMs: 600_000, fallbacks: ['spare'], deployments: [{ label: 'a' }, { label: 'b' }] },
      spare: {},
    });
    const llm = registry.llm('chat');
    const a = drivers.get('chat/a')!;
    const b = drivers.get('chat/b')!;
    a.steps.push(slow(300, 'first'));
    b.steps.push(slow(300, 'first'));
    const first = llm.generate(user, { max_tokens: 90 });
    await sleep(20);
    // The budget is full until the first call reports its usage: the fallback answers.
    const handed = await llm.generate(user, { max_tokens: 90 });
    expect(handed.choices[0]!.message.content).toBe('spare:');
    await first;
    // Both deployments still take traffic.
    const before = { a: a.calls.length, b: b.calls.length };
    await Promise.all(Array.from({ length: 24 }, () => llm.generate(user)));
    expect(a.calls.length - before.a).toBeGreaterThan(0);
    expect(b.calls.length - before.b).toBeGreaterThan(0);
  });

  it('a call waiting for its budget holds no slot and counts as in flight nowhere', async () => {
    const { registry, drivers } = await setup({
      chat: { tpm: 100, maxConcurrency: 2, maxRetries: 0, routing: 'least-in-flight', deployments: [{ label: 'a' }, { label: 'b' }] },
    });
    const llm = registry.llm('chat');
    const log: string[] = [];
    const byLabel = { a: drivers.get('chat/a')!, b: drivers.get('chat/b')! };
    // A call that asks for 90 tokens takes 400 ms; the others answer at once.
    const step = (_m: unknown, options: { max_tokens?: number | null }) => (options.max_tokens === 90 ? slow(400, 'big', log)() : slow(0, 'small', log)());
    for (const driver of Object.values(byLabel)) driver.steps.push(step, step, step);
    const controller = new AbortController();
    const big = llm.generate(user, { max_tokens: 90 });
    await sleep(20);
    const bigOn = byLabel.a.calls.length === 1 ? 'a' : 'b';
    // Needs 91 of the 9 left: waits for the first call's usage (a minute's wait fits its deadline).
    const waiting = llm.generate(user, { max_tokens: 90, timeoutMs: 70_000, signal: controller.signal });
    await sleep(20);
    // Fits the budget: takes the free slot and the idle deployment now, not after the first call.
    const small = llm.generate(user, { max_tokens: 1 });
    try {
      await small;
      expect(log.indexOf('big end')).toBe(-1);
      expect(byLabel[bigOn === 'a' ? 'b' : 'a'].calls).toHaveLength(1);
      await big;
      // The waiting call goes as soon as the first one reported 2 tokens instead of its 91.
      await expect(waiting).resolves.toMatchObject({ object: 'chat.completion' });
    } finally {
      controller.abort();
    }
  });
});

describe('shutdown', () => {
  it('close() leaves no timer behind once the calls in flight have finished', async () => {
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          shutdownGraceMs: 30_000,
          config: { llm: { chat: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', model: 'm' } } },
        }),
      ],
    }).compile();
    module.useLogger(false);
    const registry = module.get(ProvidersRegistry);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const baseline = timers();
    // A call in flight when the application closes: it may finish within the grace period.
    const controller = new AbortController();
    const inFlight = registry
      .llm('chat')
      .generate(user, { signal: controller.signal })
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    await module.close();
    expect(performance.now() - started).toBeLessThan(5_000);
    await inFlight;
    await sleep(0);
    expect(timers()).toBeLessThanOrEqual(baseline);
    // New calls are refused with a clear error.
    const refused = await registry
      .llm('chat')
      .generate(user)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refused).toMatchObject({ code: 'closed', instance: 'chat', retryable: false });
    expect((refused as Error).message).toBe('llm "chat" (openai-compatible): the instance is shut down (application closing); no new calls are taken.');
  });
});
