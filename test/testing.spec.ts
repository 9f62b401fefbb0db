import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { FakeEmbedder, FakeLLM, FakeReranker, ProvidersTestingModule, estimateTokens, wordOverlapScore } from '@hush/providers/testing';
import {
  Embedder,
  getLLMToken,
  InjectEmbedder,
  InjectLLM,
  InjectReranker,
  LLM,
  NoDefaultInstanceError,
  ProviderAbortError,
  ProviderError,
  ProvidersConfigError,
  ProvidersRegistry,
  Reranker,
} from '@hush/providers';
import { AT_ONCE_MS } from './support/timing.js';

const user = (content: string): ChatCompletionMessageParam => ({ role: 'user', content });
const textOf = (c: ChatCompletion) => c.choices[0]?.message.content;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * Resolves with the rejection of `promise` (failing if it resolves), and how long it took. The abort
 * tests abort 20 ms in, and expect the rejection within AT_ONCE_MS of that; the fakes they abort
 * would otherwise wait 10 s, or forever.
 */
async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
  throw new Error('expected a rejection');
}

/** The error `use` throws (failing if it does not throw). */
function thrownBy(use: () => unknown): unknown {
  try {
    use();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectNoDefault(error: unknown, message: string): void {
  expect(error).toBeInstanceOf(NoDefaultInstanceError);
  expect((error as Error).message).toBe(message);
}

function expectAbortError(error: unknown): void {
  expect(error).toBeInstanceOf(ProviderAbortError);
  expect((error as Error).name).toBe('AbortError');
}

describe('FakeLLM', () => {
  it('rejects the next calls with the failNext errors before the script', async () => {
    const llm = new FakeLLM({ replies: ['scripted'] });
    const down = new Error('down');
    llm.failNext(down);
    await expect(llm.generate([user('a')])).rejects.toBe(down);
    expect(textOf(await llm.generate([user('b')]))).toBe('scripted');
    expect(llm.calls).toHaveLength(2);
  });

  it('gives the scripted replies in order, then echoes the last user message', async () => {
    const llm = new FakeLLM({ replies: ['one', 'two'] });
    const messages = [user('first'), { role: 'assistant', content: 'x' } as const, user('echo me')];
    expect(textOf(await llm.generate(messages))).toBe('one');
    expect(textOf(await llm.generate(messages))).toBe('two');
    expect(textOf(await llm.generate(messages))).toBe('echo me');
    expect(textOf(await llm.generate([user('again')]))).toBe('again');
    expect(llm.remaining).toBe(0);
  });

  it('returns a complete chat.completion with estimated usage', async () => {
    const llm = new FakeLLM({ model: 'm-1', replies: ['a reply'] });
    const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: 'be brief' }, user('hello there')];
    const completion = await llm.generate(messages);
    expect(completion).toMatchObject({
      object: 'chat.completion',
      model: 'm-1',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'a reply', refusal: null } }],
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.created).toBeCloseTo(Date.now() / 1000, -1);
    // ceil(8/4) + ceil(11/4) prompt tokens, ceil(7/4) completion tokens.
    expect(completion.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    expect(estimateTokens('hello there')).toBe(3);
  });

  it('uses the given default, reply functions and whole completions', async () => {
    const canned: ChatCompletion = {
      id: 'chatcmpl-canned',
      object: 'chat.completion',
      created: 1,
      model: 'canned',
      choices: [{ index: 0, finish_reason: 'length', logprobs: null, message: { role: 'assistant', content: 'cut', refusal: null } }],
    };
    const llm = new FakeLLM({
      replies: [canned, async (messages, options) => `${messages.length} messages at ${options.temperature}`],
      default: 'fallback',
    });
    const first = await llm.generate([user('q')]);
    expect(first).toEqual(canned);
    expect(first).not.toBe(canned);
    expect(textOf(await llm.generate([user('q'), user('r')], { temperature: 0.5 }))).toBe('2 messages at 0.5');
    expect(textOf(await llm.generate([user('q')]))).toBe('fallback');
    expect(textOf(await llm.generate([user('q')]))).toBe('fallback');
  });

  it('rejects with a scripted error, then carries on with the script', async () => {
    const down = new Error('upstream down');
    const llm = new FakeLLM({ replies: [down, 'after'], default: () => new Error('returned, not thrown') });
    await expect(llm.generate([user('q')])).rejects.toBe(down);
    expect(textOf(await llm.generate([user('q')]))).toBe('after');
    await expect(llm.generate([user('q')])).rejects.toThrow('returned, not thrown');
    await expect(collect(new FakeLLM({ replies: [down] }).stream([user('q')]))).rejects.toBe(down);
  });

  it('records calls without the signal, scripts more with reply/enqueue, and resets', async () => {
    const llm = new FakeLLM({ replies: ['initial'] });
    const signal = new AbortController().signal;
    await llm.generate([user('a')], { temperature: 0, signal });
    llm.reply('r1').enqueue('e1', 'e2');
    expect(llm.remaining).toBe(3);
    await collect(llm.stream([user('b')], { max_tokens: 5 }));
    expect(llm.calls).toEqual([
      { method: 'generate', messages: [user('a')], options: { temperature: 0 } },
      { method: 'stream', messages: [user('b')], options: { max_tokens: 5 } },
    ]);
    expect(llm.lastCall?.method).toBe('stream');
    expect(textOf(await llm.generate([user('c')]))).toBe('e1');

    llm.reset();
    expect(llm.calls).toEqual([]);
    expect(textOf(await llm.generate([user('c')]))).toBe('initial');
  });

  it('keeps the recorded messages even when the caller mutates its array afterwards', async () => {
    const llm = new FakeLLM();
    const history = [user('one')];
    await llm.generate(history);
    history.push(user('two'));
    expect(llm.calls[0]?.messages).toEqual([user('one')]);
  });

  describe('stream', () => {
    it('yields a role chunk, content pieces, a finish chunk and a usage chunk', async () => {
      const llm = new FakeLLM({ model: 'm-2', replies: ['Hello, world!', 'Hello, world!'], chunkSize: 5 });
      const chunks = await collect(llm.stream([user('hi')]));
      const generated = await llm.generate([user('hi')]);

      expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
        { role: 'assistant', content: '', refusal: null },
        { content: 'Hello' },
        { content: ', wor' },
        { content: 'ld!' },
        {},
        undefined,
      ]);
      expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, null, null, null, 'stop', undefined]);
      const ids = new Set(chunks.map((c) => c.id));
      expect(ids.size).toBe(1);
      for (const chunk of chunks) {
        expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'm-2' });
      }
      const last = chunks.at(-1) as ChatCompletionChunk;
      expect(last.choices).toEqual([]);
      expect(last.usage).toEqual(generated.usage);
      expect(last.usage).toEqual({ prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 });
      expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    });

    it('never splits a character made of two UTF-16 units', async () => {
      const llm = new FakeLLM({ replies: ['😀a😀'], chunkSize: 1 });
      const pieces = (await collect(llm.stream([user('q')]))).flatMap((c) => c.choices[0]?.delta.content ?? []);
      expect(pieces.filter((p) => p !== '')).toEqual(['😀', 'a', '😀']);
    });

    it('streams the tool calls and finish reason of a scripted completion', async () => {
      const toolCall = { id: 'call_1', type: 'function' as const, function: { name: 'lookup', arguments: '{"q":"x"}' } };
      const llm = new FakeLLM({
        replies: [
          {
            id: 'chatcmpl-t',
            object: 'chat.completion',
            created: 2,
            model: 'tools',
            usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
            choices: [
              {
                index: 0,
                finish_reason: 'tool_calls',
                logprobs: null,
                message: { role: 'assistant', content: null, refusal: null, tool_calls: [toolCall] },
              },
            ],
          },
        ],
      });
      const chunks = await collect(llm.stream([user('q')]));
      expect(chunks.map((c) => c.choices[0]?.delta.tool_calls).filter(Boolean)).toEqual([[{ index: 0, ...toolCall }]]);
      expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
      expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
      expect(chunks.every((c) => c.id === 'chatcmpl-t')).toBe(true);
    });

    it('takes its reply when called, not when first iterated', async () => {
      const llm = new FakeLLM({ replies: ['for the stream', 'for generate'] });
      const stream = llm.stream([user('q')]);
      expect(textOf(await llm.generate([user('q')]))).toBe('for generate');
      const text = (await collect(stream)).map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe('for the stream');
    });
  });

  describe('generateBatch', () => {
    it('keeps input order while replies finish out of order', async () => {
      const llm = new FakeLLM({
        // Earlier items take longer, so they finish last.
        default: async (messages) => {
          const n = Number((messages[0] as { content: string }).content);
          await delay((5 - n) * 10);
          return `answer ${n}`;
        },
      });
      const results = await llm.generateBatch(
        [0, 1, 2, 3, 4].map((n) => [user(String(n))]),
        { concurrency: 5 },
      );
      expect(results.map(textOf)).toEqual(['answer 0', 'answer 1', 'answer 2', 'answer 3', 'answer 4']);
      expect(llm.calls.map((c) => c.method)).toEqual(Array(5).fill('generate'));
      expect(llm.calls[0]?.options).toEqual({});
    });

    it.each([
      [2, 2],
      [undefined, 4],
    ])('runs at most concurrency=%s calls at once (max %s)', async (concurrency, expected) => {
      let inFlight = 0;
      let maxInFlight = 0;
      const llm = new FakeLLM({
        default: async () => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await delay(15);
          inFlight--;
          return 'ok';
        },
      });
      const batch = Array.from({ length: 10 }, (_, i) => [user(`q${i}`)]);
      const results = await llm.generateBatch(batch, concurrency === undefined ? {} : { concurrency });
      expect(results).toHaveLength(10);
      expect(maxInFlight).toBe(expected);
    });

    it('gives scripted replies to the items in input order, and rejects on a scripted error', async () => {
      const llm = new FakeLLM({ replies: ['a', 'b', 'c'] });
      expect((await llm.generateBatch([[user('1')], [user('2')], [user('3')]], { concurrency: 3 })).map(textOf)).toEqual(['a', 'b', 'c']);
      const failing = new FakeLLM({ replies: ['a', new Error('item 2 failed'), 'c'] });
      await expect(failing.generateBatch([[user('1')], [user('2')], [user('3')]])).rejects.toThrow('item 2 failed');
    });
  });

  describe('abort', () => {
    it('rejects at once when the signal is already aborted', async () => {
      const llm = new FakeLLM({ replies: ['never'] });
      const { error } = await rejection(llm.generate([user('q')], { signal: AbortSignal.abort() }));
      expectAbortError(error);
      const { error: streamError } = await rejection(collect(llm.stream([user('q')], { signal: AbortSignal.abort() })));
      expectAbortError(streamError);
    });

    it('rejects at once when aborted during the delay', async () => {
      const llm = new FakeLLM({ delayMs: 10_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      const { error, ms } = await rejection(llm.generate([user('q')], { signal: controller.signal }));
      expectAbortError(error);
      expect(ms).toBeLessThan(20 + AT_ONCE_MS);
    });

    it('rejects at once when aborted while a reply function hangs', async () => {
      const llm = new FakeLLM({ default: () => new Promise<string>(() => undefined) });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      const { error, ms } = await rejection(llm.generate([user('q')], { signal: controller.signal }));
      expectAbortError(error);
      expect(ms).toBeLessThan(20 + AT_ONCE_MS);
    });

    it("rejects the stream's next iteration when aborted between chunks", async () => {
      const llm = new FakeLLM({ replies: ['abcdefghij'], chunkSize: 1 });
      const controller = new AbortController();
      const iterator = llm.stream([user('q')], { signal: controller.signal })[Symbol.asyncIterator]();
      expect((await iterator.next()).value.choices[0].delta.role).toBe('assistant');
      expect((await iterator.next()).value.choices[0].delta.content).toBe('a');
      controller.abort();
      expectAbortError((await rejection(iterator.next())).error);
    });

    it('rejects a pending stream iteration when aborted during the chunk delay', async () => {
      const llm = new FakeLLM({ replies: ['abc'], chunkSize: 1, chunkDelayMs: 10_000 });
      const controller = new AbortController();
      const iterator = llm.stream([user('q')], { signal: controller.signal })[Symbol.asyncIterator]();
      await iterator.next();
      setTimeout(() => controller.abort(), 20);
      const { error, ms } = await rejection(iterator.next());
      expectAbortError(error);
      expect(ms).toBeLessThan(20 + AT_ONCE_MS);
    });

    it('rejects a whole batch when aborted', async () => {
      const llm = new FakeLLM({ delayMs: 10_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      const { error, ms } = await rejection(llm.generateBatch([[user('1')], [user('2')]], { signal: controller.signal }));
      expectAbortError(error);
      expect(ms).toBeLessThan(20 + AT_ONCE_MS);
    });
  });
});

describe('FakeEmbedder', () => {
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  it('gives deterministic unit vectors, the same text the same, different texts different', async () => {
    const a = await new FakeEmbedder().embed(['cat', 'dog', 'cat']);
    const b = await new FakeEmbedder().embed(['cat']);
    expect(a.dimensions).toBe(8);
    expect(a.embeddings).toHaveLength(3);
    for (const v of a.embeddings) {
      expect(v).toHaveLength(8);
      expect(norm(v)).toBeCloseTo(1, 10);
    }
    expect(a.embeddings[0]).toEqual(a.embeddings[2]);
    expect(b.embeddings[0]).toEqual(a.embeddings[0]);
    expect(a.embeddings[0]).not.toEqual(a.embeddings[1]);
  });

  it('keeps input order and treats a string as one input', async () => {
    const embedder = new FakeEmbedder({ model: 'e-1' });
    const batch = await embedder.embed(['one', 'two', 'three']);
    const single = await Promise.all(['one', 'two', 'three'].map((t) => embedder.embed(t)));
    expect(single.map((r) => r.embeddings)).toEqual(batch.embeddings.map((v) => [v]));
    expect(batch.model).toBe('e-1');
    // ceil(3/4) + ceil(3/4) + ceil(5/4)
    expect(batch.usage).toEqual({ promptTokens: 4, totalTokens: 4 });
    expect(embedder.calls[1]?.input).toEqual(['one']);
  });

  it('returns no vectors and records no call for an empty input', async () => {
    const embedder = new FakeEmbedder();
    const result = await embedder.embed([]);
    expect(result.embeddings).toEqual([]);
    expect(embedder.calls).toEqual([]);
  });

  it('uses fixed vectors, the configured dimensions and a call override', async () => {
    const embedder = new FakeEmbedder({ vectors: { north: [0, 1, 0], east: [1, 0, 0] } });
    expect(embedder.dimensions).toBe(3);
    const fixed = await embedder.embed(['north', 'east', 'other']);
    expect(fixed.embeddings.slice(0, 2)).toEqual([
      [0, 1, 0],
      [1, 0, 0],
    ]);
    expect(fixed.embeddings[2]).toHaveLength(3);

    const wide = new FakeEmbedder({ dimensions: 16 });
    const overridden = await wide.embed('text', { dimensions: 4, inputType: 'query' });
    expect(overridden.dimensions).toBe(4);
    expect(overridden.embeddings[0]).toHaveLength(4);
    expect(norm(overridden.embeddings[0] as number[])).toBeCloseTo(1, 10);
    expect((await wide.embed('text')).embeddings[0]).toHaveLength(16);
    expect(wide.calls[0]?.options).toEqual({ dimensions: 4, inputType: 'query' });

    // A fixed vector can't be shortened: a wrong length is an error, never returned.
    const error = (await rejection(embedder.embed('north', { dimensions: 2 }))).error;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'dimensions', instance: 'fake', retryable: false });
    expect(() => new FakeEmbedder({ dimensions: 4, vectors: { x: [1, 0] } })).toThrow(RangeError);
  });

  it('honours the signal and scripted failures', async () => {
    const embedder = new FakeEmbedder({ delayMs: 10_000 });
    expectAbortError((await rejection(embedder.embed('x', { signal: AbortSignal.abort() }))).error);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const { error, ms } = await rejection(embedder.embed('x', { signal: controller.signal }));
    expectAbortError(error);
    expect(ms).toBeLessThan(20 + AT_ONCE_MS);

    const quick = new FakeEmbedder().failNext(new Error('quota'));
    await expect(quick.embed('x')).rejects.toThrow('quota');
    expect((await quick.embed('x')).embeddings).toHaveLength(1);
  });
});

describe('FakeReranker', () => {
  const docs = ['the cat sat', 'dogs bark loudly', 'a cat and a dog', 'nothing here', 'CAT DOG'];

  it('scores by word overlap by default, highest first, ties in input order', async () => {
    const results = await new FakeReranker().rerank('cat dog', docs);
    expect(results.map((r) => [r.index, r.score])).toEqual([
      [2, 1],
      [4, 1],
      [0, 0.5],
      [1, 0],
      [3, 0],
    ]);
    expect(results[0]?.document).toBe('a cat and a dog');
    expect(wordOverlapScore('', 'anything')).toBe(0);
  });

  it('drops scores below the threshold, then keeps topK', async () => {
    const reranker = new FakeReranker({ scores: [0.2, 0.9, 0.5, 0.7, 0.4] });
    const all = await reranker.rerank('q', ['a', 'b', 'c', 'd', 'e']);
    expect(all.map((r) => r.index)).toEqual([1, 3, 2, 4, 0]);
    const thresholded = await reranker.rerank('q', ['a', 'b', 'c', 'd', 'e'], { threshold: 0.5 });
    expect(thresholded.map((r) => r.score)).toEqual([0.9, 0.7, 0.5]);
    const top = await reranker.rerank('q', ['a', 'b', 'c', 'd', 'e'], { threshold: 0.45, topK: 2 });
    expect(top).toEqual([
      { index: 1, score: 0.9, document: 'b' },
      { index: 3, score: 0.7, document: 'd' },
    ]);
    const few = await reranker.rerank('q', ['a', 'b', 'c', 'd', 'e'], { threshold: 0.8, topK: 3 });
    expect(few.map((r) => r.index)).toEqual([1]);
    await expect(reranker.rerank('q', Array(6).fill('x'))).rejects.toThrow(RangeError);
  });

  it('uses a score function and records calls', async () => {
    const reranker = new FakeReranker({ score: (_q, document) => document.length });
    const results = await reranker.rerank('q', ['xx', 'x', 'xxx'], { topK: 2 });
    expect(results.map((r) => r.document)).toEqual(['xxx', 'xx']);
    expect(reranker.calls).toEqual([{ query: 'q', documents: ['xx', 'x', 'xxx'], options: { topK: 2 } }]);
  });

  it('honours the signal', async () => {
    const reranker = new FakeReranker({ delayMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const { error, ms } = await rejection(reranker.rerank('q', ['a'], { signal: controller.signal }));
    expectAbortError(error);
    expect(ms).toBeLessThan(20 + AT_ONCE_MS);
    expectAbortError((await rejection(reranker.rerank('q', ['a'], { signal: AbortSignal.abort() }))).error);
  });
});

describe('ProvidersTestingModule', () => {
  @Injectable()
  class AskService {
    constructor(
      @InjectLLM('chat') readonly chat: LLM,
      readonly defaultLLM: LLM,
      @InjectEmbedder() readonly embedder: Embedder,
      @InjectReranker('rank') readonly reranker: Reranker,
      readonly registry: ProvidersRegistry,
    ) {}

    async ask(question: string): Promise<string | null | undefined> {
      return textOf(await this.chat.generate([user(question)]));
    }
  }

  it('injects named instances by decorator, the default by type, and the registry', async () => {
    const chat = new FakeLLM({ replies: ['hi'] });
    const fallback = new FakeLLM({ name: 'kept' });
    const docs = new FakeEmbedder();
    const rank = new FakeReranker();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ProvidersTestingModule.forRoot({
          llm: { chat, default: fallback },
          embedding: { docs },
          reranker: { rank },
        }),
      ],
      providers: [AskService],
    }).compile();
    const service = moduleRef.get(AskService);

    expect(service.chat).toBe(chat);
    expect(service.defaultLLM).toBe(fallback); // the one named 'default'
    expect(service.embedder).toBe(docs); // the only one
    expect(service.reranker).toBe(rank);
    expect(service.registry.llm('chat')).toBe(chat);
    expect(service.registry.llm()).toBe(fallback);
    expect(service.registry.names('llm')).toEqual(['chat', 'default']);
    expect(moduleRef.get(getLLMToken('chat'))).toBe(chat);

    // Unnamed fakes take their key; a given name is kept.
    expect([chat.name, fallback.name, docs.name, rank.name]).toEqual(['chat', 'kept', 'docs', 'rank']);

    expect(await service.ask('hello?')).toBe('hi');
    expect(chat.calls[0]?.messages).toEqual([user('hello?')]);
    await moduleRef.close();
  });

  it('lets defaults.<kind> pick the default', async () => {
    const a = new FakeLLM();
    const b = new FakeLLM();
    const moduleRef = await Test.createTestingModule({
      imports: [ProvidersTestingModule.forRoot({ llm: { a, b, default: new FakeLLM() }, defaults: { llm: 'b' } })],
    }).compile();
    expect(moduleRef.get(LLM)).toBe(b);
    expect(moduleRef.get(ProvidersRegistry).defaultName('llm')).toBe('b');
  });

  const noDefaultLLM = (names: string) =>
    `No default LLM: there are 2 llm entries (${names}), none is named "default" and defaults.llm is not set. Set defaults.llm, or inject by name.`;

  it('fails only when asked for a default it cannot decide, and says why', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ProvidersTestingModule.forRoot({ llm: { a: new FakeLLM(), b: new FakeLLM() } })],
    }).compile();
    // The no-name tokens give a stand-in that throws the registry's error on first use.
    const standIn = moduleRef.get(LLM);
    expect(moduleRef.get(getLLMToken())).toBe(standIn);
    expectNoDefault(
      thrownBy(() => standIn.generate([user('q')])),
      noDefaultLLM('a, b'),
    );
    expectNoDefault(
      thrownBy(() => moduleRef.get(Embedder).dimensions),
      'No default embedder: there is no embedding entry at all.',
    );
    const registry = moduleRef.get(ProvidersRegistry);
    expectNoDefault(
      thrownBy(() => registry.llm()),
      noDefaultLLM('a, b'),
    );
    expect(() => registry.embedder()).toThrow(NoDefaultInstanceError);
    expect(registry.llm('a')).toBeInstanceOf(FakeLLM);
    await moduleRef.close();
  });

  it('fails to compile when a service injects a default it cannot decide, naming the service', async () => {
    // AskService needs the default LLM, and has everything else.
    const error = await Test.createTestingModule({
      imports: [
        ProvidersTestingModule.forRoot({
          llm: { chat: new FakeLLM(), b: new FakeLLM() },
          embedding: { docs: new FakeEmbedder() },
          reranker: { rank: new FakeReranker() },
        }),
      ],
      providers: [AskService],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expectNoDefault(error, `${noDefaultLLM('chat, b')} (asked for by AskService)`);
  });

  it("binds a decided default as a singleton: get(LLM) is the registry's default", async () => {
    const only = new FakeLLM();
    const moduleRef = await Test.createTestingModule({ imports: [ProvidersTestingModule.forRoot({ llm: { only } })] }).compile();
    expect(moduleRef.get(LLM)).toBe(only);
    expect(moduleRef.get(getLLMToken())).toBe(moduleRef.get(ProvidersRegistry).llm());
    await moduleRef.close();
  });

  it('rejects a defaults.<kind> that names a missing entry', () => {
    expect(() => ProvidersTestingModule.forRoot({ llm: { a: new FakeLLM() }, defaults: { llm: 'nope' } })).toThrow(ProvidersConfigError);
  });

  it('works with overrideProvider like the real module', async () => {
    const replacement = new FakeLLM({ replies: ['overridden'] });
    const moduleRef = await Test.createTestingModule({
      imports: [ProvidersTestingModule.forRoot({ llm: { chat: new FakeLLM() } })],
    })
      .overrideProvider(getLLMToken('chat'))
      .useValue(replacement)
      .compile();
    expect(moduleRef.get(getLLMToken('chat'))).toBe(replacement);
  });
});
