import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Test } from '@nestjs/testing';
import { ProviderError, ProvidersConfigError, ProvidersModule, type Embedder, type LLM } from '@hush/providers';
import { geminiEmbedder } from '../libs/providers/src/providers/gemini/gemini.embedder.js';
import { geminiLLM } from '../libs/providers/src/providers/gemini/gemini.llm.js';
import { GeminiFakeServer } from './fakes/gemini-fake-server.js';
import { fakeEmbedding } from './fakes/openai-fake-server.js';
import { boot, bootError, collect, expectNoKey, expectQuickAbort, printable, rejection, type Booted } from './support/provider-kit.js';

const API_KEY = 'AIzaSyFAKE-SECRETKEY0123456789abcdefXYZ';
const WRONG_KEY = 'AIzaSyFAKE-WRONGKEY9876543210zyxwvuQRS';
const MODEL = 'gemini-embedding-001';

let fake: GeminiFakeServer;
let app: Booted | undefined;

beforeAll(async () => {
  fake = await GeminiFakeServer.start({ apiKey: API_KEY });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function gemini(entry: Record<string, unknown> = {}): Promise<LLM> {
  app = await boot({ llm: { flash: { type: 'gemini', model: 'gemini-2.5-flash', apiKey: API_KEY, baseUrl: fake.baseUrl, maxRetries: 0, ...entry } } }, [
    geminiLLM,
  ]);
  return app.registry.llm('flash');
}

async function embedder(entry: Record<string, unknown> = {}): Promise<Embedder> {
  app = await boot({ embedding: { docs: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: fake.baseUrl, maxRetries: 0, ...entry } } }, [
    geminiEmbedder,
  ]);
  return app.registry.embedder('docs');
}

const user = (content: string) => [{ role: 'user' as const, content }];

describe('gemini config', () => {
  it('documents one default API root for both types (as @google/genai takes it) and the batch limit', () => {
    expect(geminiLLM.docs?.defaultBaseUrl).toBe('https://generativelanguage.googleapis.com');
    expect(geminiEmbedder.docs?.defaultBaseUrl).toBe('https://generativelanguage.googleapis.com');
    expect(geminiEmbedder.docs?.batchLimit).toBe(100);
  });

  it('one baseUrl for both types: the API root, each type adding the version path and its own route', async () => {
    app = await boot(
      {
        llm: { flash: { type: 'gemini', model: 'gemini-2.5-flash', apiKey: API_KEY, baseUrl: fake.baseUrl, maxRetries: 0 } },
        embedding: { docs: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: fake.baseUrl, maxRetries: 0 } },
      },
      [geminiLLM, geminiEmbedder],
    );
    const completion = await app.registry.llm('flash').generate(user('hi'));
    expect(completion.choices[0]!.message.content).toBe('echo: hi');
    const result = await app.registry.embedder('docs').embed('x');
    expect(result.embeddings).toEqual([fakeEmbedding('x', 8)]);
    expect(await app.registry.get('llm', 'flash').ping!({ timeoutMs: 2_000 })).toEqual({ deployments: 1, reachable: 1 });
    expect(await app.registry.get('embedding', 'docs').ping!({ timeoutMs: 2_000 })).toEqual({ deployments: 1, reachable: 1 });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1beta/openai/chat/completions',
      `POST /v1beta/models/${MODEL}:batchEmbedContents`,
      'GET /v1beta/openai/models',
      'GET /v1beta/models',
    ]);
  });

  it("a root with a path of its own (a gateway's) is taken, even with a version inside it", async () => {
    const root = 'https://gateway.ai.cloudflare.com/v1/account/gateway/google-ai-studio';
    app = await boot(
      {
        llm: { flash: { type: 'gemini', model: 'm', apiKey: API_KEY, baseUrl: root } },
        embedding: { docs: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: root } },
      },
      [geminiLLM, geminiEmbedder],
    );
    expect(app.registry.names('llm')).toEqual(['flash']);
  });

  it('a baseUrl that is no URL is still refused as one', async () => {
    const err = await bootError(
      { embedding: { docs: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: 'generativelanguage.googleapis.com/v1beta' } } },
      [geminiEmbedder],
    );
    expect(err.issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`)).toEqual([
      'embedding.docs.baseUrl: "baseUrl" must be a URL address; got "generativelanguage.googleapis.com/v1beta".',
    ]);
  });

  it('a trailing slash on the root is fine', async () => {
    const llm = await gemini({ baseUrl: `${fake.baseUrl}/` });
    await llm.generate(user('hi'));
    expect(fake.lastRequest!.path).toBe('/v1beta/openai/chat/completions');
  });

  it("apiVersion picks the version path of both types, as @google/genai's apiVersion does", async () => {
    app = await boot(
      {
        llm: { flash: { type: 'gemini', model: 'gemini-2.5-flash', apiKey: API_KEY, baseUrl: fake.baseUrl, apiVersion: 'v1', maxRetries: 0 } },
        embedding: { docs: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: fake.baseUrl, apiVersion: 'v1alpha', maxRetries: 0 } },
      },
      [geminiLLM, geminiEmbedder],
    );
    await app.registry.llm('flash').generate(user('hi'));
    await app.registry.embedder('docs').embed('x');
    expect(fake.requests.map((r) => r.path)).toEqual(['/v1/openai/chat/completions', `/v1alpha/models/${MODEL}:batchEmbedContents`]);
  });

  it('refuses a baseUrl that still carries a version path, saying what to write instead', async () => {
    const err = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          config: {
            llm: { flash: { type: 'gemini', model: 'gemini-2.5-flash', apiKey: API_KEY, baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai' } },
            embedding: {
              docs: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: 'https://proxy.example.com/gemini/v1beta/' },
              old: { type: 'gemini', model: MODEL, apiKey: API_KEY, baseUrl: 'https://proxy.example.com/v1' },
            },
          },
        }),
      ],
    })
      .compile()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect((err as Error).message).toBe(
      [
        'Invalid providers config (3 problems):',
        '  1. inline config llm.flash.baseUrl: "baseUrl" must be the API root without "/v1beta/openai" (the type adds its version path itself): write "https://generativelanguage.googleapis.com"; got "https://generativelanguage.googleapis.com/v1beta/openai".',
        '  2. inline config embedding.docs.baseUrl: "baseUrl" must be the API root without "/v1beta" (the type adds its version path itself): write "https://proxy.example.com/gemini"; got "https://proxy.example.com/gemini/v1beta/".',
        '  3. inline config embedding.old.baseUrl: "baseUrl" must be the API root without "/v1" (the type adds its version path itself): write "https://proxy.example.com" with "apiVersion: v1"; got "https://proxy.example.com/v1".',
      ].join('\n'),
    );
    expectNoKey(printable(err), API_KEY);
  });

  it('apiVersion must be a version name of letters and digits', async () => {
    const err = await bootError(
      {
        llm: { a: { type: 'gemini', model: 'm', apiKey: API_KEY, apiVersion: 'v1beta/openai' } },
        embedding: { b: { type: 'gemini', model: MODEL, apiKey: API_KEY, apiVersion: '' } },
      },
      [geminiLLM, geminiEmbedder],
    );
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect(err.issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`)).toEqual([
      'llm.a.apiVersion: "apiVersion" must be an API version name of letters and digits (v1beta, v1, v1alpha); got "v1beta/openai".',
      'embedding.b.apiVersion: "apiVersion" must be an API version name of letters and digits (v1beta, v1, v1alpha); got "".',
    ]);
  });

  it('requires model and apiKey, refuses unknown keys and task types, and never shows the key', async () => {
    const err = await bootError(
      {
        llm: { a: { type: 'gemini', apiKey: API_KEY }, b: { type: 'gemini', model: 'm', apiKey: API_KEY, organization: 'o' } },
        embedding: {
          c: { type: 'gemini', model: MODEL },
          d: { type: 'gemini', model: MODEL, apiKey: API_KEY, taskType: 'RETRIEVAL' },
          e: { type: 'gemini', model: MODEL, apiKey: API_KEY, dimensions: -5 },
        },
      },
      [geminiLLM, geminiEmbedder],
    );
    expect(err).toBeInstanceOf(ProvidersConfigError);
    const message = String(err.message);
    for (const path of ['llm.a.model', 'llm.b.organization', 'embedding.c.apiKey', 'embedding.d.taskType', 'embedding.e.dimensions']) {
      expect(message).toContain(path);
    }
    expectNoKey(printable(err), API_KEY);
  });
});

describe('gemini llm (OpenAI-compatible endpoint)', () => {
  it('sends an OpenAI chat request with the key as Bearer, and returns the completion', async () => {
    const llm = await gemini();
    expect(llm.model).toBe('gemini-2.5-flash');
    const completion = await llm.generate(user('hello there'), { temperature: 0.2, max_tokens: 50 });
    const req = fake.lastRequest!;
    expect(req.path).toBe('/v1beta/openai/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.headers['x-goog-api-key']).toBeUndefined();
    expect(req.body).toEqual({ model: 'gemini-2.5-flash', messages: user('hello there'), temperature: 0.2, max_tokens: 50, stream: false });
    expect(completion.choices[0]!.message.content).toBe('echo: hello there');
    expect(completion.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('streams with include_usage, usage on the last chunk', async () => {
    const llm = await gemini();
    const chunks = await collect(llm.stream(user('one two')));
    expect(fake.lastRequest!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: one two');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it("Google's errors (a list around the error) keep their status and retryability, and no key", async () => {
    const wrong = await gemini({ apiKey: WRONG_KEY });
    const err = await rejection(() => wrong.generate(user('hi')));
    expect(fake.lastRequest!.headers.authorization).toBe(`Bearer ${WRONG_KEY}`);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ instance: 'flash', type: 'gemini', kind: 'llm', status: 400, retryable: false });
    expect((err as Error).message).toMatch(/^llm "flash" \(gemini\): upstream answered 400 Bad Request: API key not valid/);
    expectNoKey(printable(err), WRONG_KEY);
    await app!.close();

    const llm = await gemini();
    fake.failNext(429, 'Resource has been exhausted (e.g. check quota).', { headers: { 'retry-after': '4' } });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 429, retryable: true, retryAfterMs: 4000 });
    fake.failNext(503, 'The model is overloaded. Please try again later.');
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 503, retryable: true });
    fake.failNext(404, 'models/gemini-9 is not found for API version v1beta');
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 404, retryable: false });
  });

  it('abort: rejects at once mid-stream', async () => {
    const llm = await gemini();
    fake.hangNext({ afterEvents: 2 });
    const seen: string[] = [];
    await expectQuickAbort(async (signal) => {
      for await (const chunk of llm.stream(user('a b c'), { signal })) seen.push(chunk.choices[0]?.delta.content ?? '');
    });
    expect(seen).toEqual(['echo:', ' a']);
    await fake.waitForClientAbort(1000);
  });
});

describe('gemini embeddings (batchEmbedContents)', () => {
  const texts = ['the first text', 'a second one', 'third'];

  it('sends batchEmbedContents with x-goog-api-key and reads the vectors in order', async () => {
    const docs = await embedder();
    expect(docs.model).toBe(MODEL);
    const result = await docs.embed(texts);
    const req = fake.lastRequest!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/v1beta/models/${MODEL}:batchEmbedContents`);
    expect(req.headers['x-goog-api-key']).toBe(API_KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toEqual({ requests: texts.map((text) => ({ model: `models/${MODEL}`, content: { parts: [{ text }] } })) });
    expect(result.embeddings).toEqual(texts.map((t) => fakeEmbedding(t, 8)));
    expect(result).toMatchObject({ model: MODEL, dimensions: 8 });
  });

  it('maps inputType to taskType, and a configured taskType wins', async () => {
    const docs = await embedder();
    await docs.embed('what is x', { inputType: 'query' });
    expect(fake.lastRequest!.body.requests[0].taskType).toBe('RETRIEVAL_QUERY');
    await docs.embed(texts, { inputType: 'document' });
    expect(fake.lastRequest!.body.requests.map((r: any) => r.taskType)).toEqual(Array(3).fill('RETRIEVAL_DOCUMENT'));
    await app!.close();

    const similar = await embedder({ taskType: 'SEMANTIC_SIMILARITY' });
    await similar.embed('x', { inputType: 'query' });
    expect(fake.lastRequest!.body.requests[0].taskType).toBe('SEMANTIC_SIMILARITY');
  });

  it('sends the dimensions in force as outputDimensionality, and checks the vectors against them', async () => {
    const docs = await embedder({ dimensions: 256 });
    const result = await docs.embed(texts);
    expect(fake.lastRequest!.body.requests.every((r: any) => r.outputDimensionality === 256)).toBe(true);
    expect(result.dimensions).toBe(256);
    expect(result.embeddings[2]).toEqual(fakeEmbedding('third', 256));

    const short = await docs.embed('x', { dimensions: 64 });
    expect(fake.lastRequest!.body.requests[0].outputDimensionality).toBe(64);
    expect(short.embeddings[0]).toHaveLength(64);

    fake.enqueue({ kind: 'mutate', json: (a) => ({ embeddings: a.embeddings.map((e: any) => ({ values: e.values.slice(1) })) }) });
    expect(await rejection(() => docs.embed('y'))).toMatchObject({ name: 'ProviderError', code: 'dimensions', retryable: false });
  });

  it('splits into requests of at most 100 (or batchSize), keeping input order', async () => {
    const many = Array.from({ length: 250 }, (_, i) => `text number ${i}`);
    const docs = await embedder();
    const result = await docs.embed(many);
    expect(fake.requests.map((r) => r.body.requests.length).sort((a, b) => b - a)).toEqual([100, 100, 50]);
    expect(result.embeddings).toEqual(many.map((t) => fakeEmbedding(t, 8)));
    await app!.close();

    fake.reset();
    const small = await embedder({ batchSize: 40 });
    await small.embed(many.slice(0, 90));
    expect(fake.requests.map((r) => r.body.requests.length).sort((a, b) => b - a)).toEqual([40, 40, 10]);
    expect(await small.embed([])).toMatchObject({ embeddings: [] });
    expect(fake.requests).toHaveLength(3);
  });

  it('the fake holds Google to its limit: 101 requests in one batch is a 400', async () => {
    const res = await fetch(`${fake.baseUrl}/v1beta/models/${MODEL}:batchEmbedContents`, {
      method: 'POST',
      headers: { 'x-goog-api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ requests: Array.from({ length: 101 }, () => ({ model: `models/${MODEL}`, content: { parts: [{ text: 'x' }] } })) }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: 400, message: '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch', status: 'INVALID_ARGUMENT' },
    });
  });

  it('takes the model as models/<name> too', async () => {
    const docs = await embedder({ model: `models/${MODEL}` });
    expect(docs.model).toBe(MODEL);
    await docs.embed('x');
    expect(fake.lastRequest!.path).toBe(`/v1beta/models/${MODEL}:batchEmbedContents`);
    expect(fake.lastRequest!.body.requests[0].model).toBe(`models/${MODEL}`);
  });

  it("errors: Google's message and status, retryability, and no key", async () => {
    const wrong = await embedder({ apiKey: WRONG_KEY });
    const err = await rejection(() => wrong.embed('x'));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ instance: 'docs', type: 'gemini', kind: 'embedding', status: 400, retryable: false, code: 'http' });
    expect(err.message).toBe('embedding "docs" (gemini): upstream answered 400 Bad Request: API key not valid. Please pass a valid API key.');
    expectNoKey(printable(err), WRONG_KEY);
    await app!.close();

    const docs = await embedder();
    fake.failNext(429, 'Resource has been exhausted (e.g. check quota).');
    expect(await rejection(() => docs.embed('x'))).toMatchObject({ status: 429, retryable: true });
    fake.failNext(500, 'An internal error has occurred.');
    expect(await rejection(() => docs.embed('x'))).toMatchObject({ status: 500, retryable: true });
    fake.failNext(404, `models/${MODEL} is not found for API version v1beta, or is not supported for embedContent.`);
    const missing = await rejection(() => docs.embed('x'));
    expect(missing).toMatchObject({ status: 404, retryable: false });
    expect(missing.message).toContain('is not found for API version v1beta');
  });

  it('a wrong count, a broken vector or malformed JSON is a bad response', async () => {
    const docs = await embedder();
    fake.enqueue({ kind: 'mutate', json: (a) => ({ embeddings: a.embeddings.slice(1) }) });
    const count = await rejection(() => docs.embed(texts));
    expect(count).toMatchObject({ name: 'ProviderError', code: 'bad-response', retryable: false });
    expect(count.message).toContain('asked for 3 vectors, got 2');
    fake.enqueue({ kind: 'mutate', json: (a) => ({ embeddings: a.embeddings.map(() => ({ value: [1] })) }) });
    expect(await rejection(() => docs.embed(texts))).toMatchObject({ code: 'bad-response' });
    fake.enqueue({ kind: 'raw', status: 200, body: '{"embeddings": [' });
    expect(await rejection(() => docs.embed(texts))).toMatchObject({ code: 'bad-response' });
  });

  it('abort: rejects at once while the server hangs', async () => {
    const docs = await embedder();
    fake.hangNext();
    await expectQuickAbort((signal) => docs.embed('x', { signal }));
    await fake.waitForClientAbort(1000);
  });
});
