import 'reflect-metadata';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProviderError, ProvidersConfigError, ProvidersModule, ProvidersRegistry, type AnyProviderDefinition, type HttpTransport } from '@hush/providers';
import { secretFieldsOf } from '../libs/providers/src/core/config-fields.js';
import { CohereEmbedderConfig, cohereEmbedder } from '../libs/providers/src/providers/cohere/cohere.embedder.js';
import { JinaEmbedderConfig, jinaEmbedder } from '../libs/providers/src/providers/jina/jina.embedder.js';
import { OllamaEmbedderConfig, ollamaEmbedder } from '../libs/providers/src/providers/ollama/ollama.embedder.js';
import { TEIEmbedderConfig, teiEmbedder } from '../libs/providers/src/providers/tei/tei.embedder.js';
import { VoyageEmbedderConfig, voyageEmbedder } from '../libs/providers/src/providers/voyage/voyage.embedder.js';
import { voyageReranker } from '../libs/providers/src/providers/voyage/voyage.reranker.js';
import { EmbeddingFakeServer, type EmbeddingService } from './fakes/embedding-fake-servers.js';
import { RerankFakeServer } from './fakes/rerank-fake-servers.js';
import { encodeFloat32, fakeEmbedding } from './fakes/openai-fake-server.js';
import { AT_ONCE_MS } from './support/timing.js';

const API_KEY = 'hush-test-SECRETKEY0123456789-zq9X';
const WRONG_KEY = 'hush-test-WRONGKEY9876543210-pw7Y';
const CATALOGUE: AnyProviderDefinition[] = [teiEmbedder, ollamaEmbedder, cohereEmbedder, jinaEmbedder, voyageEmbedder];

interface Case {
  service: EmbeddingService;
  /** The YAML entry, less baseUrl. */
  entry: Record<string, unknown>;
  path: string;
  /** The documented default inputs per request. */
  limit: number;
  /** The body of a plain `embed(['alpha beta', 'gamma'])`. */
  plainBody: (texts: string[]) => Record<string, unknown>;
  /** Usage of that call, when the service reports one. */
  plainUsage?: { promptTokens: number; totalTokens: number };
  /** Where inputType goes, and what query / document become. */
  inputType?: { field: string; query: unknown; document: unknown };
  /** Where dimensions go, and two values the service accepts. */
  dimensions?: { field: string; values: [number, number] };
  /** The field that asks for base64 vectors (little-endian float32), where the service has one. */
  base64Field?: string;
  defaultBaseUrl: string;
  needsKey: boolean;
}

const CASES: Case[] = [
  {
    service: 'tei',
    entry: { type: 'tei', queryPromptName: 'query', documentPromptName: 'document' },
    path: '/embed',
    limit: 32,
    plainBody: (texts) => ({ inputs: texts }),
    inputType: { field: 'prompt_name', query: 'query', document: 'document' },
    defaultBaseUrl: 'http://127.0.0.1:8080',
    needsKey: false,
  },
  {
    service: 'ollama',
    entry: { type: 'ollama', model: 'nomic-embed-text' },
    path: '/api/embed',
    limit: 512,
    plainBody: (texts) => ({ model: 'nomic-embed-text', input: texts }),
    plainUsage: { promptTokens: 3, totalTokens: 3 },
    dimensions: { field: 'dimensions', values: [4, 6] },
    defaultBaseUrl: 'http://127.0.0.1:11434',
    needsKey: false,
  },
  {
    service: 'cohere',
    entry: { type: 'cohere', model: 'embed-v4.0', apiKey: API_KEY },
    path: '/v2/embed',
    limit: 96,
    plainBody: (texts) => ({ model: 'embed-v4.0', texts, input_type: 'search_document', embedding_types: ['float'] }),
    plainUsage: { promptTokens: 3, totalTokens: 3 },
    inputType: { field: 'input_type', query: 'search_query', document: 'search_document' },
    dimensions: { field: 'output_dimension', values: [256, 512] },
    defaultBaseUrl: 'https://api.cohere.com',
    needsKey: true,
  },
  {
    service: 'jina',
    entry: { type: 'jina', model: 'jina-embeddings-v3', apiKey: API_KEY },
    path: '/v1/embeddings',
    limit: 2048,
    plainBody: (texts) => ({ model: 'jina-embeddings-v3', input: texts, embedding_type: 'base64' }),
    plainUsage: { promptTokens: 3, totalTokens: 3 },
    inputType: { field: 'task', query: 'retrieval.query', document: 'retrieval.passage' },
    dimensions: { field: 'dimensions', values: [4, 6] },
    base64Field: 'embedding_type',
    defaultBaseUrl: 'https://api.jina.ai',
    needsKey: true,
  },
  {
    service: 'voyage',
    entry: { type: 'voyage', model: 'voyage-3.5', apiKey: API_KEY },
    path: '/v1/embeddings',
    limit: 1000,
    plainBody: (texts) => ({ model: 'voyage-3.5', input: texts, input_type: null, encoding_format: 'base64' }),
    plainUsage: { promptTokens: 3, totalTokens: 3 },
    inputType: { field: 'input_type', query: 'query', document: 'document' },
    dimensions: { field: 'output_dimension', values: [256, 512] },
    base64Field: 'encoding_format',
    defaultBaseUrl: 'https://api.voyageai.com/v1',
    needsKey: true,
  },
];

const fakes = {} as Record<EmbeddingService, EmbeddingFakeServer>;
const modules: TestingModule[] = [];
const extraFakes: EmbeddingFakeServer[] = [];

beforeAll(async () => {
  for (const c of CASES) fakes[c.service] = await EmbeddingFakeServer.start(c.service, c.needsKey ? { apiKey: API_KEY } : {});
});
afterAll(async () => {
  await Promise.all(Object.values(fakes).map((f) => f.close()));
});
beforeEach(() => {
  for (const fake of Object.values(fakes)) fake.reset();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(modules.splice(0).map((m) => m.close()));
  await Promise.all(extraFakes.splice(0).map((f) => f.close()));
});

/** Boots the module with inline config, the way an app does, and returns the registry. */
async function boot(embedding: Record<string, Record<string, unknown>>, transport?: HttpTransport): Promise<ProvidersRegistry> {
  const module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: { embedding: embedding as never }, providers: CATALOGUE, transport })],
  }).compile();
  modules.push(module);
  return module.get(ProvidersRegistry);
}

async function embedder(c: Case, extra: Record<string, unknown> = {}, fake: EmbeddingFakeServer = fakes[c.service]) {
  const registry = await boot({ docs: { ...c.entry, baseUrl: fake.baseUrl, ...extra } });
  return registry.embedder('docs');
}

async function configError(embedding: Record<string, Record<string, unknown>>): Promise<ProvidersConfigError> {
  const error = await boot(embedding).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ProvidersConfigError);
  return error as ProvidersConfigError;
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Every printable form of an error, its cause included. */
function printable(err: unknown): string {
  return [String(err), (err as Error).stack, JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
}

function expectNoKey(err: unknown, key = API_KEY): void {
  const text = printable(err);
  expect(text).not.toContain(key);
  expect(text).not.toContain(key.slice(10, 24));
}

const vectorsOf = (texts: string[], length = 8) => texts.map((t) => fakeEmbedding(t, length));

describe.each(CASES)('$service embedder', (c) => {
  const fake = () => fakes[c.service];

  it('sends the documented request and returns the vectors, model, dimensions and usage', async () => {
    const e = await embedder(c);
    const texts = ['alpha beta', 'gamma'];
    const result = await e.embed(texts);
    expect(fake().requests).toHaveLength(1);
    const request = fake().lastRequest!;
    expect(`${request.method} ${request.path}`).toBe(`POST ${c.path}`);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(request.headers.authorization).toBe(c.needsKey ? `Bearer ${API_KEY}` : undefined);
    expect(request.body).toEqual(c.plainBody(texts));
    expect(result.embeddings).toEqual(vectorsOf(texts));
    expect(result.dimensions).toBe(8);
    expect(result.usage).toEqual(c.plainUsage);
    expect(result.model).toBe(c.service === 'tei' ? 'tei' : c.entry.model);
    expect(e.type).toBe(c.service);
  });

  it(`splits at the documented limit and keeps input order`, async () => {
    const e = await embedder(c);
    const texts = Array.from({ length: c.limit + 1 }, (_, i) => `text-${i}`);
    const result = await e.embed(texts);
    const sizes = fake()
      .batches.map((b) => b.length)
      .sort((a, b) => b - a);
    expect(sizes).toEqual([c.limit, 1]);
    expect(result.embeddings).toEqual(vectorsOf(texts));
    if (c.plainUsage) expect(result.usage).toEqual({ promptTokens: texts.length, totalTokens: texts.length });
  });

  it('lowers the limit to batchSize, and reassembles concurrent batches in input order', async () => {
    const e = await embedder(c, { batchSize: 3 });
    const texts = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const result = await e.embed(texts);
    expect(
      fake()
        .batches.map((b) => b.length)
        .sort(),
    ).toEqual([1, 3, 3, 3]);
    expect(fake().batches.flat().sort()).toEqual([...texts].sort());
    expect(result.embeddings).toEqual(vectorsOf(texts));
  });

  it('answers an empty input without a request', async () => {
    const e = await embedder(c);
    expect((await e.embed([])).embeddings).toEqual([]);
    expect(fake().requests).toHaveLength(0);
  });

  if (c.inputType) {
    const mapping = c.inputType;
    it(`maps inputType to ${mapping.field}`, async () => {
      const e = await embedder(c);
      await e.embed('what is up', { inputType: 'query' });
      expect(fake().lastRequest!.body[mapping.field]).toEqual(mapping.query);
      await e.embed('a document', { inputType: 'document' });
      expect(fake().lastRequest!.body[mapping.field]).toEqual(mapping.document);
    });
  }

  if (c.dimensions) {
    const { field, values } = c.dimensions;
    it(`sends dimensions as ${field}; a call's dimensions override the configured ones`, async () => {
      const e = await embedder(c, { dimensions: values[0] });
      const result = await e.embed(['one', 'two']);
      expect(fake().lastRequest!.body[field]).toBe(values[0]);
      expect(result.dimensions).toBe(values[0]);
      expect(result.embeddings).toEqual(vectorsOf(['one', 'two'], values[0]));
      expect(e.dimensions).toBe(values[0]);

      const override = await e.embed('three', { dimensions: values[1] });
      expect(fake().lastRequest!.body[field]).toBe(values[1]);
      expect(override.embeddings[0]).toHaveLength(values[1]);
    });
  } else {
    it('never sends dimensions, but checks them: a vector of another length is an error', async () => {
      const e = await embedder(c, { dimensions: 4 });
      const error = await rejection(e.embed(['one']));
      expect(Object.keys(fake().lastRequest!.body)).not.toContain('dimensions');
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'dimensions', retryable: false, instance: 'docs', type: c.service });
      expect(error.message).toContain('returned vectors of 8 dimensions where 4 are configured');
    });
  }

  it('turns an upstream 401 into a ProviderError that is not retried and shows no key', async () => {
    // The self-hosted types take an optional key: give one, so there is a key to leak.
    const e = await embedder(c, { maxRetries: 2, apiKey: API_KEY });
    // A gateway in front of the service that echoes the key it was given.
    fake().failNext(401, `invalid api token: ${API_KEY} (key ${API_KEY.slice(0, 12)}…)`);
    const error = await rejection(e.embed('x'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ name: 'ProviderError', status: 401, retryable: false, instance: 'docs', type: c.service });
    expect(fake().requests).toHaveLength(1);
    expectNoKey(error);
  });

  if (c.needsKey) {
    it("answers a wrong key with the service's own 401, and shows neither key", async () => {
      const e = await embedder(c, { apiKey: WRONG_KEY });
      const error = await rejection(e.embed('x'));
      expect(error).toMatchObject({ status: 401, retryable: false });
      expect(fake().lastRequest!.headers.authorization).toBe(`Bearer ${WRONG_KEY}`);
      expectNoKey(error, WRONG_KEY);
      expectNoKey(error, API_KEY);
    });
  }

  it('turns a 429 with retry-after into a retryable ProviderError with retryAfterMs', async () => {
    const e = await embedder(c, { maxRetries: 0 });
    fake().failNext(429, 'rate limit exceeded, slow down', { headers: { 'retry-after': '2' } });
    const error = await rejection(e.embed('x'));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000 });
    expect(error.message).toContain('rate limit exceeded, slow down');
    expectNoKey(error);
  });

  it('turns a 500 into a retryable ProviderError, and retries it when allowed', async () => {
    const single = await embedder(c, { maxRetries: 0 });
    fake().failNext(500, 'internal failure');
    expect(await rejection(single.embed('x'))).toMatchObject({ name: 'ProviderError', status: 500, retryable: true });
    expect(fake().requests).toHaveLength(1);

    fake().reset();
    const retrying = await embedder(c, { maxRetries: 1 });
    fake().failNext(503, 'overloaded', { headers: { 'retry-after': '0' } });
    const result = await retrying.embed(['x']);
    expect(result.embeddings).toEqual(vectorsOf(['x']));
    expect(fake().requests).toHaveLength(2);
  });

  it("shows the service's own error message for a refused request", async () => {
    const e = await embedder(c, { maxRetries: 0 });
    fake().failNext(400, 'this model does not exist here');
    const error = await rejection(e.embed('x'));
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(error.message).toContain('this model does not exist here');
  });

  it('turns a malformed or misshapen 200 into a bad-response error', async () => {
    const e = await embedder(c, { maxRetries: 0 });
    fake().rawNext(200, '{"embeddings": [[0.1, 0.2');
    expect(await rejection(e.embed('x'))).toMatchObject({ name: 'ProviderError', code: 'bad-response', retryable: false });

    // One vector short.
    fake().mutateNext((answer) => {
      if (Array.isArray(answer)) return answer.slice(1);
      if (Array.isArray(answer.embeddings)) return { ...answer, embeddings: answer.embeddings.slice(1) };
      if (answer.embeddings?.float) return { ...answer, embeddings: { float: answer.embeddings.float.slice(1) } };
      return { ...answer, data: answer.data.slice(1) };
    });
    const short = await rejection(e.embed(['x', 'y']));
    expect(short).toMatchObject({ code: 'bad-response', retryable: false });
    expect(short.message).toContain('asked for 2 vectors, got 1');

    // A vector that is not numbers (where vectors come as base64, one that is not base64 float32).
    fake().mutateNext((answer) =>
      typeof answer.data?.[0]?.embedding === 'string'
        ? { ...answer, data: [{ ...answer.data[0], embedding: 'NaN' }] }
        : JSON.parse(JSON.stringify(answer).replace(/-?\d\.\d+(e-?\d+)?/, '"NaN"')),
    );
    expect(await rejection(e.embed(['x']))).toMatchObject({ code: 'bad-response' });
  });

  it('rejects at once with an AbortError when the caller aborts, and drops the connection', async () => {
    const e = await embedder(c);
    fake().hangNext();
    const controller = new AbortController();
    const pending = e.embed(['x'], { signal: controller.signal });
    await fake().waitFor((r) => r.length === 1);
    const started = Date.now();
    controller.abort();
    const error = await rejection(pending);
    expect(error.name).toBe('AbortError');
    // The request hangs: without the abort, the call would wait for its deadline (a minute).
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
    await fake().waitFor((r) => r[0]!.aborted);
  });

  it('uses the documented default baseUrl when none is given', async () => {
    // A transport that records where requests go and answers 503: nothing leaves the machine.
    const seen: string[] = [];
    const transport: HttpTransport = {
      request: async (request) => {
        seen.push(request.url);
        return {
          status: 503,
          header: (name) => (name === 'content-type' ? 'application/json' : undefined),
          text: async () => '{}',
          events: async function* () {},
          discard: () => undefined,
        };
      },
      close: async () => undefined,
    };
    const registry = await boot({ docs: { ...c.entry, maxRetries: 0 } }, transport);
    await rejection(registry.embedder('docs').embed('x'));
    // c.path is the full path the service serves (a default baseUrl may hold its start, like Voyage's /v1).
    expect(seen).toEqual([`${new URL(c.defaultBaseUrl).origin}${c.path}`]);
  });

  it('refuses unknown keys, bad URLs and out-of-range values at bootstrap', async () => {
    const error = await configError({
      docs: { ...c.entry, baseURL: 'http://x' },
      url: { ...c.entry, baseUrl: 'localhost:8080' },
      batch: { ...c.entry, batchSize: 0 },
    });
    expect(error.issues.map((i) => i.path).sort()).toEqual(['embedding.batch.batchSize', 'embedding.docs.baseURL', 'embedding.url.baseUrl']);
    expect(error.message).not.toContain(API_KEY);
  });
});

describe.each(CASES.filter((c) => c.base64Field))('$service base64 vectors', (c) => {
  const fake = () => fakes[c.service];
  const field = c.base64Field!;
  const texts = ['alpha beta', 'gamma', 'delta'];
  /** The data of an answer with each vector replaced by `fn` of it (and its position). */
  const withVectors = (answer: any, fn: (embedding: any, position: number) => unknown) => ({
    ...answer,
    data: answer.data.map((d: any, position: number) => ({ ...d, embedding: fn(d.embedding, position) })),
  });
  const cut = (base64: string, bytes: number) => Buffer.from(base64, 'base64').subarray(0, bytes).toString('base64');

  it(`asks for base64 (${field}) and decodes it to the vectors the floats would be`, async () => {
    const e = await embedder(c);
    const result = await e.embed(texts);
    expect(fake().lastRequest!.body[field]).toBe('base64');
    expect(fake().encodings).toEqual(['base64']);
    expect(result.embeddings).toEqual(vectorsOf(texts));
    expect(result.embeddings.every((v) => Array.isArray(v))).toBe(true);
    expect(result.dimensions).toBe(8);
  });

  it("hands the service's base64 strings over unchanged for vectors: 'base64'", async () => {
    const e = await embedder(c);
    const sent: unknown[] = [];
    fake().mutateNext((answer) => {
      sent.push(...answer.data.map((d: any) => d.embedding));
      return answer;
    });
    const result = await e.embed(texts, { vectors: 'base64' });
    expect(fake().lastRequest!.body[field]).toBe('base64');
    expect(sent.every((v) => typeof v === 'string')).toBe(true);
    expect(result.embeddings).toEqual(sent);
    expect(result.embeddings).toEqual(vectorsOf(texts).map(encodeFloat32));
    expect(result.dimensions).toBe(8);

    // Without padding: the same floats, in strings that a decode and re-encode would not give back.
    fake().mutateNext((answer) => withVectors(answer, (v: string) => v.replace(/=+$/, '')));
    const unpadded = await e.embed(texts, { vectors: 'base64' });
    expect(unpadded.embeddings).toEqual(vectorsOf(texts).map((v) => encodeFloat32(v).replace(/=+$/, '')));
  });

  it("gives Float32Array rows for vectors: 'float32'", async () => {
    const e = await embedder(c);
    const result = await e.embed(texts, { vectors: 'float32' });
    expect(fake().encodings).toEqual(['base64']);
    expect(result.embeddings.every((v) => v instanceof Float32Array)).toBe(true);
    expect(result.embeddings.map((v) => Array.from(v))).toEqual(vectorsOf(texts));
  });

  it('reads lists of numbers from a server that ignores the field, in every form', async () => {
    const e = await embedder(c);
    fake().ignoreEncodingFormat = true;
    const result = await e.embed(texts);
    expect(fake().lastRequest!.body[field]).toBe('base64');
    expect(result.embeddings).toEqual(vectorsOf(texts));
    expect((await e.embed(texts, { vectors: 'base64' })).embeddings).toEqual(vectorsOf(texts).map(encodeFloat32));
    const rows = (await e.embed(texts, { vectors: 'float32' })).embeddings;
    expect(rows.every((v) => v instanceof Float32Array)).toBe(true);
    expect(rows.map((v) => Array.from(v))).toEqual(vectorsOf(texts));
    expect(fake().encodings).toEqual(['float', 'float', 'float']);
  });

  it('refuses a vector of the wrong byte length, or a mix of base64 and lists, as a bad response', async () => {
    const e = await embedder(c, { maxRetries: 0 });
    for (const vectors of ['number', 'float32', 'base64'] as const) {
      // 30 bytes: not whole float32s.
      fake().mutateNext((answer) => withVectors(answer, (v: string) => cut(v, 30)));
      const partial = await rejection(e.embed(texts, { vectors }));
      expect(partial).toBeInstanceOf(ProviderError);
      expect(partial).toMatchObject({ code: 'bad-response', retryable: false, instance: 'docs', type: c.service });

      // Whole float32s, but one vector shorter than the others.
      fake().mutateNext((answer) => withVectors(answer, (v: string, i) => (i === 1 ? cut(v, 28) : v)));
      expect(await rejection(e.embed(texts, { vectors }))).toMatchObject({ code: 'bad-response', retryable: false });

      fake().mutateNext((answer) => withVectors(answer, (v: string, i) => (i === 1 ? fakeEmbedding(texts[1]!, 8) : v)));
      expect(await rejection(e.embed(texts, { vectors }))).toMatchObject({ code: 'bad-response', retryable: false });
    }
    expect(fake().requests).toHaveLength(9);
  });
});

describe('definitions', () => {
  it('document their default baseUrl and batch limit', () => {
    expect(CATALOGUE.map((d) => [d.kind, d.type, d.docs?.defaultBaseUrl, d.docs?.batchLimit])).toEqual(
      CASES.map((c) => ['embedding', c.service, c.defaultBaseUrl, c.limit]),
    );
    for (const d of CATALOGUE) expect(d.description).toBeTruthy();
  });

  it('mark apiKey and headers secret', () => {
    for (const cls of [TEIEmbedderConfig, OllamaEmbedderConfig, CohereEmbedderConfig, JinaEmbedderConfig, VoyageEmbedderConfig]) {
      expect([...secretFieldsOf(cls)].sort()).toEqual(['apiKey', 'headers']);
    }
  });

  it('require model (except tei) and, for the cloud services, apiKey', async () => {
    const error = await configError({
      tei: { type: 'tei' },
      ollama: { type: 'ollama' },
      cohere: { type: 'cohere' },
      jina: { type: 'jina', model: 'm' },
      voyage: { type: 'voyage', apiKey: API_KEY },
    });
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'embedding.cohere.apiKey',
      'embedding.cohere.model',
      'embedding.jina.apiKey',
      'embedding.ollama.model',
      'embedding.voyage.model',
    ]);
  });

  it('refuse values outside each service’s own sets', async () => {
    const error = await configError({
      cohere: { type: 'cohere', model: 'm', apiKey: 'k', inputType: 'query', truncate: 'MIDDLE' },
      jina: { type: 'jina', model: 'm', apiKey: 'k', task: 'retrieval', normalized: 'yes' },
      voyage: { type: 'voyage', model: 'm', apiKey: 'k', inputType: 'search_query', truncation: 1 },
      ollama: { type: 'ollama', model: 'm', keepAlive: 'forever', options: 'fast' },
      tei: { type: 'tei', normalize: 'no', queryPromptName: '' },
    });
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'embedding.cohere.inputType',
      'embedding.cohere.truncate',
      'embedding.jina.normalized',
      'embedding.jina.task',
      'embedding.ollama.keepAlive',
      'embedding.ollama.options',
      'embedding.tei.normalize',
      'embedding.tei.queryPromptName',
      'embedding.voyage.inputType',
      'embedding.voyage.truncation',
    ]);
  });
});

describe('tei specifics', () => {
  const c = CASES.find((x) => x.service === 'tei')!;

  it('sends prompt_name only for a mapped inputType, and normalize/truncate only when set', async () => {
    const e = await embedder(c, { normalize: false, truncate: true, documentPromptName: undefined });
    const query = await e.embed('q', { inputType: 'query' });
    expect(fakes.tei.lastRequest!.body).toEqual({ inputs: ['q'], normalize: false, truncate: true, prompt_name: 'query' });
    expect(query.embeddings[0]).toEqual(fakeEmbedding('q', 8).map((x) => x * 2));
    await e.embed('d', { inputType: 'document' });
    expect(fakes.tei.lastRequest!.body).toEqual({ inputs: ['d'], normalize: false, truncate: true });
  });

  it('lets batchSize raise the limit to the server’s own --max-client-batch-size', async () => {
    const big = await EmbeddingFakeServer.start('tei', { maxBatch: 64 });
    extraFakes.push(big);
    const e = await embedder(c, { batchSize: 64 }, big);
    const texts = Array.from({ length: 64 }, (_, i) => `t${i}`);
    expect((await e.embed(texts)).embeddings).toEqual(vectorsOf(texts));
    expect(big.batches.map((b) => b.length)).toEqual([64]);
  });

  it("surfaces TEI's 413 when the server's limit is below batchSize", async () => {
    const e = await embedder(c, { batchSize: 40, maxRetries: 0 });
    const error = await rejection(e.embed(Array.from({ length: 40 }, (_, i) => `t${i}`)));
    expect(error).toMatchObject({ status: 413, retryable: false });
    expect(error.message).toContain('batch size 40 > maximum allowed batch size 32');
  });

  it('sends an optional apiKey as Bearer (Inference Endpoints), a model name as a label only', async () => {
    const keyed = await EmbeddingFakeServer.start('tei', { apiKey: API_KEY });
    extraFakes.push(keyed);
    const e = await embedder(c, { apiKey: API_KEY, model: 'BAAI/bge-small-en-v1.5' }, keyed);
    const result = await e.embed('x');
    expect(keyed.lastRequest!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(keyed.lastRequest!.body).toEqual({ inputs: ['x'] });
    expect(result.model).toBe('BAAI/bge-small-en-v1.5');

    const without = await embedder(c, { maxRetries: 0 }, keyed);
    const error = await rejection(without.embed('x'));
    expect(error).toMatchObject({ status: 401, retryable: false });
  });
});

describe('ollama specifics', () => {
  const c = CASES.find((x) => x.service === 'ollama')!;

  it('sends truncate, keep_alive and options when set; keepAlive from ${VAR} becomes a number', async () => {
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: { KEEP: '300' },
          providers: CATALOGUE,
          config: {
            embedding: {
              a: { ...c.entry, baseUrl: fakes.ollama.baseUrl, truncate: false, keepAlive: '${KEEP}', options: { num_ctx: 2048 } },
              b: { ...c.entry, baseUrl: fakes.ollama.baseUrl, keepAlive: '10m' },
            },
          } as never,
        }),
      ],
    }).compile();
    modules.push(module);
    const registry = module.get(ProvidersRegistry);
    await registry.embedder('a').embed('x');
    expect(fakes.ollama.lastRequest!.body).toEqual({ model: 'nomic-embed-text', input: ['x'], truncate: false, keep_alive: 300, options: { num_ctx: 2048 } });
    await registry.embedder('b').embed('y');
    expect(fakes.ollama.lastRequest!.body).toEqual({ model: 'nomic-embed-text', input: ['y'], keep_alive: '10m' });
  });

  it("surfaces Ollama's 404 for a model that is not pulled", async () => {
    const pulled = await EmbeddingFakeServer.start('ollama', { models: ['all-minilm'] });
    extraFakes.push(pulled);
    const e = await embedder(c, { maxRetries: 0 }, pulled);
    const error = await rejection(e.embed('x'));
    expect(error).toMatchObject({ status: 404, retryable: false });
    expect(error.message).toContain('model "nomic-embed-text" not found, try pulling it first');
  });

  it('lets batchSize raise its default limit (Ollama has none of its own)', async () => {
    const e = await embedder(c, { batchSize: 600 });
    const texts = Array.from({ length: 600 }, (_, i) => `t${i}`);
    await e.embed(texts);
    expect(fakes.ollama.batches.map((b) => b.length)).toEqual([600]);
  });

  it('sends an optional apiKey as Bearer, with the configured headers', async () => {
    const e = await embedder(c, { apiKey: API_KEY, headers: { 'X-Team': 'search' } });
    await e.embed('x');
    expect(fakes.ollama.lastRequest!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(fakes.ollama.lastRequest!.headers['x-team']).toBe('search');
  });
});

describe('cohere specifics', () => {
  const c = CASES.find((x) => x.service === 'cohere')!;

  it('uses the configured inputType when the call gives none, and sends truncate', async () => {
    const e = await embedder(c, { inputType: 'clustering', truncate: 'END' });
    await e.embed('x');
    expect(fakes.cohere.lastRequest!.body).toEqual({
      model: 'embed-v4.0',
      texts: ['x'],
      input_type: 'clustering',
      embedding_types: ['float'],
      truncate: 'END',
    });
    await e.embed('q', { inputType: 'query' });
    expect(fakes.cohere.lastRequest!.body.input_type).toBe('search_query');
  });

  it('takes the key from the environment and sends extra headers without letting them replace the key', async () => {
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: { COHERE_API_KEY: API_KEY },
          providers: CATALOGUE,
          config: {
            embedding: {
              docs: {
                ...c.entry,
                apiKey: '${COHERE_API_KEY}',
                baseUrl: fakes.cohere.baseUrl,
                headers: { 'X-Client-Name': 'hush', Authorization: 'Bearer nope-nope' },
              },
            },
          } as never,
        }),
      ],
    }).compile();
    modules.push(module);
    await module.get(ProvidersRegistry).embedder('docs').embed('x');
    expect(fakes.cohere.lastRequest!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(fakes.cohere.lastRequest!.headers['x-client-name']).toBe('hush');
  });
});

describe('jina specifics', () => {
  const c = CASES.find((x) => x.service === 'jina')!;

  it('sends the configured task when the call gives no inputType, code tasks for code models, and normalized/truncate', async () => {
    const e = await embedder(c, { task: 'text-matching', normalized: true, truncate: true });
    await e.embed('x');
    expect(fakes.jina.lastRequest!.body).toEqual({
      model: 'jina-embeddings-v3',
      input: ['x'],
      embedding_type: 'base64',
      task: 'text-matching',
      normalized: true,
      truncate: true,
    });

    const code = await embedder(c, { task: 'code.passage' });
    await code.embed('how to sort', { inputType: 'query' });
    expect(fakes.jina.lastRequest!.body.task).toBe('code.query');
    await code.embed('def f(): pass', { inputType: 'document' });
    expect(fakes.jina.lastRequest!.body.task).toBe('code.passage');
  });

  it('puts data back in input order by index, and refuses a duplicate index', async () => {
    const e = await embedder(c, { maxRetries: 0 });
    fakes.jina.mutateNext((answer) => ({ ...answer, data: [...answer.data].reverse() }));
    const texts = ['a', 'b', 'c'];
    expect((await e.embed(texts)).embeddings).toEqual(vectorsOf(texts));

    fakes.jina.mutateNext((answer) => ({ ...answer, data: answer.data.map((d: any) => ({ ...d, index: 0 })) }));
    expect(await rejection(e.embed(texts))).toMatchObject({ code: 'bad-response' });
  });
});

describe('voyage specifics', () => {
  const c = CASES.find((x) => x.service === 'voyage')!;

  it('uses the configured inputType when the call gives none, and sends truncation', async () => {
    const e = await embedder(c, { inputType: 'document', truncation: false });
    await e.embed('x');
    expect(fakes.voyage.lastRequest!.body).toEqual({
      model: 'voyage-3.5',
      input: ['x'],
      input_type: 'document',
      truncation: false,
      encoding_format: 'base64',
    });
    await e.embed('q', { inputType: 'query' });
    expect(fakes.voyage.lastRequest!.body.input_type).toBe('query');
  });

  it("surfaces Voyage's refusal of an output_dimension it does not offer", async () => {
    const e = await embedder(c, { maxRetries: 0 });
    const error = await rejection(e.embed('x', { dimensions: 300 }));
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(error.message).toContain('output_dimension must be one of 256, 512, 1024, 2048');
  });

  it("one baseUrl for both voyage types: the API root with /v1, as Voyage's SDKs take it", async () => {
    const rerankFake = await RerankFakeServer.start('voyage', { apiKey: API_KEY });
    // One server in front of both fakes, as api.voyageai.com serves both.
    const seen: string[] = [];
    const front = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const target = new URL(req.url!.endsWith('/rerank') ? rerankFake.origin : fakes.voyage.origin);
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const baseUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}/v1`;
      const module = await Test.createTestingModule({
        imports: [
          ProvidersModule.forRoot({
            configPath: [],
            env: {},
            config: {
              embedding: { docs: { type: 'voyage', model: 'voyage-3.5', apiKey: API_KEY, baseUrl, maxRetries: 0 } },
              reranker: { rr: { type: 'voyage', model: 'rerank-2.5', apiKey: API_KEY, baseUrl, maxRetries: 0 } },
            } as never,
            providers: [voyageEmbedder, voyageReranker],
          }),
        ],
      }).compile();
      modules.push(module);
      const registry = module.get(ProvidersRegistry);
      expect((await registry.embedder('docs').embed(['alpha'])).embeddings).toEqual(vectorsOf(['alpha']));
      expect((await registry.reranker('rr').rerank('apple', ['apple pie', 'pear'])).map((r) => r.document)).toEqual(['apple pie', 'pear']);
      expect(seen).toEqual(['POST /v1/embeddings', 'POST /v1/rerank']);
      // And the same default, with the same meaning.
      expect(voyageEmbedder.docs?.defaultBaseUrl).toBe(voyageReranker.docs?.defaultBaseUrl);
    } finally {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await rerankFake.close();
    }
  });
});
