import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { ProviderError, ProvidersConfigError, ProvidersModule, ProvidersRegistry, type LLM } from '@hush/providers';
import { llamaCppLLM } from '../libs/providers/src/providers/llama-cpp/llama-cpp.llm.js';
import { LlamaCppChatDriver } from '../libs/providers/src/providers/llama-cpp/llama-cpp-chat-driver.js';
import { llamaCppEmbedder } from '../libs/providers/src/providers/llama-cpp/llama-cpp.embedder.js';
import { llamaCppReranker } from '../libs/providers/src/providers/llama-cpp/llama-cpp.reranker.js';
import { loadedLlamaCppModels } from '../libs/providers/src/providers/llama-cpp/llama-cpp-runtime.js';
import { ensureTinyModels, norm, TINY_DIMENSIONS, type TinyModels } from './support/llama-models.js';
import { AT_ONCE_MS } from './support/timing.js';

const definitions = [llamaCppLLM, llamaCppEmbedder, llamaCppReranker];
const user = (content: string) => [{ role: 'user' as const, content }];

let tiny: TinyModels;
const warnings: string[] = [];

/** Keeps warnings (to check the tiny-model notice) and drops the rest of the log. */
class CapturingLogger implements LoggerService {
  log(): void {}
  error(): void {}
  debug(): void {}
  verbose(): void {}
  warn(message: unknown): void {
    warnings.push(String(message));
  }
}

async function boot(config: Record<string, unknown>): Promise<TestingModule> {
  const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ env: {}, configPath: [], config, providers: definitions })] })
    .setLogger(new CapturingLogger())
    .compile();
  await module.init();
  return module;
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const contentOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

beforeAll(() => {
  tiny = ensureTinyModels();
});

describe('llama-cpp: the three kinds in process, on the tiny random models', () => {
  let module: TestingModule;
  let registry: ProvidersRegistry;

  beforeAll(async () => {
    module = await boot({
      llm: {
        chat: { type: 'llama-cpp', model: tiny.chat, contextSize: 1024, sequences: 2 },
        capped: { type: 'llama-cpp', model: tiny.chat, contextSize: 4096, maxTokens: 5, params: { temperature: 0.5 } },
      },
      embedding: {
        docs: { type: 'llama-cpp', model: tiny.embedding, dimensions: TINY_DIMENSIONS.embedding, sequences: 2 },
        prefixed: { type: 'llama-cpp', model: tiny.embedding, queryPrefix: 'query: ', documentPrefix: 'passage: ' },
      },
      reranker: { default: { type: 'llama-cpp', model: tiny.reranker } },
      defaults: { llm: 'chat', embedding: 'docs' },
    });
    registry = module.get(ProvidersRegistry);
  });

  afterAll(async () => {
    await module?.close();
  });

  it('says once, at startup, that the models are the tiny random ones', () => {
    const notices = warnings.filter((w) => w.includes('RANDOM weights'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('noise');
  });

  it('shares one loaded model between the instances that name the same GGUF', () => {
    const chat = loadedLlamaCppModels().find((m) => m.path === tiny.chat);
    expect(chat).toEqual({ path: tiny.chat, gpu: false, leases: 2 });
    expect(loadedLlamaCppModels().find((m) => m.path === tiny.embedding)?.leases).toBe(2);
  });

  it("generates an OpenAI chat completion through the model's chat template, max_tokens honoured, with usage", async () => {
    const llm = registry.llm();
    const answer = await llm.generate(user('Say hello.'), { max_tokens: 8, seed: 1 });
    expect(answer).toMatchObject({ object: 'chat.completion', model: tiny.chat });
    expect(answer.id).toMatch(/^chatcmpl-/);
    expect(answer.choices).toHaveLength(1);
    expect(answer.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', message: { role: 'assistant' } });
    expect(typeof answer.choices[0]!.message.content).toBe('string');
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    // Llama 3 template: <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nSay hello.<|eot_id|> + the assistant header.
    expect(answer.usage).toEqual({ prompt_tokens: 13, completion_tokens: 8, total_tokens: 21 });

    const withSystem = await llm.generate([{ role: 'system', content: 'Be brief.' }, ...user('Say hello.')], { max_tokens: 3 });
    expect(withSystem.usage!.prompt_tokens).toBeGreaterThan(13);
    expect(withSystem.usage!.completion_tokens).toBe(3);
  });

  it('is deterministic for a seed, and the seed matters', async () => {
    const llm = registry.llm();
    const run = (seed: number) => llm.generate(user('Tell me a story.'), { max_tokens: 16, seed, temperature: 0.9 });
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(c.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
    // Greedy decoding (temperature 0) needs no seed to repeat itself.
    const g1 = await llm.generate(user('Tell me a story.'), { max_tokens: 10, temperature: 0 });
    const g2 = await llm.generate(user('Tell me a story.'), { max_tokens: 10, temperature: 0, seed: 99 });
    expect(g2.choices[0]!.message.content).toBe(g1.choices[0]!.message.content);
  });

  it('streams chunk by chunk: the role first, the same text as generate() for a seed, the finish reason, usage last', async () => {
    const llm = registry.llm();
    const options = { max_tokens: 12, seed: 3 };
    const chunks = await collect(llm.stream(user('Count to ten.'), options));
    const whole = await llm.generate(user('Count to ten.'), options);

    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    for (const c of chunks) expect(c).toMatchObject({ object: 'chat.completion.chunk', id: chunks[0]!.id, model: tiny.chat });
    const textChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(textChunks.length).toBeGreaterThan(1);
    expect(contentOf(chunks)).toBe(whole.choices[0]!.message.content);

    const finish = chunks.at(-2)!;
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: 'length' });
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(whole.usage);
    expect(last.usage!.completion_tokens).toBe(12);
  });

  it('leaves usage out of a stream when stream_options.include_usage is false', async () => {
    const chunks = await collect(registry.llm().stream(user('x'), { max_tokens: 2, stream_options: { include_usage: false } }));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('stops at a stop sequence, which is not part of the answer', async () => {
    const llm = registry.llm();
    const options = { max_tokens: 24, seed: 11, temperature: 0.9 };
    const pieces = (await collect(llm.stream(user('Write a line.'), options))).map((c) => c.choices[0]?.delta.content ?? '').filter(Boolean);
    // A stop string made of two whole pieces from the middle of the answer, not seen before them.
    const at = pieces.findIndex(
      (p, i) =>
        i >= 3 &&
        i + 1 < pieces.length &&
        p.trim().length > 0 &&
        !pieces
          .slice(0, i)
          .join('')
          .includes(p + pieces[i + 1]),
    );
    expect(at).toBeGreaterThan(0);
    const stop = pieces[at]! + pieces[at + 1]!;
    const expected = pieces.slice(0, at).join('');

    const stopped = await llm.generate(user('Write a line.'), { ...options, stop: [stop, 'a string that never comes'] });
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    expect(stopped.choices[0]!.message.content).toBe(expected);
    expect(stopped.usage!.completion_tokens).toBeLessThan(24);

    const streamed = await collect(llm.stream(user('Write a line.'), { ...options, stop }));
    expect(contentOf(streamed)).toBe(expected);
    expect(streamed.at(-2)!.choices[0]!.finish_reason).toBe('stop');
  });

  it("takes default parameters from YAML params and maxTokens, and the call's options over them", async () => {
    const capped = registry.llm('capped');
    expect((await capped.generate(user('x'))).usage!.completion_tokens).toBe(5);
    expect((await capped.generate(user('x'), { max_tokens: 2 })).usage!.completion_tokens).toBe(2);
  });

  it('serves concurrent calls in parallel sequences, and queues the rest, each answer to its caller', async () => {
    const llm = registry.llm();
    const seeds = [21, 22, 23, 24, 25, 26];
    const alone = await Promise.all(seeds.slice(0, 2).map((seed) => llm.generate(user('Hi'), { max_tokens: 6, seed })));
    const together = await Promise.all([
      ...seeds.map((seed) => llm.generate(user('Hi'), { max_tokens: 6, seed })),
      ...seeds.map((seed) => collect(llm.stream(user('Hi'), { max_tokens: 6, seed }))),
    ]);
    const texts = together.map((r) => (Array.isArray(r) ? contentOf(r) : r.choices[0]!.message.content));
    expect(texts).toHaveLength(12);
    expect(texts.slice(0, 2)).toEqual(alone.map((a) => a.choices[0]!.message.content));
    expect(texts.slice(6)).toEqual(texts.slice(0, 6));

    const batch = await llm.generateBatch(
      seeds.map((s) => user(`Question ${s}`)),
      { max_tokens: 4, concurrency: 3 },
    );
    expect(batch.map((b) => b.usage!.completion_tokens)).toEqual([4, 4, 4, 4, 4, 4]);
  });

  it('aborts at once through the signal, and generation stops so the sequence is free again', async () => {
    const llm: LLM = registry.llm('capped'); // one sequence: a call after the abort would wait for a runaway generation
    // 4000 tokens take the tiny model about 10 s on 2 cores: a generation that ran on would take seconds.
    const RUNAWAY = { max_tokens: 4_000 };
    const controller = new AbortController();
    const started = Date.now();
    const pending = llm.generate(user('Go on forever.'), { ...RUNAWAY, signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    const error = await pending.catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(30 + AT_ONCE_MS);

    const t0 = Date.now();
    const next = await llm.generate(user('x'), { max_tokens: 2 });
    expect(next.usage!.completion_tokens).toBe(2);
    expect(Date.now() - t0).toBeLessThan(AT_ONCE_MS);

    // A stream: abort while iterating; the next iteration rejects with AbortError.
    const streamAbort = new AbortController();
    const seen: string[] = [];
    const streamError = await (async () => {
      for await (const chunk of llm.stream(user('Go on forever.'), { ...RUNAWAY, signal: streamAbort.signal })) {
        seen.push(chunk.choices[0]?.delta.content ?? '');
        if (seen.length === 3) streamAbort.abort();
      }
    })().catch((e: unknown) => e);
    expect((streamError as Error).name).toBe('AbortError');
    expect(seen).toHaveLength(3);

    // A consumer that breaks early frees the sequence too.
    for await (const chunk of llm.stream(user('Go on forever.'), RUNAWAY)) if (chunk.choices[0]?.delta.content) break;
    const t1 = Date.now();
    await llm.generate(user('x'), { max_tokens: 2 });
    expect(Date.now() - t1).toBeLessThan(AT_ONCE_MS);
  });

  it('refuses what it cannot do with clear, non-retryable errors', async () => {
    const llm = registry.llm();
    const refused = async (promise: Promise<unknown>) => {
      const err = await promise.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).retryable).toBe(false);
      return (err as ProviderError).message;
    };
    expect(await refused(llm.generate([]))).toContain('messages must be a non-empty array');
    expect(await refused(llm.generate(user('x'), { n: 2 }))).toContain('n=2 is not supported');
    expect(await refused(llm.generate([{ role: 'function', content: 'r', name: 'f' }]))).toContain('role "function"');
    expect(await refused(llm.generate(user('x'.repeat(9000))))).toMatch(/the prompt is \d+ tokens; the context holds 1024/);
    expect(await refused(llm.generate(user('x'), { temperature: 7 }))).toContain('temperature must be a number from 0 to 2');
  });

  it('honours response_format json_object with a JSON grammar', async () => {
    const answer = await registry.llm().generate(user('Give JSON.'), { response_format: { type: 'json_object' }, max_tokens: 40, seed: 5 });
    const text = answer.choices[0]!.message.content!;
    expect(text.trimStart().startsWith('{') || text.trimStart().startsWith('[')).toBe(true);
  });

  it("embeds: one unit-length vector per input, of the model's dimensions, in order, deterministic", async () => {
    const embedder = registry.embedder();
    const texts = ['the cat sat on the mat', 'quantum chromodynamics', '', 'the cat sat on the mat'];
    const result = await embedder.embed(texts);
    expect(result.dimensions).toBe(TINY_DIMENSIONS.embedding);
    expect(result.embeddings).toHaveLength(4);
    for (const v of result.embeddings) {
      expect(v).toHaveLength(TINY_DIMENSIONS.embedding);
      expect(Math.abs(norm(v) - 1)).toBeLessThan(1e-5);
    }
    expect(result.embeddings[3]).toEqual(result.embeddings[0]);
    expect(result.embeddings[1]).not.toEqual(result.embeddings[0]);
    expect(result.usage!.promptTokens).toBeGreaterThan(8);
    expect(embedder.dimensions).toBe(TINY_DIMENSIONS.embedding);

    // Many texts: split into batches, served by two contexts at once, reassembled in order.
    const many = Array.from({ length: 300 }, (_, i) => `text number ${i}`);
    const big = await embedder.embed(many);
    expect(big.embeddings).toHaveLength(300);
    const spot = await embedder.embed([many[0]!, many[257]!, many[299]!]);
    expect([big.embeddings[0], big.embeddings[257], big.embeddings[299]]).toEqual(spot.embeddings);

    expect((await embedder.embed([])).embeddings).toEqual([]);
  });

  it('puts queryPrefix / documentPrefix before the texts, by inputType', async () => {
    const plain = registry.embedder('docs');
    const prefixed = registry.embedder('prefixed');
    const [asQuery, asDocument, neither] = await Promise.all([
      prefixed.embed('red apples', { inputType: 'query' }),
      prefixed.embed('red apples', { inputType: 'document' }),
      prefixed.embed('red apples'),
    ]);
    const expected = await plain.embed(['query: red apples', 'passage: red apples', 'red apples']);
    expect([asQuery.embeddings[0], asDocument.embeddings[0], neither.embeddings[0]]).toEqual(expected.embeddings);
  });

  it('reranks: every document scored from 0 to 1, sorted, topK and threshold applied', async () => {
    const reranker = registry.reranker();
    const documents = ['Paris is the capital of France.', 'Bananas are yellow.', 'The Eiffel Tower is in Paris.', 'x', 'A long document. '.repeat(80)];
    const results = await reranker.rerank('Where is the Eiffel Tower?', documents);
    expect(results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const r of results) {
      expect(r.document).toBe(documents[r.index]);
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(1);
    }
    expect(results.map((r) => r.score)).toEqual([...results.map((r) => r.score)].sort((a, b) => b - a));
    expect(await reranker.rerank('Where is the Eiffel Tower?', documents)).toEqual(results);
    expect(new Set(results.map((r) => r.score)).size).toBeGreaterThan(1);

    const top = await reranker.rerank('Where is the Eiffel Tower?', documents, { topK: 2 });
    expect(top).toEqual(results.slice(0, 2));
    const threshold = results[2]!.score;
    expect(await reranker.rerank('Where is the Eiffel Tower?', documents, { threshold })).toEqual(results.filter((r) => r.score >= threshold));
  });
});

describe('llama-cpp: lifecycle and config', () => {
  it('frees every model on close()', async () => {
    const module = await boot({
      llm: { a: { type: 'llama-cpp', model: tiny.chat, contextSize: 256 } },
      embedding: { e: { type: 'llama-cpp', model: tiny.embedding } },
      reranker: { r: { type: 'llama-cpp', model: tiny.reranker } },
    });
    const before = loadedLlamaCppModels().map((m) => m.path);
    expect(before).toEqual(expect.arrayContaining([tiny.chat, tiny.embedding, tiny.reranker]));
    const llm = module.get(ProvidersRegistry).llm('a');
    const running = llm.generate(user('Go on forever.'), { max_tokens: 200 }).catch((e: unknown) => e);
    await module.close();
    const after = loadedLlamaCppModels().map((m) => m.path);
    expect(after).not.toContain(tiny.chat);
    expect(after).not.toContain(tiny.embedding);
    expect(after).not.toContain(tiny.reranker);
    const outcome = await running;
    expect(outcome instanceof Error ? outcome.name : 'answered').toMatch(/AbortError|answered/);
    const again = await llm.generate(user('x')).catch((e: unknown) => e);
    expect((again as Error).message).toMatch(/closed|aborted|shut down/);
  });

  it('reports a missing GGUF file, a non-reranking model and an unknown key at bootstrap', async () => {
    const error = await boot({
      llm: { a: { type: 'llama-cpp', model: 'models/does-not-exist.gguf' } },
      reranker: { r: { type: 'llama-cpp', model: tiny.embedding } },
      embedding: { e: { type: 'llama-cpp', model: tiny.embedding, contextsize: 10 } },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvidersConfigError);
    const message = (error as Error).message;
    expect(message).toContain('contextsize');
    // Validation errors come first; then the instances that could not be created.
    const created = await boot({
      llm: { a: { type: 'llama-cpp', model: 'models/does-not-exist.gguf' } },
      reranker: { r: { type: 'llama-cpp', model: tiny.embedding } },
    }).catch((e: unknown) => e);
    expect(created).toBeInstanceOf(ProvidersConfigError);
    expect((created as Error).message).toContain('llama-cpp model file not found');
    expect((created as Error).message).toContain('does-not-exist.gguf');
    expect((created as Error).message).toContain('is not a reranking model');
    expect(loadedLlamaCppModels().find((m) => m.path === tiny.embedding)).toBeUndefined();
  });

  it('validates the llama-cpp keys', async () => {
    const error = await boot({
      llm: { a: { type: 'llama-cpp', model: tiny.chat, sequences: 0, gpu: 'yes', maxTokens: -1, threads: 'many' } },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvidersConfigError);
    const paths = (error as ProvidersConfigError).issues.map((i) => i.path).join(' ');
    for (const key of ['sequences', 'gpu', 'maxTokens', 'threads']) expect(paths).toContain(key);
  });

  it('takes numbers and booleans from ${VAR} interpolation', async () => {
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          env: { CTX: '512', SEQ: '1', GPU: 'false' },
          configPath: [],
          config: { llm: { a: { type: 'llama-cpp', model: tiny.chat, contextSize: '${CTX}', sequences: '${SEQ}', gpu: '${GPU}' } } },
          providers: definitions,
        }),
      ],
    }).compile();
    const llm = module.get(ProvidersRegistry).llm('a') as unknown as { primaryDriver: LlamaCppChatDriver };
    expect(llm.primaryDriver.contextSize).toBe(512);
    await module.close();
  });

  it('says "install node-llama-cpp to use type llama-cpp" where node-llama-cpp is not installed', () => {
    // The runtime module, compiled alone into a folder with no node_modules above it.
    const source = readFileSync(new URL('../libs/providers/src/providers/llama-cpp/llama-cpp-runtime.ts', import.meta.url), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const dir = mkdtempSync(join(tmpdir(), 'hush-no-llama-'));
    try {
      writeFileSync(join(dir, 'runtime.mjs'), js);
      const script = `import('${join(dir, 'runtime.mjs')}').then((m) => m.loadNodeLlamaCpp()).then(() => console.log('loaded'), (e) => console.log(e.message));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
      expect(out.trim()).toBe(
        'install node-llama-cpp to use type llama-cpp (npm install node-llama-cpp); it is an optional peer dependency of @hush/providers',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imports node-llama-cpp only when a llama-cpp instance is created (types only at load time)', () => {
    const dir = new URL('../libs/providers/src/providers/llama-cpp/', import.meta.url);
    for (const file of readdirSync(dir)) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      // Whole import statements, however they are wrapped.
      for (const statement of source.match(/^import[^;]*?from 'node-llama-cpp'/gm) ?? []) expect(statement).toMatch(/^import type /);
    }
    const runtime = readFileSync(new URL('llama-cpp-runtime.ts', dir), 'utf8');
    expect(runtime).toContain("import('node-llama-cpp')");
  });
});
