import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Test, type TestingModule } from '@nestjs/testing';
import { ProviderError, ProvidersConfigError, ProvidersModule, ProvidersRegistry, type ChatCompletionChunk, type Embedder, type LLM } from '@hush/providers';
import { azureOpenAIEmbedder } from '../libs/providers/src/providers/azure-openai/azure-openai.embedder.js';
import { azureOpenAILLM } from '../libs/providers/src/providers/azure-openai/azure-openai.llm.js';
import { AZURE_SAFE, fakeEmbedding, OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { boot, bootError, collect, expectNoKey, expectQuickAbort, printable, rejection, type Booted } from './support/provider-kit.js';

const API_KEY = '0123456789abcdefSECRETKEYfedcba98';
const WRONG_KEY = 'fedcba9876543210WRONGKEY01234567';
const VERSION = '2024-10-21';

let chat: OpenAIFakeServer;
let emb: OpenAIFakeServer;
let app: Booted | undefined;

beforeAll(async () => {
  chat = await OpenAIFakeServer.start({ apiKey: API_KEY, azure: { deployment: 'gpt4o-prod', apiVersion: VERSION } });
  emb = await OpenAIFakeServer.start({ apiKey: API_KEY, azure: { deployment: 'embed-large', apiVersion: VERSION } });
});
afterAll(async () => {
  await chat.close();
  await emb.close();
});
beforeEach(() => {
  chat.reset();
  emb.reset();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function azureLLM(entry: Record<string, unknown> = {}): Promise<LLM> {
  app = await boot({ llm: { gpt: { type: 'azure-openai', endpoint: chat.endpoint, deployment: 'gpt4o-prod', apiKey: API_KEY, maxRetries: 0, ...entry } } }, [
    azureOpenAILLM,
  ]);
  return app.registry.llm('gpt');
}

async function azureEmbedder(entry: Record<string, unknown> = {}): Promise<Embedder> {
  app = await boot(
    { embedding: { docs: { type: 'azure-openai', endpoint: emb.endpoint, deployment: 'embed-large', apiKey: API_KEY, maxRetries: 0, ...entry } } },
    [azureOpenAIEmbedder],
  );
  return app.registry.embedder('docs');
}

const user = (content: string) => [{ role: 'user' as const, content }];

describe('azure-openai config', () => {
  it('requires endpoint, deployment and apiKey; checks the endpoint and apiVersion; refuses baseUrl; never shows the key', async () => {
    const err = await bootError(
      {
        llm: {
          a: { type: 'azure-openai', apiKey: API_KEY },
          b: { type: 'azure-openai', endpoint: 'https://res.openai.azure.com/openai/deployments/x/chat/completions', deployment: 'x', apiKey: API_KEY },
          c: { type: 'azure-openai', endpoint: 'https://res.openai.azure.com', deployment: 'x', apiKey: API_KEY, apiVersion: 'latest' },
          d: { type: 'azure-openai', endpoint: 'https://res.openai.azure.com', deployment: 'x/y', apiKey: API_KEY, baseUrl: 'https://res.openai.azure.com' },
        },
        embedding: { e: { type: 'azure-openai', endpoint: 'res.openai.azure.com', deployment: 'x' } },
      },
      [azureOpenAILLM, azureOpenAIEmbedder],
    );
    expect(err).toBeInstanceOf(ProvidersConfigError);
    const message = String(err.message);
    for (const path of [
      'llm.a.endpoint',
      'llm.a.deployment',
      'llm.b.endpoint',
      'llm.c.apiVersion',
      'llm.d.deployment',
      'llm.d.baseUrl',
      'embedding.e.endpoint',
      'embedding.e.apiKey',
    ]) {
      expect(message).toContain(path);
    }
    expect(message).not.toContain('llm.a.apiVersion');
    expectNoKey(printable(err), API_KEY);
  });

  it('the model defaults to the deployment name', async () => {
    expect((await azureLLM()).model).toBe('gpt4o-prod');
    await app!.close();
    expect((await azureLLM({ model: 'gpt-4o' })).model).toBe('gpt-4o');
  });
});

describe('azure-openai llm', () => {
  it('calls the deployment with api-version and the api-key header, and returns the completion', async () => {
    const llm = await azureLLM();
    const completion = await llm.generate(user('hello there'), { temperature: 0.1, max_tokens: 20 });
    expect(chat.requests).toHaveLength(1);
    const req = chat.lastRequest!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/openai/deployments/gpt4o-prod/chat/completions?api-version=${VERSION}`);
    expect(req.headers['api-key']).toBe(API_KEY);
    expect(req.headers.authorization).toBeUndefined();
    // One attempt per call: the library retries, nothing under it does.
    expect(chat.requests).toHaveLength(1);
    expect(req.body).toEqual({ model: 'gpt4o-prod', messages: user('hello there'), temperature: 0.1, max_tokens: 20, stream: false });
    expect(completion.choices[0]!.message.content).toBe('echo: hello there');
    expect(completion.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('sends the configured model and apiVersion, and custom headers', async () => {
    const preview = await OpenAIFakeServer.start({ apiKey: API_KEY, azure: { deployment: 'gpt4o-prod', apiVersion: '2025-04-01-preview' } });
    try {
      app = await boot(
        {
          llm: {
            gpt: {
              type: 'azure-openai',
              endpoint: `${preview.endpoint}/`,
              deployment: 'gpt4o-prod',
              apiVersion: '2025-04-01-preview',
              model: 'gpt-4o',
              apiKey: API_KEY,
              headers: { 'X-Team': 'search' },
            },
          },
        },
        [azureOpenAILLM],
      );
      await app.registry.llm('gpt').generate(user('x'));
      expect(preview.lastRequest!.path).toBe('/openai/deployments/gpt4o-prod/chat/completions?api-version=2025-04-01-preview');
      expect(preview.lastRequest!.body.model).toBe('gpt-4o');
      expect(preview.lastRequest!.headers['x-team']).toBe('search');
    } finally {
      await preview.close();
    }
  });

  it('streams with usage: stream_options.include_usage is always asked for', async () => {
    const llm = await azureLLM();
    const chunks = await collect(llm.stream(user('one two three')));
    expect(chat.lastRequest!.path).toBe(`/openai/deployments/gpt4o-prod/chat/completions?api-version=${VERSION}`);
    expect(chat.lastRequest!.body).toEqual({ model: 'gpt4o-prod', messages: user('one two three'), stream: true, stream_options: { include_usage: true } });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: one two three');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it("the fake streams as Azure does: the prompt's filter verdicts first, in a chunk with no choices and an empty object", async () => {
    const res = await fetch(`${chat.endpoint}/openai/deployments/gpt4o-prod/chat/completions?api-version=${VERSION}`, {
      method: 'POST',
      headers: { 'api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt4o-prod', messages: user('hi'), stream: true, stream_options: { include_usage: true } }),
    });
    const frames = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    expect(JSON.parse(frames[0]!)).toEqual({
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: [{ prompt_index: 0, content_filter_results: { ...AZURE_SAFE, jailbreak: { filtered: false, detected: false } } }],
    });
    expect(JSON.parse(frames[2]!).choices[0].content_filter_results).toEqual(AZURE_SAFE);
    expect(frames.at(-1)).toBe('[DONE]');
  });

  it("every chunk a caller sees is a chat.completion.chunk: Azure's filter-only chunks are dropped, odd ones mended", async () => {
    const llm = await azureLLM();
    const plain = await collect(llm.stream(user('one two three')));
    expect(plain.map((c) => c.object)).toEqual(plain.map(() => 'chat.completion.chunk'));
    expect(plain.some((c) => 'prompt_filter_results' in c)).toBe(false);
    expect(plain.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: one two three');
    expect(plain.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });

    // Later in a stream: a verdict with no choices, an asynchronous filter's annotation (a choice with
    // offsets and no delta), and a chunk with content but Azure's empty id, object and model.
    const bare = { created: 0, id: '', model: '', object: '' };
    const verdictOnly = { ...bare, choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: AZURE_SAFE }] };
    const annotation = {
      ...bare,
      choices: [
        { index: 0, finish_reason: null, content_filter_results: AZURE_SAFE, content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 12 } },
      ],
    };
    const content = { ...bare, choices: [{ index: 0, delta: { content: ' more' }, finish_reason: null, content_filter_results: AZURE_SAFE }] };
    chat.enqueue({
      kind: 'mutate',
      sse: (lines) => [...lines.slice(0, 4), JSON.stringify(verdictOnly), JSON.stringify(annotation), JSON.stringify(content), ...lines.slice(4)],
    });
    const chunks = await collect(llm.stream(user('one two three')));
    expect(chunks).toHaveLength(plain.length + 1);
    const id = chunks[0]!.id;
    expect(id).toMatch(/^chatcmpl-/);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: 'chat.completion.chunk', id, model: 'gpt4o-prod' });
      expect(chunk.created).toBeGreaterThan(0);
    }
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: one more two three');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
  });

  it('ignores the SDK environment variables (AZURE_OPENAI_*, OPENAI_*)', async () => {
    const names = ['AZURE_OPENAI_API_KEY', 'AZURE_OPENAI_ENDPOINT', 'OPENAI_API_VERSION', 'OPENAI_BASE_URL', 'OPENAI_ORG_ID', 'OPENAI_API_KEY'] as const;
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    Object.assign(process.env, {
      AZURE_OPENAI_API_KEY: 'env-key-000000000000',
      AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9',
      OPENAI_API_VERSION: '2023-05-15',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      OPENAI_ORG_ID: 'org-env',
      OPENAI_API_KEY: 'sk-env-000000000000',
    });
    try {
      const llm = await azureLLM();
      await llm.generate(user('hi'));
      const req = chat.lastRequest!;
      expect(req.path).toBe(`/openai/deployments/gpt4o-prod/chat/completions?api-version=${VERSION}`);
      expect(req.headers['api-key']).toBe(API_KEY);
      expect(req.headers['openai-organization']).toBeUndefined();
    } finally {
      for (const n of names) {
        if (saved[n] === undefined) delete process.env[n];
        else process.env[n] = saved[n];
      }
    }
  });

  it("401 in Azure's words, not retryable, no key anywhere", async () => {
    const llm = await azureLLM({ apiKey: WRONG_KEY });
    const err = await rejection(() => llm.generate(user('hi')));
    expect(chat.lastRequest!.headers['api-key']).toBe(WRONG_KEY);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ instance: 'gpt', type: 'azure-openai', kind: 'llm', status: 401, retryable: false, code: 'http' });
    expect(err.message).toContain('upstream answered 401 Unauthorized: Access denied due to invalid subscription key');
    expectNoKey(printable(err), WRONG_KEY);
  });

  it('404 for an unknown deployment, 429 with retry-after, 500: status and retryability', async () => {
    const wrong = await azureLLM({ deployment: 'gpt-old' });
    const missing = await rejection(() => wrong.generate(user('x')));
    expect(chat.lastRequest!.path).toBe(`/openai/deployments/gpt-old/chat/completions?api-version=${VERSION}`);
    expect(missing).toMatchObject({ status: 404, retryable: false });
    expect(missing.message).toContain('The API deployment for this resource does not exist');
    await app!.close();

    const llm = await azureLLM();
    chat.failNext(
      429,
      { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 2 seconds.' },
      { headers: { 'retry-after': '2' } },
    );
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000 });
    chat.failNext(500);
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 500, retryable: true });
    chat.enqueue({ kind: 'raw', status: 200, body: '{"choices": [' });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ name: 'ProviderError', code: 'bad-response' });
  });

  it('abort: generate while the server hangs, and a stream mid-way', async () => {
    const llm = await azureLLM();
    chat.hangNext();
    await expectQuickAbort((signal) => llm.generate(user('x'), { signal }));
    await chat.waitForClientAbort(undefined, 1000);

    // Three frames: Azure's prompt-filter chunk (which callers never see), then two that they do.
    chat.hangNext({ afterChunks: 3 });
    const received: ChatCompletionChunk[] = [];
    await expectQuickAbort(async (signal) => {
      for await (const chunk of llm.stream(user('a b c'), { signal })) received.push(chunk);
    });
    expect(received).toHaveLength(2);
    await chat.waitForClientAbort(undefined, 1000);
  });
});

describe('azure-openai embeddings', () => {
  const texts = ['the first text', 'a second one', 'third'];

  it('calls the deployment with api-key (not Authorization), and reads the vectors in order', async () => {
    const docs = await azureEmbedder();
    expect(docs.model).toBe('embed-large');
    emb.enqueue({ kind: 'mutate', json: (a) => ({ ...a, data: [...a.data].reverse() }) });
    const result = await docs.embed(texts);
    const req = emb.lastRequest!;
    expect(req.path).toBe(`/openai/deployments/embed-large/embeddings?api-version=${VERSION}`);
    expect(req.headers['api-key']).toBe(API_KEY);
    expect(req.headers.authorization).toBeUndefined();
    const { encoding_format: encoding, ...rest } = req.body;
    expect(rest).toEqual({ model: 'embed-large', input: texts });
    expect(['float', 'base64']).toContain(encoding);
    expect(result.embeddings).toEqual(texts.map((t) => fakeEmbedding(t, 8)));
    expect(result.usage).toEqual({ promptTokens: 7, totalTokens: 7 });
  });

  it('sends dimensions, and splits at 2048 inputs per request', async () => {
    const docs = await azureEmbedder({ dimensions: 16 });
    const many = Array.from({ length: 2100 }, (_, i) => `t${i}`);
    const result = await docs.embed(many);
    expect(emb.requests.map((r) => r.body.input.length).sort((a, b) => b - a)).toEqual([2048, 52]);
    expect(emb.requests.every((r) => r.body.dimensions === 16)).toBe(true);
    expect(result.embeddings).toHaveLength(2100);
    expect(result.embeddings[2099]).toEqual(fakeEmbedding('t2099', 16));
    expect(result.dimensions).toBe(16);
  });

  it("errors: 401 in Azure's words, with no key; a wrong count is a bad response", async () => {
    const wrong = await azureEmbedder({ apiKey: WRONG_KEY });
    const err = await rejection(() => wrong.embed('x'));
    expect(err).toMatchObject({ name: 'ProviderError', instance: 'docs', kind: 'embedding', status: 401, retryable: false });
    expectNoKey(printable(err), WRONG_KEY);
    await app!.close();

    const docs = await azureEmbedder();
    emb.enqueue({ kind: 'mutate', json: (a) => ({ ...a, data: a.data.slice(1) }) });
    expect(await rejection(() => docs.embed(texts))).toMatchObject({ code: 'bad-response', retryable: false });
  });

  it('abort: rejects at once while the server hangs', async () => {
    const docs = await azureEmbedder();
    emb.hangNext();
    await expectQuickAbort((signal) => docs.embed('x', { signal }));
    await emb.waitForClientAbort(undefined, 1000);
  });
});

describe('azure-openai with a Microsoft Entra ID token provider', () => {
  const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.entra-token-SECRET-4711';
  let entra: OpenAIFakeServer;
  let module: TestingModule | undefined;

  beforeAll(async () => {
    entra = await OpenAIFakeServer.start({ apiKey: API_KEY, azure: { deployment: 'gpt4o-prod', apiVersion: VERSION, entraToken: TOKEN } });
  });
  afterAll(async () => {
    await entra.close();
  });
  afterEach(async () => {
    await module?.close();
    module = undefined;
  });

  async function bootWith(entry: Record<string, unknown>, tokenProviders: Record<string, () => Promise<string> | string>) {
    module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          tokenProviders,
          config: { llm: { gpt: { type: 'azure-openai', endpoint: entra.endpoint, deployment: 'gpt4o-prod', maxRetries: 0, ...entry } } },
        }),
      ],
    }).compile();
    return module.get(ProvidersRegistry).llm('gpt');
  }

  it('sends Authorization: Bearer with a token asked for each request, and no api-key', async () => {
    let asked = 0;
    const llm = await bootWith({ tokenProvider: 'entra' }, { entra: async () => (asked++, TOKEN) });
    await llm.generate(user('one'));
    await collect(llm.stream(user('two')));
    expect(asked).toBe(2);
    for (const request of entra.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request.headers['api-key']).toBeUndefined();
    }
  });

  it('keeps the token out of errors, even when the upstream echoes it', async () => {
    const llm = await bootWith({ tokenProvider: 'entra' }, { entra: () => TOKEN });
    entra.failNext(403, { message: `token ${TOKEN} may not call this deployment` });
    const error = await rejection(() => llm.generate(user('x')));
    expect(error).toMatchObject({ status: 403 });
    expect(error.message).toContain('token *** may not call this deployment');
    expect(printable(error)).not.toContain(TOKEN);
  });

  it('refuses apiKey and tokenProvider together, and a tokenProvider the module was not given', async () => {
    const both = await rejection(() => bootWith({ tokenProvider: 'entra', apiKey: API_KEY }, { entra: () => TOKEN }));
    expect(both).toBeInstanceOf(ProvidersConfigError);
    expect(both.message).toContain('inline config llm.gpt.tokenProvider: "tokenProvider" and apiKey exclude each other: keep one; got "entra".');
    expectNoKey(printable(both), API_KEY);
    const missing = await rejection(() => bootWith({ tokenProvider: 'entra' }, {}));
    expect(missing).toBeInstanceOf(ProvidersConfigError);
    expect(missing.message).toContain(
      "llm.gpt: could not be created: tokenProvider \"entra\" is not among the module's token providers (none given). Pass it to ProvidersModule.forRoot({ tokenProviders: { entra: getBearerTokenProvider(credential, 'https://cognitiveservices.azure.com/.default') } }).",
    );
  });
});
