import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postJson, startGateway, UPSTREAM_KEY, type GatewayHarness } from './support/gateway-harness.js';

/**
 * The gateway's `x-hush-cache` header: `hit`, `partial` or `miss` on chat completions (JSON and SSE),
 * embeddings and rerank when the instance the model names has `cache:`; absent when it has none.
 */

let gw: GatewayHarness;
let openai: OpenAI;

beforeAll(async () => {
  gw = await startGateway({
    extra: (baseUrl) => {
      const compatible = (model: string) => ({ type: 'openai-compatible', baseUrl, apiKey: UPSTREAM_KEY, model, maxRetries: 0, cache: { ttlMs: 60_000 } });
      return {
        llm: { 'cached-chat': compatible('gpt-4o-mini') },
        embedding: { 'cached-docs': compatible('text-embedding-3-small') },
        reranker: { 'cached-rerank': { type: 'gateway-test-reranker', model: 'overlap-v1', cache: { ttlMs: 60_000 } } },
      };
    },
  });
  openai = new OpenAI({ apiKey: 'unused-without-gateway-keys', baseURL: gw.baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
});
beforeEach(() => {
  gw.upstream.reset();
  gw.reranker.calls.length = 0;
});

describe('x-hush-cache', () => {
  it('chat completions: miss, then hit with no upstream request', async () => {
    const ask = () =>
      openai.chat.completions.create({ model: 'cached-chat', messages: [{ role: 'user', content: 'cache header please' }], temperature: 0 }).withResponse();
    const first = await ask();
    expect(first.response.headers.get('x-hush-cache')).toBe('miss');
    const second = await ask();
    expect(second.response.headers.get('x-hush-cache')).toBe('hit');
    expect(second.data).toEqual(first.data);
    expect(second.data.model).toBe('cached-chat');
    expect(gw.upstream.requests).toHaveLength(1);
  });

  it('streamed chat completions: miss, then a replay of the same events marked hit', async () => {
    const ask = async () => {
      const { data, response } = await openai.chat.completions
        .create({ model: 'cached-chat', messages: [{ role: 'user', content: 'stream the header' }], stream: true })
        .withResponse();
      const chunks = [];
      for await (const chunk of data) chunks.push(chunk);
      return { header: response.headers.get('x-hush-cache'), chunks };
    };
    const first = await ask();
    expect(first.header).toBe('miss');
    const second = await ask();
    expect(second.header).toBe('hit');
    expect(second.chunks).toEqual(first.chunks);
    expect(second.chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: stream the header');
    expect(gw.upstream.requests).toHaveLength(1);
  });

  it('embeddings: miss, partial, hit', async () => {
    const embed = (input: string[]) => openai.embeddings.create({ model: 'cached-docs', input }).withResponse();
    expect((await embed(['alpha', 'beta'])).response.headers.get('x-hush-cache')).toBe('miss');
    const partial = await embed(['alpha', 'gamma', 'beta']);
    expect(partial.response.headers.get('x-hush-cache')).toBe('partial');
    expect(partial.data.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(partial.data.usage).toEqual({ prompt_tokens: 1, total_tokens: 1 });
    expect((await embed(['gamma', 'alpha'])).response.headers.get('x-hush-cache')).toBe('hit');
    expect(gw.upstream.requests.map((r) => r.body.input)).toEqual([['alpha', 'beta'], ['gamma']]);
  });

  it('rerank: miss, then hit', async () => {
    const body = { model: 'cached-rerank', query: 'red fox', documents: ['a red fox', 'a blue whale'], top_n: 1 };
    const first = await postJson(`${gw.url}/v1/rerank`, body);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-hush-cache')).toBe('miss');
    const second = await postJson(`${gw.url}/v1/rerank`, body);
    expect(second.headers.get('x-hush-cache')).toBe('hit');
    expect(second.body.results).toEqual(first.body.results);
    expect(gw.reranker.calls).toHaveLength(1);
  });

  it('is absent for instances without cache:', async () => {
    const chat = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'no cache' }] }).withResponse();
    expect(chat.response.headers.has('x-hush-cache')).toBe(false);
    const stream = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'no cache' }], stream: true }).withResponse();
    for await (const _chunk of stream.data);
    expect(stream.response.headers.has('x-hush-cache')).toBe(false);
    const embeddings = await openai.embeddings.create({ model: 'docs', input: ['no cache'] }).withResponse();
    expect(embeddings.response.headers.has('x-hush-cache')).toBe(false);
    const rerank = await postJson(`${gw.url}/v1/rerank`, { model: 'rerank', query: 'q', documents: ['d'] });
    expect(rerank.status).toBe(200);
    expect(rerank.headers.has('x-hush-cache')).toBe(false);
  });
});
