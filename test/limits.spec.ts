import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ProviderError, ProvidersConfigError, ProvidersModule, ProvidersRegistry, type LLMCallOptions } from '@hush/providers';
import { scriptedLLMProvider, scriptedLLMs } from './support/scripted-provider.js';
import { AT_ONCE_MS } from './support/timing.js';

const setup = scriptedLLMs();

const user = [{ role: 'user' as const, content: 'hi' }];
const upstream500 = () => new ProviderError('upstream 500', { instance: 'x', type: 'scripted', status: 500, retryable: true, code: 'http' });
const after =
  (ms: number, text = 'ok') =>
  () =>
    new Promise<string>((r) => setTimeout(() => r(text), ms));

describe('maxConcurrency and maxQueue', () => {
  it('runs at most maxConcurrency calls at once and queues the rest in order', async () => {
    const { registry, drivers } = await setup({ chat: { maxConcurrency: 2, maxQueue: 10 } });
    const driver = drivers.get('chat')!;
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      driver.steps.push(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        order.push(i);
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
        return String(i);
      });
    }
    await Promise.all(Array.from({ length: 6 }, () => registry.llm('chat').generate(user)));
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refuses a call at once with a clear error when the queue is full', async () => {
    const { registry, drivers } = await setup({ chat: { maxConcurrency: 1, maxQueue: 1, maxRetries: 0 } });
    // The calls let in hold their slot until released: 5 s on at the latest, once the third call has
    // been refused at once. A third call queued instead would wait those 5 s.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const releaseLater = setTimeout(release, 5_000);
    const held = () => released.then(() => 'ok');
    drivers.get('chat')!.steps.push(held, held, held);
    const first = registry.llm('chat').generate(user);
    const second = registry.llm('chat').generate(user);
    const started = performance.now();
    const error = await registry
      .llm('chat')
      .generate(user)
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);
    expect(error).toMatchObject({ code: 'queue-full', retryable: true, instance: 'chat' });
    expect((error as Error).message).toBe(
      'llm "chat" (scripted): 1 calls are in flight (maxConcurrency) and 1 wait (maxQueue): this call is refused. Raise the limits, or send less at once.',
    );
    clearTimeout(releaseLater);
    release();
    await Promise.all([first, second]);
  });

  it('lets a queued call leave the queue when its caller aborts', async () => {
    const { registry, drivers } = await setup({ chat: { maxConcurrency: 1 } });
    drivers.get('chat')!.steps.push(after(150, 'first'), after(0, 'third'));
    const first = registry.llm('chat').generate(user);
    const controller = new AbortController();
    const queued = registry.llm('chat').generate(user, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    await first;
    // The aborted call never reached the driver; the next call gets the next step.
    expect((await registry.llm('chat').generate(user)).choices[0]!.message.content).toBe('third');
    expect(drivers.get('chat')!.calls).toHaveLength(2);
  });

  it('holds a stream’s slot until the stream ends', async () => {
    const { registry, drivers } = await setup({ chat: { maxConcurrency: 1 } });
    const driver = drivers.get('chat')!;
    driver.streamSteps.push(() =>
      (async function* () {
        yield 'a';
        await new Promise((r) => setTimeout(r, 100));
        yield 'b';
      })(),
    );
    driver.steps.push(after(0, 'after stream'));
    const events: string[] = [];
    const streaming = (async () => {
      for await (const chunk of registry.llm('chat').stream(user)) events.push(`chunk ${chunk.choices[0]!.delta.content}`);
      events.push('stream end');
    })();
    await new Promise((r) => setTimeout(r, 20));
    const generated = registry
      .llm('chat')
      .generate(user)
      .then(() => events.push('generate'));
    await Promise.all([streaming, generated]);
    expect(events).toEqual(['chunk a', 'chunk b', 'stream end', 'generate']);
  });
});

describe('rpm', () => {
  it('refuses, without calling, when the minute’s budget cannot free up before the deadline', async () => {
    // Refused at once, where waiting for the budget would last until the deadline, 3 s on.
    const { registry, drivers } = await setup({ chat: { rpm: 2, timeoutMs: 3_000, maxRetries: 3 } });
    await registry.llm('chat').generate(user);
    await registry.llm('chat').generate(user);
    const started = performance.now();
    const error = await registry
      .llm('chat')
      .generate(user)
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);
    expect(error).toMatchObject({ code: 'rate-limited', retryable: true });
    expect((error as Error).message).toMatch(
      /^llm "chat" \(scripted\): the rpm\/tpm budget has no room \(the budget frees up in \d+ ms\); before the deadline\.$/,
    );
    expect(drivers.get('chat')!.calls).toHaveLength(2);
  });

  it('sends to the fallback when the primary is out of budget', async () => {
    const { registry, drivers } = await setup({ chat: { rpm: 1, fallbacks: ['spare'] }, spare: {} });
    await registry.llm('chat').generate(user);
    expect((await registry.llm('chat').generate(user)).choices[0]!.message.content).toBe('spare:');
    expect(drivers.get('spare')!.calls).toHaveLength(1);
  });
});

describe('tpm', () => {
  it('counts the estimate before a call, corrects it with the usage after, and refuses what does not fit', async () => {
    const { registry, drivers } = await setup({ chat: { tpm: 20, timeoutMs: 300 } });
    // Estimate: 1 token of prompt + 15 asked for; the fake service reports 2 used, so 14 come back.
    await registry.llm('chat').generate(user, { max_tokens: 15 });
    await registry.llm('chat').generate(user, { max_tokens: 15 });
    // 4 spent: 16 more fit exactly.
    await expect(registry.llm('chat').generate(user, { max_tokens: 15 })).resolves.toBeDefined();
    // 6 spent: 16 more cannot fit, and the window frees up only after a minute.
    const error = await registry
      .llm('chat')
      .generate(user, { max_tokens: 15 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'rate-limited' });
    expect(drivers.get('chat')!.calls).toHaveLength(3);
  });
});

describe('deployments', () => {
  it('takes a failing deployment out for cooldownMs after cooldownFailures failures, and retries on another one', async () => {
    const { registry, drivers } = await setup({
      chat: { maxRetries: 1, cooldownFailures: 2, cooldownMs: 60_000, deployments: [{ label: 'bad' }, { label: 'good' }] },
    });
    const bad = drivers.get('chat/bad')!;
    const good = drivers.get('chat/good')!;
    for (let i = 0; i < 20; i++)
      bad.steps.push(async () => {
        throw upstream500();
      });
    for (let i = 0; i < 20; i++) {
      const answer = await registry.llm('chat').generate(user);
      expect(answer.choices[0]!.message.content).toBe('chat:good');
    }
    // A retry goes to the deployment this call has not tried; after 2 failures "bad" cools down.
    expect(bad.calls.length).toBe(2);
    expect(good.calls.length).toBe(20);
  });

  it('least-in-flight sends a new call to the least busy deployment', async () => {
    const { registry, drivers } = await setup({ chat: { routing: 'least-in-flight', deployments: [{ label: 'a' }, { label: 'b' }] } });
    const a = drivers.get('chat/a')!;
    const b = drivers.get('chat/b')!;
    for (let i = 0; i < 10; i++) {
      a.steps.push(after(100));
      b.steps.push(after(100));
    }
    await Promise.all(Array.from({ length: 8 }, () => registry.llm('chat').generate(user)));
    expect([a.calls.length, b.calls.length]).toEqual([4, 4]);
  });
});

describe('graceful shutdown', () => {
  const appWith = async (llm: Record<string, unknown>, shutdownGraceMs: number) => {
    const { definition, drivers } = scriptedLLMProvider();
    @Module({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          providers: [definition],
          shutdownGraceMs,
          config: { llm: { chat: { type: 'scripted', model: 'm', ...llm } } },
        }),
      ],
    })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    return { app, driver: drivers.get('chat')! };
  };

  it('lets calls in flight finish within the grace period, and refuses new ones', async () => {
    const { app, driver } = await appWith({}, 1_000);
    driver.steps.push(after(100, 'finished'));
    const chat = app.get(ProvidersRegistry).llm('chat');
    const inFlight = chat.generate(user);
    await new Promise((r) => setTimeout(r, 10));
    const closing = app.close();
    await new Promise((r) => setTimeout(r, 20));
    await expect(chat.generate(user)).rejects.toMatchObject({ code: 'closed', retryable: false });
    expect((await inFlight).choices[0]!.message.content).toBe('finished');
    await closing;
    expect(driver.closed).toBe(1);
  });

  it('aborts what is still running when the grace period ends', async () => {
    const { app, driver } = await appWith({}, 100);
    let driverSawAbort = false;
    driver.steps.push(
      (_, options: LLMCallOptions) =>
        new Promise((_, reject) =>
          options.signal.addEventListener('abort', () => {
            driverSawAbort = true;
            reject(new Error('aborted'));
          }),
        ),
    );
    const pending = app
      .get(ProvidersRegistry)
      .llm('chat')
      .generate(user)
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    await app.close();
    // The driver never answers: a close() that did not abort it at the end of the grace would hang.
    expect(performance.now() - started).toBeLessThan(100 + AT_ONCE_MS);
    expect(await pending).toMatchObject({ code: 'closed', message: 'llm "chat" (scripted): aborted by shutdown after 100 ms of grace.' });
    expect(driverSawAbort).toBe(true);
  });
});

describe('operator controls over call parameters', () => {
  const sent = (driver: { calls: Array<{ options: LLMCallOptions }> }) => {
    const { signal: _signal, ...params } = driver.calls.at(-1)!.options;
    return params;
  };

  it('fixedParams go out over the call’s options and the YAML params', async () => {
    const { registry, drivers } = await setup({
      chat: { params: { temperature: 0.2, service_tier: 'auto' }, fixedParams: { service_tier: 'default', store: false } },
    });
    await registry.llm('chat').generate(user, { temperature: 0.9, service_tier: 'priority', store: true });
    expect(sent(drivers.get('chat')!)).toEqual({ temperature: 0.9, service_tier: 'default', store: false });
    for await (const _ of registry.llm('chat').stream(user, { service_tier: 'flex' }));
    expect(sent(drivers.get('chat')!)).toEqual({ temperature: 0.2, service_tier: 'default', store: false });
  });

  it('refusedParams refuse a call that sets one, before anything is sent or spent', async () => {
    const { registry, drivers } = await setup({ chat: { refusedParams: ['store', 'metadata'], rpm: 1 } });
    for (const call of [
      () => registry.llm('chat').generate(user, { metadata: { team: 'x' } }),
      () =>
        (async () => {
          for await (const _ of registry.llm('chat').stream(user, { store: true }));
        })(),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'bad-input', retryable: false, instance: 'chat' });
      expect((error as Error).message).toMatch(
        /^llm "chat" \(scripted\): the call sets "(metadata|store)", which this instance does not take from callers \(refusedParams\)\. Leave it out\.$/,
      );
    }
    expect(drivers.get('chat')!.calls).toHaveLength(0);
    // Neither refusal spent the one request of the minute; an undefined value is not setting it.
    await expect(registry.llm('chat').generate(user, { store: undefined })).resolves.toMatchObject({ object: 'chat.completion' });
  });

  it('maxTokensCap refuses a larger ask, keeps a smaller one, and sends the cap when the call sets none', async () => {
    const { registry, drivers } = await setup({ chat: { maxTokensCap: 256 } });
    const driver = drivers.get('chat')!;
    await registry.llm('chat').generate(user);
    expect(sent(driver)).toEqual({ max_tokens: 256 });
    await registry.llm('chat').generate(user, { max_completion_tokens: 100 });
    expect(sent(driver)).toEqual({ max_completion_tokens: 100 });
    const error = await registry
      .llm('chat')
      .generate(user, { max_tokens: 4096 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: 'bad-input', retryable: false });
    expect((error as Error).message).toBe('llm "chat" (scripted): max_tokens 4096 is above this instance\'s cap of 256 (maxTokensCap); ask for 256 or fewer.');
    expect(driver.calls).toHaveLength(2);
  });

  it('refuses params or fixedParams above maxTokensCap at bootstrap', async () => {
    const error = await setup({ chat: { maxTokensCap: 100, params: { max_tokens: 500 }, fixedParams: { max_completion_tokens: 101 } } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProvidersConfigError);
    expect((error as ProvidersConfigError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'llm.chat.params: "params" asks for max_tokens 500, above maxTokensCap 100; got a map.',
      'llm.chat.fixedParams: "fixedParams" asks for max_completion_tokens 101, above maxTokensCap 100; got a map.',
    ]);
  });

  it('a fallback applies its own controls', async () => {
    const { registry, drivers } = await setup({ chat: { fallbacks: ['spare'], maxRetries: 0 }, spare: { maxTokensCap: 50, fixedParams: { temperature: 0 } } });
    drivers.get('chat')!.steps.push(() => Promise.reject(upstream500()));
    await registry.llm('chat').generate(user, { temperature: 1 });
    expect(sent(drivers.get('spare')!)).toEqual({ temperature: 0, max_tokens: 50 });
  });
});
