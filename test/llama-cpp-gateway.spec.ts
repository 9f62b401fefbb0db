import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type GatewayApp } from '../src/app.js';
import { llamaCppLLM } from '../libs/providers/src/providers/llama-cpp/llama-cpp.llm.js';
import { llamaCppEmbedder } from '../libs/providers/src/providers/llama-cpp/llama-cpp.embedder.js';
import { llamaCppReranker } from '../libs/providers/src/providers/llama-cpp/llama-cpp.reranker.js';
import { ensureTinyModels, norm, TINY_DIMENSIONS } from './support/llama-models.js';

const defaultConfig = fileURLToPath(new URL('../config/providers.yaml', import.meta.url));

/**
 * "npm start on a new machine, no key, no network": the gateway on the default config, its llama-cpp
 * instances in process (on the tiny models of the tests: models/ may hold real pulled ones), asked by
 * the official openai client.
 */
describe('the gateway on the default config, with the in-process llama-cpp models', () => {
  let app: GatewayApp;
  let client: OpenAI;
  let url: string;

  beforeAll(async () => {
    const tiny = ensureTinyModels();
    app = await createApp(
      {
        providers: {
          configPath: defaultConfig,
          environment: 'development',
          env: {},
          // The tests' tiny models in place of models/*.gguf (everything else as the YAML says).
          config: {
            llm: { chat: { type: 'llama-cpp', model: tiny.chat } },
            embedding: { embed: { type: 'llama-cpp', model: tiny.embedding } },
            reranker: { rerank: { type: 'llama-cpp', model: tiny.reranker } },
          },
          providers: [llamaCppLLM, llamaCppEmbedder, llamaCppReranker],
        },
        apiKeys: [],
      },
      { logger: false, forceCloseConnections: true },
    );
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    url = `http://127.0.0.1:${port}`;
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('lists the three names, one per kind', async () => {
    const models = await client.models.list();
    const kinds = Object.fromEntries(models.data.map((m) => [m.id, (m as unknown as { kind: string }).kind]));
    expect(kinds).toEqual({ chat: 'llm', embed: 'embedding', rerank: 'reranker' });
  });

  it('answers a chat completion and a stream', async () => {
    const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 6, seed: 1 });
    expect(answer.choices[0]!.message.role).toBe('assistant');
    expect(answer.choices[0]!.finish_reason).toBe('length');
    expect(answer.usage!.completion_tokens).toBe(6);

    const stream = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'Hello!' }],
      max_tokens: 6,
      seed: 1,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(answer.choices[0]!.message.content);
    expect(usage!.completion_tokens).toBe(6);
  });

  it('uses the YAML params (max_tokens 256) when a request gives none', async () => {
    const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello!' }], temperature: 0 });
    expect(answer.usage!.completion_tokens).toBeLessThanOrEqual(256);
    if (answer.choices[0]!.finish_reason === 'length') expect(answer.usage!.completion_tokens).toBe(256);
  });

  it('answers embeddings (the official client asks for base64)', async () => {
    const result = await client.embeddings.create({ model: 'embed', input: ['one', 'two', 'three'] });
    expect(result.data.map((d) => d.index)).toEqual([0, 1, 2]);
    for (const d of result.data) {
      expect(d.embedding).toHaveLength(TINY_DIMENSIONS.embedding);
      expect(Math.abs(norm(d.embedding) - 1)).toBeLessThan(1e-5);
    }
  });

  it('answers /v1/rerank with every document, sorted', async () => {
    const response = await fetch(`${url}/v1/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'rerank', query: 'capital of France', documents: ['Paris', 'bananas', 'Berlin', 'France'] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { results: Array<{ index: number; relevance_score: number }> };
    expect(body.results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3]);
    const scores = body.results.map((r) => r.relevance_score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });
});
