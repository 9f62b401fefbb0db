import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { ProviderError, type LLMCallOptions } from '@hush/providers';
import { scriptedLLMs } from './support/scripted-provider.js';
import { AT_ONCE_MS } from './support/timing.js';

const setup = scriptedLLMs();

const upstream = (status: number, init: Partial<{ retryAfterMs: number; code: string }> = {}) =>
  new ProviderError(`upstream ${status}`, { instance: 'x', type: 'scripted', status, retryable: status === 429 || status >= 500, code: 'http', ...init });

const user = [{ role: 'user' as const, content: 'hi' }];
const waitForAbort = (options: LLMCallOptions) =>
  new Promise<string>((_, reject) => options.signal.addEventListener('abort', () => reject(new Error('driver saw abort')), { once: true }));

describe('retries', () => {
  it('retries retryable failures up to maxRetries, then succeeds', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 2 } });
    const driver = drivers.get('chat')!;
    driver.steps.push(
      async () => {
        throw upstream(500);
      },
      async () => {
        throw upstream(503);
      },
      async () => 'third time',
    );
    const answer = await registry.llm('chat').generate(user);
    expect(answer.choices[0]!.message.content).toBe('third time');
    expect(driver.calls).toHaveLength(3);
  });

  it('waits no longer than backoffMaxMs between attempts', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 3, backoffBaseMs: 10_000, backoffMaxMs: 30 } });
    const driver = drivers.get('chat')!;
    driver.steps.push(
      async () => {
        throw upstream(503);
      },
      async () => {
        throw upstream(503);
      },
      async () => {
        throw upstream(503);
      },
      async () => 'fourth',
    );
    const started = performance.now();
    expect((await registry.llm('chat').generate(user)).choices[0]!.message.content).toBe('fourth');
    // Three waits of at most 30 ms each, where the uncapped curve would wait a random part of 10 + 20 + 40 s.
    expect(performance.now() - started).toBeLessThan(3 * 30 + AT_ONCE_MS);
    expect(driver.calls).toHaveLength(4);
  });

  it('gives up after maxRetries with the last error', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 1 } });
    const driver = drivers.get('chat')!;
    driver.steps.push(
      async () => {
        throw upstream(500);
      },
      async () => {
        throw upstream(502);
      },
      async () => 'never',
    );
    await expect(registry.llm('chat').generate(user)).rejects.toMatchObject({ status: 502 });
    expect(driver.calls).toHaveLength(2);
  });

  it('never retries a non-retryable failure', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 3 } });
    drivers.get('chat')!.steps.push(async () => {
      throw upstream(400);
    });
    await expect(registry.llm('chat').generate(user)).rejects.toMatchObject({ status: 400, retryable: false });
    expect(drivers.get('chat')!.calls).toHaveLength(1);
  });

  it('waits as long as Retry-After says', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 1 } });
    drivers.get('chat')!.steps.push(
      async () => {
        throw upstream(429, { retryAfterMs: 300 });
      },
      async () => 'ok',
    );
    const started = performance.now();
    await registry.llm('chat').generate(user);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(295);
    expect(took).toBeLessThan(2_000);
  });

  it('does not wait for a Retry-After that would overrun the deadline', async () => {
    // Refused at once, where waiting would last until the deadline, 3 s on.
    const { registry, drivers } = await setup({ chat: { maxRetries: 2, timeoutMs: 3_000 } });
    drivers.get('chat')!.steps.push(
      async () => {
        throw upstream(429, { retryAfterMs: 10_000 });
      },
      async () => 'never',
    );
    const started = performance.now();
    await expect(registry.llm('chat').generate(user)).rejects.toMatchObject({ status: 429 });
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);
    expect(drivers.get('chat')!.calls).toHaveLength(1);
  });
});

describe('deadline and cancellation', () => {
  it('ends a call at timeoutMs with a timeout ProviderError, aborting the driver', async () => {
    const { registry, drivers } = await setup({ chat: { timeoutMs: 150 } });
    let driverSawAbort = false;
    drivers.get('chat')!.steps.push((_, options) => waitForAbort(options).finally(() => (driverSawAbort = true)));
    const started = performance.now();
    const error = await registry
      .llm('chat')
      .generate(user)
      .catch((e: unknown) => e);
    // The driver never answers: without the deadline, the call would hang.
    expect(performance.now() - started).toBeLessThan(150 + AT_ONCE_MS);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'timeout', instance: 'chat', type: 'scripted' });
    expect((error as Error).message).toBe(
      'llm "chat" (scripted): no answer within timeoutMs 150 ms (1 attempt, retries and fallbacks included). Raise timeoutMs, or look at the upstream\'s health.',
    );
    expect(driverSawAbort).toBe(true);
  });

  it('a call option timeoutMs overrides the instance one', async () => {
    const { registry, drivers } = await setup({ chat: { timeoutMs: 60_000 } });
    drivers.get('chat')!.steps.push((_, options) => waitForAbort(options));
    await expect(registry.llm('chat').generate(user, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'timeout' });
  });

  it('rejects with an AbortError at once when the caller aborts, even while waiting to retry', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 3 } });
    drivers.get('chat')!.steps.push(async () => {
      throw upstream(429, { retryAfterMs: 10_000 });
    });
    const controller = new AbortController();
    const pending = registry.llm('chat').generate(user, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const error = await pending.catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    // Aborted 50 ms in, where the wait for the retry lasts 10 s.
    expect(performance.now() - started).toBeLessThan(50 + AT_ONCE_MS);
  });

  it('rejects at once even when the driver ignores the signal', async () => {
    const { registry, drivers } = await setup({ chat: {} });
    // The driver answers 5 s on, whatever the signal: a call that waited for it would take that long.
    drivers.get('chat')!.steps.push(() => new Promise((resolve) => setTimeout(() => resolve('late'), 5_000)));
    const controller = new AbortController();
    const pending = registry.llm('chat').generate(user, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const started = performance.now();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - started).toBeLessThan(20 + AT_ONCE_MS);
  });
});

describe('diagnostics channels', () => {
  it('publish each retry and each fallback, for metrics', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const { PROVIDER_RETRY_CHANNEL, PROVIDER_FALLBACK_CHANNEL } = await import('@hush/providers');
    const { registry, drivers } = await setup({ chat: { maxRetries: 1, backoffMaxMs: 5, fallbacks: ['backup'] }, backup: {} });
    drivers.get('chat')!.steps.push(
      async () => {
        throw upstream(503);
      },
      async () => {
        throw upstream(502);
      },
    );
    drivers.get('backup')!.steps.push(async () => 'saved');
    const events: unknown[] = [];
    const onRetry = (e: unknown) => void events.push({ retry: e });
    const onFallback = (e: unknown) => void events.push({ fallback: e });
    subscribe(PROVIDER_RETRY_CHANNEL, onRetry);
    subscribe(PROVIDER_FALLBACK_CHANNEL, onFallback);
    try {
      await registry.llm('chat').generate(user);
    } finally {
      unsubscribe(PROVIDER_RETRY_CHANNEL, onRetry);
      unsubscribe(PROVIDER_FALLBACK_CHANNEL, onFallback);
    }
    expect(events).toEqual([
      { retry: { kind: 'llm', instance: 'chat', type: 'scripted', attempt: 1, waitMs: expect.any(Number), error: expect.objectContaining({ status: 503 }) } },
      { fallback: { kind: 'llm', from: 'chat', to: 'backup', error: expect.objectContaining({ status: 502 }) } },
    ]);
  });
});

describe('attemptTimeoutMs', () => {
  it('abandons a hung attempt and retries, within the call deadline', async () => {
    const { registry, drivers } = await setup({ chat: { attemptTimeoutMs: 100, timeoutMs: 5_000, maxRetries: 1 } });
    let firstSawAbort = false;
    drivers.get('chat')!.steps.push(
      (_, options) => waitForAbort(options).finally(() => (firstSawAbort = true)),
      async () => 'second attempt',
    );
    const started = performance.now();
    expect((await registry.llm('chat').generate(user)).choices[0]!.message.content).toBe('second attempt');
    // The attempt timeout, then a backoff of at most 500 ms (the default base); a hung attempt left
    // running would hold the call until its deadline, 5 s on.
    expect(performance.now() - started).toBeLessThan(100 + 500 + AT_ONCE_MS);
    expect(firstSawAbort).toBe(true);
  });

  it('hands a hung primary to its fallback instead of spending the whole deadline', async () => {
    const { registry, drivers } = await setup({ chat: { attemptTimeoutMs: 100, maxRetries: 0, fallbacks: ['backup'] }, backup: {} });
    drivers.get('chat')!.steps.push((_, options) => waitForAbort(options));
    drivers.get('backup')!.steps.push(async () => 'from backup');
    const error = await registry
      .llm('chat')
      .generate(user)
      .then(
        (a) => a.choices[0]!.message.content,
        (e: unknown) => e,
      );
    expect(error).toBe('from backup');
  });

  it('fails with code attempt-timeout when no retry is left', async () => {
    const { registry, drivers } = await setup({ chat: { attemptTimeoutMs: 50, maxRetries: 0 } });
    drivers.get('chat')!.steps.push((_, options) => waitForAbort(options));
    await expect(registry.llm('chat').generate(user)).rejects.toMatchObject({
      code: 'attempt-timeout',
      retryable: true,
      message: 'llm "chat" (scripted): the attempt took longer than attemptTimeoutMs 50 ms.',
    });
  });
});

describe('fallbacks', () => {
  it('goes to the fallback after the primary fails retryably, under the same deadline', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 0, fallbacks: ['backup'] }, backup: {} });
    drivers.get('chat')!.steps.push(async () => {
      throw upstream(503);
    });
    drivers.get('backup')!.steps.push(async () => 'from backup');
    expect((await registry.llm('chat').generate(user)).choices[0]!.message.content).toBe('from backup');
  });

  it('does not fall back on a non-retryable failure', async () => {
    const { registry, drivers } = await setup({ chat: { fallbacks: ['backup'] }, backup: {} });
    drivers.get('chat')!.steps.push(async () => {
      throw upstream(401);
    });
    await expect(registry.llm('chat').generate(user)).rejects.toMatchObject({ status: 401 });
    expect(drivers.get('backup')!.calls).toHaveLength(0);
  });

  it('follows fallbacks of fallbacks, each name once', async () => {
    const { registry, drivers } = await setup({ a: { maxRetries: 0, fallbacks: ['b'] }, b: { maxRetries: 0, fallbacks: ['c'] }, c: {} });
    drivers.get('a')!.steps.push(async () => {
      throw upstream(500);
    });
    drivers.get('b')!.steps.push(async () => {
      throw upstream(500);
    });
    drivers.get('c')!.steps.push(async () => 'c answered');
    expect((await registry.llm('a').generate(user)).choices[0]!.message.content).toBe('c answered');
  });
});

describe('streams', () => {
  const collect = async (stream: AsyncIterable<{ choices: Array<{ delta: { content?: string | null } }> }>) => {
    const out: string[] = [];
    for await (const chunk of stream) out.push(chunk.choices[0]?.delta.content ?? '');
    return out;
  };

  it('retries and falls back before the first chunk, never after', async () => {
    const { registry, drivers } = await setup({ chat: { maxRetries: 1, fallbacks: ['backup'] }, backup: {} });
    const chat = drivers.get('chat')!;
    chat.streamSteps.push(
      () =>
        (async function* () {
          throw upstream(503);
        })(),
      () =>
        (async function* () {
          throw upstream(503);
        })(),
    );
    drivers.get('backup')!.streamSteps.push(() =>
      (async function* () {
        yield 'b1';
        yield 'b2';
      })(),
    );
    expect(await collect(registry.llm('chat').stream(user))).toEqual(['b1', 'b2']);
    expect(chat.calls).toHaveLength(2);

    chat.streamSteps.push(() =>
      (async function* () {
        yield 'a1';
        throw upstream(503);
      })(),
    );
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of registry.llm('chat').stream(user)) seen.push(chunk.choices[0]!.delta.content!);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['a1']);
    expect(error).toMatchObject({ status: 503 });
    expect(drivers.get('backup')!.calls).toHaveLength(1);
  });

  it('fails a stream that goes quiet for idleTimeoutMs, and aborts the upstream', async () => {
    const { registry, drivers } = await setup({ chat: { idleTimeoutMs: 100, maxRetries: 0 } });
    let upstreamAborted = false;
    drivers.get('chat')!.streamSteps.push((options) =>
      (async function* () {
        yield 'first';
        await waitForAbort(options).catch(() => (upstreamAborted = true));
      })(),
    );
    const seen: string[] = [];
    const started = performance.now();
    const error = await (async () => {
      for await (const chunk of registry.llm('chat').stream(user)) seen.push(chunk.choices[0]!.delta.content!);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['first']);
    expect(error).toMatchObject({ code: 'idle-timeout', retryable: true });
    // The stream never sends its second chunk: without the idle timeout, it would hang.
    expect(performance.now() - started).toBeLessThan(100 + AT_ONCE_MS);
    expect(upstreamAborted).toBe(true);
  });

  it('rejects the next iteration at once when the caller aborts mid-stream', async () => {
    const { registry, drivers } = await setup({ chat: {} });
    drivers.get('chat')!.streamSteps.push((options) =>
      (async function* () {
        yield 'first';
        await waitForAbort(options);
      })(),
    );
    const controller = new AbortController();
    const iterator = registry.llm('chat').stream(user, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value.choices[0].delta.content).toBe('first');
    const pending = iterator.next();
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('aborts the upstream when the consumer stops early', async () => {
    const { registry, drivers } = await setup({ chat: {} });
    let upstreamAborted = false;
    drivers.get('chat')!.streamSteps.push((options) =>
      (async function* () {
        options.signal.addEventListener('abort', () => (upstreamAborted = true));
        yield 'one';
        yield 'two';
        yield 'three';
      })(),
    );
    for await (const _ of registry.llm('chat').stream(user)) break;
    expect(upstreamAborted).toBe(true);
  });
});

describe('generateBatch', () => {
  it('keeps input order and runs at most `concurrency` calls at once', async () => {
    const { registry, drivers } = await setup({ chat: {} });
    let inFlight = 0;
    let peak = 0;
    const driver = drivers.get('chat')!;
    for (let i = 0; i < 12; i++) {
      driver.steps.push(async (messages) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        // Later items finish first, so order can only come from the library.
        await new Promise((r) => setTimeout(r, 40 - i * 3));
        inFlight--;
        return String(messages[0]!.content);
      });
    }
    const batch = Array.from({ length: 12 }, (_, i) => [{ role: 'user' as const, content: `q${i}` }]);
    const answers = await registry.llm('chat').generateBatch(batch, { concurrency: 3 });
    expect(answers.map((a) => a.choices[0]!.message.content)).toEqual(batch.map((b) => b[0]!.content));
    expect(peak).toBe(3);
  });

  it('refuses a concurrency that is not a whole number above 0', async () => {
    const { registry } = await setup({ chat: {} });
    await expect(registry.llm('chat').generateBatch([user], { concurrency: 0 })).rejects.toThrow(
      'llm "chat" (scripted): generateBatch concurrency must be a whole number ≥ 1; got 0.',
    );
  });
});

describe('params', () => {
  it('sends the instance params, with the call options over them', async () => {
    const { registry, drivers } = await setup({ chat: { params: { temperature: 0.2, max_tokens: 50 } } });
    await registry.llm('chat').generate(user, { max_tokens: 7, seed: 1 });
    const { signal, ...sent } = drivers.get('chat')!.calls[0]!.options;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(sent).toEqual({ temperature: 0.2, max_tokens: 7, seed: 1 });
  });
});
