import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeEmbedding } from './fakes/openai-fake-server.js';
import { fakeRerankScore, RerankFakeServer } from './fakes/rerank-fake-servers.js';
import { postJson, startGateway, UPSTREAM_KEY, type GatewayHarness } from './support/gateway-harness.js';

const COHERE_KEY = 'co-upstream-key-0123456789';
let gw: GatewayHarness;
let openai: OpenAI;
let cohere: RerankFakeServer;

beforeAll(async () => {
  // A real built-in reranker type (cohere) over a fake Cohere API, beside the test reranker type.
  cohere = await RerankFakeServer.start('cohere', { apiKey: COHERE_KEY });
  gw = await startGateway({
    extra: { reranker: { cohere: { type: 'cohere', baseUrl: cohere.baseUrl, apiKey: COHERE_KEY, model: 'rerank-v3.5', maxRetries: 0 } } },
  });
  openai = new OpenAI({ apiKey: 'unused-without-gateway-keys', baseURL: gw.baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await cohere?.close();
});
beforeEach(() => {
  gw.upstream.reset();
  cohere.requests.length = 0;
  gw.reranker.calls.length = 0;
});

/** The SSE events of a raw response body, checked to be exactly `data: ...\n\n` blocks. */
function sseEvents(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  const blocks = text.slice(0, -2).split('\n\n');
  for (const block of blocks) expect(block).toMatch(/^data: [^\n]+$/);
  return blocks.map((b) => b.slice('data: '.length));
}

describe('POST /v1/chat/completions, with the official openai client', () => {
  it('answers a chat completion from the LLM the model names, with that name as model', async () => {
    const completion = await openai.chat.completions.create({
      model: 'chat',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello gateway' },
      ],
      temperature: 0.5,
      max_tokens: 50,
      seed: 7,
      user: 'u-1',
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('chat');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'echo: Hello gateway' });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });

    const sent = gw.upstream.lastRequest!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.body).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.5, max_tokens: 50, seed: 7, user: 'u-1', stream: false });
    expect(sent.body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello gateway' },
    ]);
    expect(sent.body).not.toHaveProperty('n');
  });

  it('streams chunks with include_usage: every chunk named after the model, usage last, then [DONE]', async () => {
    const stream = await openai.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'stream three words' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.map((c) => c.model)).toEqual(chunks.map(() => 'chat'));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: stream three words');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(gw.upstream.lastRequest!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('writes server-sent events exactly as OpenAI does, and no usage when the client did not ask for it', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'no usage please' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toContain('no-cache');
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.length).toBe(6); // role, 4 words, finish
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'chat' });
      expect(chunk).not.toHaveProperty('usage');
      expect(chunk.choices).toHaveLength(1);
    }
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('echo: no usage please');
    // The library still asked the upstream for usage; the gateway dropped it.
    expect(gw.upstream.lastRequest!.body.stream_options).toEqual({ include_usage: true });
  });

  it('reports an unknown model as the client library expects (NotFoundError, code model_not_found)', async () => {
    const err = await openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('model');
    expect(gw.upstream.requests).toHaveLength(0);
  });
});

describe('POST /v1/chat/completions, with the Vercel AI SDK', () => {
  const provider = () => createOpenAICompatible({ name: 'hush', baseURL: gw.baseURL, apiKey: 'unused', includeUsage: true });

  it('generateText gets the text and the usage', async () => {
    const result = await generateText({ model: provider()('chat'), prompt: 'Hi from the AI SDK', maxRetries: 0 });
    expect(result.text).toBe('echo: Hi from the AI SDK');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBe(5); // the fake counts words
    expect(result.usage.outputTokens).toBe(6);
    expect(gw.upstream.lastRequest!.body.messages).toEqual([{ role: 'user', content: 'Hi from the AI SDK' }]);
  });

  it('streamText gets every delta and the usage of the last chunk', async () => {
    const result = streamText({ model: provider()('chat'), prompt: 'streaming with the sdk', maxRetries: 0 });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe('echo: streaming with the sdk');
    const usage = await result.usage;
    expect(usage.inputTokens).toBe(4);
    expect(usage.outputTokens).toBe(5);
    expect(await result.finishReason).toBe('stop');
  });
});

describe('POST /v1/embeddings', () => {
  const texts = ['the first text', 'a second one'];

  it("answers the official client's default (base64) request with the upstream's vectors, in order", async () => {
    const result = await openai.embeddings.create({ model: 'docs', input: texts });
    expect(gw.upstream.requests).toHaveLength(1);
    expect(result.object).toBe('list');
    expect(result.model).toBe('docs');
    expect(result.data.map((d) => d.index)).toEqual([0, 1]);
    expect(result.data.map((d) => d.embedding)).toEqual(texts.map((t) => fakeEmbedding(t, 8)));
    expect(result.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    expect(gw.upstream.lastRequest!.body).toMatchObject({ model: 'text-embedding-3-small', input: texts });
  });

  it('answers encoding_format float with float arrays, through the official client', async () => {
    const result = await openai.embeddings.create({ model: 'docs', input: 'just one', encoding_format: 'float' });
    expect(result.data).toEqual([{ object: 'embedding', index: 0, embedding: fakeEmbedding('just one', 8) }]);
  });

  it('encodes base64 as little-endian float32, and defaults to float without encoding_format', async () => {
    const b64 = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: ['abc'], encoding_format: 'base64' });
    expect(b64.status).toBe(200);
    const bytes = Buffer.from(b64.body.data[0].embedding as string, 'base64');
    expect(bytes.length).toBe(8 * 4);
    const decoded = Array.from({ length: 8 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(fakeEmbedding('abc', 8));

    const plain = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'abc' });
    expect(plain.status).toBe(200);
    expect(plain.body.data[0].embedding).toEqual(fakeEmbedding('abc', 8));
  });

  it('passes base64 through as the upstream sent it, with no decode and re-encode', async () => {
    // A float32 NaN with a payload (0x7fc00001): through a JS number and back it would come out 0x7fc00000.
    const bytes = Buffer.alloc(8 * 4);
    bytes.writeUInt32LE(0x7fc00001, 0);
    for (let i = 1; i < 8; i++) bytes.writeFloatLE(i / 8, i * 4);
    const raw = bytes.toString('base64');
    gw.upstream.enqueue({ kind: 'mutate', json: (answer) => ({ ...answer, data: [{ object: 'embedding', index: 0, embedding: raw }] }) });
    const res = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: ['abc'], encoding_format: 'base64' });
    expect(res.status).toBe(200);
    expect(gw.upstream.lastRequest!.body.encoding_format).toBe('base64');
    expect(res.body.data[0].embedding).toBe(raw);
  });

  it('passes dimensions on', async () => {
    const result = await openai.embeddings.create({ model: 'docs', input: 'short', dimensions: 4, encoding_format: 'float' });
    expect(result.data[0]!.embedding).toEqual(fakeEmbedding('short', 4));
    expect(gw.upstream.lastRequest!.body.dimensions).toBe(4);
  });
});

describe('POST /v1/rerank', () => {
  const documents = ['Paris is the capital of France', 'Berlin is in Germany', 'France exports wine'];

  it('takes the Cohere shape and answers results best first, without documents by default', async () => {
    const res = await postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'capital of France', documents, top_n: 2 });
    expect(res.status).toBe(200);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.model).toBe('rerank');
    expect(res.body.results).toEqual([
      { index: 0, relevance_score: 1 },
      { index: 2, relevance_score: 1 / 3 },
    ]);
    expect(res.body.meta).toEqual({ api_version: { version: '2' } });
    expect(gw.reranker.calls).toEqual([{ instance: 'rerank', query: 'capital of France', documents }]);
  });

  it("takes Jina's { text } documents and return_documents, on /v1 and Cohere v2's /v2 path", async () => {
    for (const path of ['/v1/rerank', '/v2/rerank']) {
      const res = await postJson(`${gw.url}${path}`, {
        model: 'rerank',
        query: 'Germany',
        documents: documents.map((text) => ({ text })),
        return_documents: true,
      });
      expect(res.status).toBe(200);
      expect(res.body.results[0]).toEqual({ index: 1, relevance_score: 1, document: { text: 'Berlin is in Germany' } });
      expect(res.body.results).toHaveLength(3);
      expect(res.body.results.map((r: { index: number }) => r.index)).toEqual([1, 0, 2]);
    }
  });

  it('serves a built-in hosted type (cohere) the same way, over its own API', async () => {
    const query = 'capital of France';
    const res = await postJson(`${gw.baseURL}/rerank`, { model: 'cohere', query, documents, top_n: 2, return_documents: true });
    expect(res.status).toBe(200);
    const expected = documents
      .map((text, index) => ({ index, relevance_score: fakeRerankScore(query, text), document: { text } }))
      .sort((a, b) => b.relevance_score - a.relevance_score)
      .slice(0, 2);
    expect(res.body.results).toEqual(expected);
    expect(res.body.model).toBe('cohere');
    expect(cohere.lastRequest!.path).toBe('/v2/rerank');
    expect(cohere.lastRequest!.body).toMatchObject({ model: 'rerank-v3.5', query, documents });

    cohere.failNext(429, 'slow down', { headers: { 'retry-after': '3' } });
    const limited = await postJson(`${gw.baseURL}/rerank`, { model: 'cohere', query, documents });
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(limited.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_rate_limited' });
    expect(limited.body.error.message).toContain('429');
    expect(limited.text).not.toContain(COHERE_KEY);
  });
});

describe('GET /v1/models', () => {
  it('lists every configured name with its kind, through the official client', async () => {
    const models: Array<Record<string, unknown>> = [];
    for await (const model of openai.models.list()) models.push(model as unknown as Record<string, unknown>);
    expect(models.map((m) => [m.id, m.kind])).toEqual([
      ['chat', 'llm'],
      ['strict', 'llm'],
      ['stalls', 'llm'],
      ['down', 'llm'],
      ['docs', 'embedding'],
      ['rerank', 'reranker'],
      ['cohere', 'reranker'],
    ]);
    for (const model of models) {
      expect(model).toMatchObject({ object: 'model', created: expect.any(Number), owned_by: expect.any(String) });
    }
    expect(models.find((m) => m.id === 'rerank')!.owned_by).toBe('gateway-test-reranker');
    const one = await openai.models.retrieve('docs');
    expect(one).toMatchObject({ id: 'docs', object: 'model', kind: 'embedding', owned_by: 'openai-compatible' });
    await expect(openai.models.retrieve('nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(gw.upstream.requests).toHaveLength(0);
  });
});

describe('health and docs', () => {
  it('GET /health is liveness', async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('GET /health/ready pings every instance for free: one entry each, the unreachable one down, no secret', async () => {
    const res = await fetch(`${gw.url}/health/ready`);
    expect(res.status).toBe(503);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.status).toBe('error');
    expect(Object.keys(body.details).sort()).toEqual([
      'embedding:docs',
      'llm:chat',
      'llm:down',
      'llm:stalls',
      'llm:strict',
      'reranker:cohere',
      'reranker:rerank',
    ]);
    expect(body.details['llm:chat']).toEqual({
      status: 'up',
      kind: 'llm',
      name: 'chat',
      type: 'openai-compatible',
      model: 'gpt-4o-mini',
      default: true,
      fallbacks: [],
      probed: true,
      deployments: 1,
      reachableDeployments: 1,
      responseTime: expect.any(Number),
    });
    // What failed, never where the upstream is (the full message goes to the log).
    expect(body.details['llm:down']).toMatchObject({ status: 'down', probed: true, error: 'connection', message: 'cannot reach the upstream (ECONNREFUSED)' });
    expect(text).not.toContain('http://');
    expect(body.details['embedding:docs']).toMatchObject({
      status: 'up',
      kind: 'embedding',
      type: 'openai-compatible',
      model: 'text-embedding-3-small',
      probed: true,
    });
    expect(body.details['reranker:cohere']).toMatchObject({ status: 'up', type: 'cohere', model: 'rerank-v3.5', probed: true });
    // The test reranker type has no free check: reported from its configuration.
    expect(body.details['reranker:rerank']).toMatchObject({ status: 'up', probed: false });
    expect(text).not.toContain(UPSTREAM_KEY);
    expect(text).not.toContain(COHERE_KEY);
    // Only free routes were asked: the model lists, never a completion, an embedding or a rerank.
    expect(new Set(gw.upstream.requests.map((r) => `${r.method} ${r.path}`))).toEqual(new Set(['GET /v1/models']));
    expect(gw.reranker.calls).toHaveLength(0);
    expect(cohere.requests.map((r) => `${r.method} ${r.pathname}`)).toEqual(['GET /v1/models']);

    // Polled again at once, the outcomes come from the cache: nothing more is sent.
    const before = gw.upstream.requests.length;
    const again = await (await fetch(`${gw.url}/health/ready`)).json();
    expect(again.details['llm:chat']).toMatchObject({ status: 'up', cachedResponse: true });
    expect(gw.upstream.requests).toHaveLength(before);
  });

  it('serves the OpenAPI document at /docs', async () => {
    const html = await fetch(`${gw.url}/docs`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    const doc = (await (await fetch(`${gw.url}/docs-json`)).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/chat/completions', '/v1/embeddings', '/v1/rerank', '/v2/rerank', '/v1/models', '/health', '/health/ready']),
    );
    expect(Object.keys(doc.components.schemas.ChatCompletionRequestDto!.properties)).toEqual(
      expect.arrayContaining(['model', 'messages', 'stream', 'temperature', 'n']),
    );
  });
});

describe('bad requests: 400/404 in OpenAI error shape, naming the field, upstream never called', () => {
  const chat = (body: unknown) => postJson(`${gw.baseURL}/chat/completions`, body);
  const user = [{ role: 'user', content: 'hi' }];
  const error = (message: string, param: string | null, code: string | null) => ({ error: { message, type: 'invalid_request_error', param, code } });

  const cases: Array<[string, () => Promise<{ status: number; body: unknown }>, number, unknown]> = [
    ['chat: missing model', () => chat({ messages: user }), 400, error("Missing required parameter: 'model'.", 'model', 'missing_required_parameter')],
    [
      'chat: model not a string',
      () => chat({ model: 5, messages: user }),
      400,
      error("Invalid value for 'model': model must be a string.", 'model', 'invalid_type'),
    ],
    ['chat: missing messages', () => chat({ model: 'chat' }), 400, error("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter')],
    [
      'chat: empty messages',
      () => chat({ model: 'chat', messages: [] }),
      400,
      error("Invalid value for 'messages': must contain at least one message.", 'messages', 'invalid_value'),
    ],
    [
      'chat: bad role',
      () => chat({ model: 'chat', messages: [{ role: 'robot', content: 'x' }] }),
      400,
      error(
        "Invalid value for 'messages[0].role': must be one of 'system', 'developer', 'user', 'assistant', 'tool', 'function'.",
        'messages[0].role',
        'invalid_value',
      ),
    ],
    [
      'chat: message without content',
      () => chat({ model: 'chat', messages: [...user, { role: 'user' }] }),
      400,
      error("Missing required parameter: 'messages[1].content'.", 'messages[1].content', 'missing_required_parameter'),
    ],
    [
      'chat: temperature above 2',
      () => chat({ model: 'chat', messages: user, temperature: 2.5 }),
      400,
      error("Invalid value for 'temperature': temperature must not be greater than 2.", 'temperature', 'invalid_value'),
    ],
    [
      'chat: temperature not a number',
      () => chat({ model: 'chat', messages: user, temperature: 'hot' }),
      400,
      error("Invalid value for 'temperature': temperature must be a number conforming to the specified constraints.", 'temperature', 'invalid_type'),
    ],
    [
      'chat: max_tokens not an integer',
      () => chat({ model: 'chat', messages: user, max_tokens: 1.5 }),
      400,
      error("Invalid value for 'max_tokens': max_tokens must be an integer number.", 'max_tokens', 'invalid_type'),
    ],
    [
      'chat: n=2',
      () => chat({ model: 'chat', messages: user, n: 2 }),
      400,
      error("Invalid value for 'n': this gateway returns one choice per request; only n=1 is supported.", 'n', 'unsupported_value'),
    ],
    [
      'chat: stream not a boolean',
      () => chat({ model: 'chat', messages: user, stream: 'yes' }),
      400,
      error("Invalid value for 'stream': stream must be a boolean value.", 'stream', 'invalid_type'),
    ],
    [
      'chat: stream_options without stream',
      () => chat({ model: 'chat', messages: user, stream_options: { include_usage: true } }),
      400,
      error("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', null),
    ],
    [
      'chat: unknown stream_options key',
      () => chat({ model: 'chat', messages: user, stream: true, stream_options: { usage: true } }),
      400,
      error('Unrecognized request argument supplied: stream_options.usage', 'stream_options.usage', 'unknown_parameter'),
    ],
    [
      'chat: a field OpenAI does not have',
      () => chat({ model: 'chat', messages: user, top_k: 5 }),
      400,
      error('Unrecognized request argument supplied: top_k', 'top_k', 'unknown_parameter'),
    ],
    [
      'chat: bad tool_choice',
      () => chat({ model: 'chat', messages: user, tool_choice: 'always' }),
      400,
      error("Invalid value for 'tool_choice': must be 'none', 'auto', 'required' or an object naming a tool.", 'tool_choice', 'invalid_value'),
    ],
    [
      'chat: tool without a function name',
      () => chat({ model: 'chat', messages: user, tools: [{ type: 'function', function: {} }] }),
      400,
      error("Missing required parameter: 'tools[0].function.name'.", 'tools[0].function.name', 'missing_required_parameter'),
    ],
    [
      'chat: unknown model',
      () => chat({ model: 'gpt-5', messages: user }),
      404,
      error('The model `gpt-5` does not exist. Chat models here: chat, strict, stalls, down. GET /v1/models lists every model.', 'model', 'model_not_found'),
    ],
    [
      'chat: an embedding model',
      () => chat({ model: 'docs', messages: user }),
      404,
      error(
        'The model `docs` is an embedding model, not a chat model: use it with POST /v1/embeddings. Chat models here: chat, strict, stalls, down.',
        'model',
        'model_wrong_kind',
      ),
    ],
    [
      'chat: body not JSON',
      () => chat('{"model": "chat", "messages": ['),
      400,
      error(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        null,
        'invalid_json',
      ),
    ],
    [
      'chat: body a JSON array',
      () => chat('[1, 2]'),
      400,
      error('The request body must be a JSON object, sent with Content-Type: application/json.', null, 'invalid_json'),
    ],
    [
      'chat: a body not sent as JSON',
      async () => {
        const res = await fetch(`${gw.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'model=chat' });
        return { status: res.status, body: await res.json() };
      },
      400,
      error('The request body must be a JSON object, sent with Content-Type: application/json.', null, 'invalid_json'),
    ],
    [
      'embeddings: missing input',
      () => postJson(`${gw.baseURL}/embeddings`, { model: 'docs' }),
      400,
      error("Missing required parameter: 'input'.", 'input', 'missing_required_parameter'),
    ],
    [
      'embeddings: bad encoding_format',
      () => postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'x', encoding_format: 'int8' }),
      400,
      error("Invalid value for 'encoding_format': must be 'float' or 'base64'.", 'encoding_format', 'invalid_value'),
    ],
    [
      'embeddings: token arrays',
      () => postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: [[1, 2, 3]] }),
      400,
      error("Invalid value for 'input': token arrays are not supported by this gateway; send the text instead.", 'input', 'unsupported_value'),
    ],
    [
      'embeddings: an empty string among inputs',
      () => postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: ['a', ''] }),
      400,
      error("Invalid value for 'input[1]': must not be an empty string.", 'input[1]', 'invalid_value'),
    ],
    [
      'embeddings: dimensions 0',
      () => postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'x', dimensions: 0 }),
      400,
      error("Invalid value for 'dimensions': dimensions must not be less than 1.", 'dimensions', 'invalid_value'),
    ],
    [
      'embeddings: a chat model',
      () => postJson(`${gw.baseURL}/embeddings`, { model: 'chat', input: 'x' }),
      404,
      error(
        'The model `chat` is a chat model, not an embedding model: use it with POST /v1/chat/completions. Embedding models here: docs.',
        'model',
        'model_wrong_kind',
      ),
    ],
    [
      'rerank: documents missing',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q' }),
      400,
      error("Missing required parameter: 'documents'.", 'documents', 'missing_required_parameter'),
    ],
    [
      'rerank: documents empty',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: [] }),
      400,
      error("Invalid value for 'documents': must contain at least one document.", 'documents', 'invalid_value'),
    ],
    [
      'rerank: a document that is a number',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: ['a', 7] }),
      400,
      error("Invalid value for 'documents[1]': each document must be a string or an object { text }.", 'documents[1]', 'invalid_type'),
    ],
    [
      'rerank: a document object without text',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: [{ txt: 'a' }] }),
      400,
      error("Missing required parameter: 'documents[0].text'.", 'documents[0].text', 'missing_required_parameter'),
    ],
    [
      'rerank: documents a string',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: 'abc' }),
      400,
      error("Invalid value for 'documents': must be an array of strings (or of { text } objects).", 'documents', 'invalid_type'),
    ],
    [
      'rerank: top_n 0',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: ['a'], top_n: 0 }),
      400,
      error("Invalid value for 'top_n': top_n must not be less than 1.", 'top_n', 'invalid_value'),
    ],
    [
      'rerank: an LLM name',
      () => postJson(`${gw.baseURL}/rerank`, { model: 'chat', query: 'q', documents: ['a'] }),
      404,
      error(
        'The model `chat` is a chat model, not a rerank model: use it with POST /v1/chat/completions. Rerank models here: rerank, cohere.',
        'model',
        'model_wrong_kind',
      ),
    ],
    [
      'an unknown route',
      () => postJson(`${gw.baseURL}/completions`, { model: 'chat', prompt: 'x' }),
      404,
      error('Invalid URL (POST /v1/completions)', null, 'unknown_url'),
    ],
  ];

  it.each(cases)('%s', async (_name, send, status, body) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body).toEqual(body);
    expect(gw.upstream.requests).toHaveLength(0);
    expect(gw.reranker.calls).toHaveLength(0);
    expect(cohere.requests).toHaveLength(0);
  });
});
