import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { ProviderError, ProvidersModule, ProvidersRegistry } from '@hush/providers';
import { ensureTinyModels, norm, TINY_DIMENSIONS } from './support/llama-models.js';
import { llamaServerBinary, startLlamaServer, type LlamaServer } from './support/llama-server.js';
import { AT_ONCE_MS } from './support/timing.js';

/**
 * The library against a real OpenAI-compatible server written by someone else: llama.cpp's own
 * llama-server, built from the source node-llama-cpp carries (scripts/llama-server.mjs; `npm test`
 * builds it once in pretest, into a cache outside the repository), serving the tiny random models.
 * The text is noise: these tests check shapes, counts, finish reasons, order and timing.
 */
const binary = llamaServerBinary();
const skip = process.env.HUSH_SKIP_LLAMA_SERVER === '1';

const user = (content: string) => [{ role: 'user' as const, content }];
const contentOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe.skipIf(skip)('llama-server (llama.cpp) through openai-compatible and vllm types', () => {
  const servers: LlamaServer[] = [];
  let chat: LlamaServer;
  let embedding: LlamaServer;
  let reranker: LlamaServer;
  let module: TestingModule;
  let registry: ProvidersRegistry;

  beforeAll(async () => {
    if (!binary) {
      throw new Error(
        'llama-server is not built: run `node scripts/llama-server.mjs build` (npm test does it in its pretest step, once; ' +
          'about 5 minutes on 2 cores, cached in ~/.cache/hush-providers), or set HUSH_SKIP_LLAMA_SERVER=1 to skip this suite.',
      );
    }
    const tiny = ensureTinyModels();
    const start = (model: string, alias: string, args: string[]) =>
      startLlamaServer({ binary, model, alias, args, readyTimeoutMs: 45_000 }).then((s) => {
        servers.push(s);
        return s;
      });
    [chat, embedding, reranker] = await Promise.all([
      start(tiny.chat, 'tiny-chat', ['-c', '4096', '-np', '2']),
      start(tiny.embedding, 'tiny-embedding', ['--embedding', '-c', '2048', '-b', '512', '-ub', '512']),
      start(tiny.reranker, 'tiny-reranker', ['--rerank', '-c', '2048', '-b', '512', '-ub', '512']),
    ]);
    module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          env: {},
          configPath: [],
          config: {
            llm: {
              chat: { type: 'openai-compatible', baseUrl: `${chat.url}/v1`, model: 'tiny-chat', maxRetries: 0, timeoutMs: 20_000 },
            },
            embedding: {
              docs: {
                type: 'openai-compatible',
                baseUrl: `${embedding.url}/v1`,
                model: 'tiny-embedding',
                dimensions: TINY_DIMENSIONS.embedding,
                batchSize: 16,
              },
              floats: { type: 'openai-compatible', baseUrl: `${embedding.url}/v1`, model: 'tiny-embedding', encodingFormat: 'float' },
            },
            reranker: {
              default: { type: 'vllm', baseUrl: reranker.url, model: 'tiny-reranker', batchSize: 4 },
              v1: { type: 'vllm', baseUrl: `${reranker.url}/v1` },
            },
            defaults: { embedding: 'docs' },
          },
        }),
      ],
    })
      .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {} })
      .compile();
    registry = module.get(ProvidersRegistry);
  }, 120_000);

  afterAll(async () => {
    await module?.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('generates: an OpenAI chat completion with usage, max_tokens honoured', async () => {
    const answer = await registry.llm().generate(user('Say hello.'), { max_tokens: 8, seed: 1 });
    expect(answer.object).toBe('chat.completion');
    expect(answer.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', message: { role: 'assistant' } });
    expect(typeof answer.choices[0]!.message.content).toBe('string');
    expect(answer.usage).toMatchObject({ completion_tokens: 8 });
    // The same Llama 3 template as in process: 13 prompt tokens.
    expect(answer.usage!.prompt_tokens).toBe(13);
    expect(answer.usage!.total_tokens).toBe(21);
  });

  it('is deterministic for a seed', async () => {
    const llm = registry.llm();
    const a = await llm.generate(user('Tell me a story.'), { max_tokens: 12, seed: 42, temperature: 0.9 });
    const b = await llm.generate(user('Tell me a story.'), { max_tokens: 12, seed: 42, temperature: 0.9 });
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
  });

  it('streams: several content chunks, the finish reason, and usage on the last chunk', async () => {
    const llm = registry.llm();
    const chunks = await collect(llm.stream(user('Count to ten.'), { max_tokens: 10, seed: 3 }));
    const whole = await llm.generate(user('Count to ten.'), { max_tokens: 10, seed: 3 });
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1);
    expect(contentOf(chunks)).toBe(whole.choices[0]!.message.content);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'length')).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.usage).toMatchObject({ completion_tokens: 10, prompt_tokens: whole.usage!.prompt_tokens });
  });

  it('stops at a stop sequence', async () => {
    const llm = registry.llm();
    const options = { max_tokens: 24, seed: 11, temperature: 0.9 };
    const pieces = (await collect(llm.stream(user('Write a line.'), options))).map((c) => c.choices[0]?.delta?.content ?? '').filter(Boolean);
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
    const stopped = await llm.generate(user('Write a line.'), { ...options, stop: [pieces[at]! + pieces[at + 1]!] });
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    expect(stopped.choices[0]!.message.content).toBe(pieces.slice(0, at).join(''));
    expect(stopped.usage!.completion_tokens).toBeLessThan(24);
  });

  it('runs a batch concurrently (two server slots), each answer in its place', async () => {
    const llm = registry.llm();
    const seeds = [5, 6, 7, 8, 9];
    const batch = await llm.generateBatch(
      seeds.map(() => user('Hi')),
      { max_tokens: 6, concurrency: 3, seed: 5 },
    );
    expect(batch).toHaveLength(5);
    expect(batch.map((b) => b.usage!.completion_tokens)).toEqual([6, 6, 6, 6, 6]);
    const one = await llm.generate(user('Hi'), { max_tokens: 6, seed: 5 });
    for (const answer of batch) expect(answer.choices[0]!.message.content).toBe(one.choices[0]!.message.content);
  });

  it('aborts a long generation at once', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = registry.llm().generate(user('Go on forever.'), { max_tokens: 3000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await pending.catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    // Unaborted, the generation runs until the slot's context (2048 tokens) is full: about 3 s on 2 cores.
    expect(Date.now() - started).toBeLessThan(50 + AT_ONCE_MS);
  });

  it("embeds through /v1/embeddings: unit-length vectors of the model's dimensions, in input order", async () => {
    const embedder = registry.embedder();
    const texts = Array.from({ length: 40 }, (_, i) => `sentence number ${i}`);
    const result = await embedder.embed(texts);
    expect(result.dimensions).toBe(TINY_DIMENSIONS.embedding);
    expect(result.embeddings).toHaveLength(40);
    for (const v of result.embeddings) expect(Math.abs(norm(v) - 1)).toBeLessThan(1e-4);
    // Split into batches of 16, reassembled in order: each vector is the one its text gets alone.
    const alone = await embedder.embed([texts[0]!, texts[17]!, texts[39]!]);
    for (const [i, index] of [0, 17, 39].entries()) {
      alone.embeddings[i]!.forEach((x, j) => expect(x).toBeCloseTo(result.embeddings[index]![j]!, 4));
    }
    expect(result.usage!.promptTokens).toBeGreaterThan(40);
    // base64 (the default) and float encodings give the same vectors.
    const floats = await registry.embedder('floats').embed(texts.slice(0, 3));
    floats.embeddings.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(result.embeddings[i]![j]!, 5)));
  });

  it('reranks through the vllm type (POST /rerank and /v1/rerank): every document, sorted, batches merged', async () => {
    const documents = [
      'Paris is the capital of France.',
      'Bananas are yellow.',
      'The Eiffel Tower is in Paris.',
      'x',
      'Berlin is in Germany.',
      'Tokyo is big.',
      'q',
    ];
    const results = await registry.reranker().rerank('Where is the Eiffel Tower?', documents);
    expect(results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const r of results) expect(r.document).toBe(documents[r.index]);
    expect(results.map((r) => r.score)).toEqual([...results.map((r) => r.score)].sort((a, b) => b - a));
    // Scores do not depend on the batch a document was sent in (batchSize 4 here, one request there).
    const v1 = await registry.reranker('v1').rerank('Where is the Eiffel Tower?', documents);
    expect(v1.map((r) => r.index)).toEqual(results.map((r) => r.index));
    v1.forEach((r, i) => expect(r.score).toBeCloseTo(results[i]!.score, 4));
    expect(await registry.reranker().rerank('Where is the Eiffel Tower?', documents, { topK: 3 })).toHaveLength(3);
  });

  it("maps the server's refusals to ProviderErrors with their status", async () => {
    const error = await registry
      .llm()
      .generate(user('x'.repeat(20_000)), { max_tokens: 4 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).status).toBe(400);
    expect((error as ProviderError).retryable).toBe(false);
  });
});
