import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ProviderError,
  ProvidersConfigError,
  ProvidersModule,
  ProvidersRegistry,
  type AnyProviderDefinition,
  type Reranker,
  type RerankerDriver,
} from '@hush/providers';
import { cohereReranker } from '../libs/providers/src/providers/cohere/cohere.reranker.js';
import { jinaReranker } from '../libs/providers/src/providers/jina/jina.reranker.js';
import { pineconeReranker } from '../libs/providers/src/providers/pinecone/pinecone.reranker.js';
import { teiReranker } from '../libs/providers/src/providers/tei/tei.reranker.js';
import { voyageReranker } from '../libs/providers/src/providers/voyage/voyage.reranker.js';
import { vllmReranker } from '../libs/providers/src/providers/vllm/vllm.reranker.js';
import { fakeRerankScore, RerankFakeServer, type RecordedRequest, type RerankService } from './fakes/rerank-fake-servers.js';
import { AT_ONCE_MS } from './support/timing.js';

const API_KEY = 'rk-test-SECRETKEY0123456789-zq9X';
const WRONG_KEY = 'rk-test-WRONGKEY9876543210-pw7Y';

// No config/providers.yaml here: the inline config is the whole config.
const EMPTY_CWD = mkdtempSync(join(tmpdir(), 'rerank-catalogue-'));

/** Everything a test needs to know about one type and its service. */
interface Case {
  service: RerankService;
  definition: AnyProviderDefinition;
  /** The YAML entry pointing at the fake (with the right key). */
  entry(fake: RerankFakeServer): Record<string, unknown>;
  /** Documents per request by default. */
  limit: number;
  /** The request path the fake must see. */
  path: string;
  /** The auth the fake must see (header name → value); absent headers listed as undefined. */
  auth: Record<string, string | undefined>;
  /** The documents' texts as sent. */
  sentDocuments(body: any): string[];
  /** Checks the fields that say "every score, no text back", and the model. */
  expectBody(body: any, documents: string[]): void;
  /** The list of scored items in an answer (for breaking it). */
  list(answer: any): any[];
  scoreKey: string;
}

const asStrings = (body: any) => body.documents as string[];

const CASES: Case[] = [
  {
    service: 'cohere',
    definition: cohereReranker,
    entry: (fake) => ({ type: 'cohere', model: 'rerank-v3.5', apiKey: API_KEY, baseUrl: fake.baseUrl }),
    limit: 1000,
    path: '/v2/rerank',
    auth: { authorization: `Bearer ${API_KEY}` },
    sentDocuments: asStrings,
    expectBody(body, documents) {
      expect(body).toEqual({ model: 'rerank-v3.5', query: expect.any(String), documents, top_n: documents.length });
    },
    list: (answer) => answer.results,
    scoreKey: 'relevance_score',
  },
  {
    service: 'jina',
    definition: jinaReranker,
    entry: (fake) => ({ type: 'jina', model: 'jina-reranker-v2-base-multilingual', apiKey: API_KEY, baseUrl: fake.baseUrl }),
    limit: 1000,
    path: '/v1/rerank',
    auth: { authorization: `Bearer ${API_KEY}` },
    sentDocuments: asStrings,
    expectBody(body, documents) {
      expect(body).toEqual({
        model: 'jina-reranker-v2-base-multilingual',
        query: expect.any(String),
        documents,
        top_n: documents.length,
        return_documents: false,
      });
    },
    list: (answer) => answer.results,
    scoreKey: 'relevance_score',
  },
  {
    service: 'voyage',
    definition: voyageReranker,
    entry: (fake) => ({ type: 'voyage', model: 'rerank-2.5', apiKey: API_KEY, baseUrl: fake.baseUrl }),
    limit: 1000,
    path: '/v1/rerank',
    auth: { authorization: `Bearer ${API_KEY}` },
    sentDocuments: asStrings,
    expectBody(body, documents) {
      expect(body).toEqual({ model: 'rerank-2.5', query: expect.any(String), documents, top_k: documents.length, return_documents: false });
    },
    list: (answer) => answer.data,
    scoreKey: 'relevance_score',
  },
  {
    service: 'vllm',
    definition: vllmReranker,
    entry: (fake) => ({ type: 'vllm', model: 'BAAI/bge-reranker-v2-m3', apiKey: API_KEY, baseUrl: fake.baseUrl }),
    limit: 1000,
    path: '/rerank',
    auth: { authorization: `Bearer ${API_KEY}` },
    sentDocuments: asStrings,
    expectBody(body, documents) {
      expect(body).toEqual({ model: 'BAAI/bge-reranker-v2-m3', query: expect.any(String), documents, top_n: documents.length });
    },
    list: (answer) => answer.results,
    scoreKey: 'relevance_score',
  },
  {
    service: 'tei',
    definition: teiReranker,
    entry: (fake) => ({ type: 'tei', apiKey: API_KEY, baseUrl: fake.baseUrl }),
    limit: 32,
    path: '/rerank',
    auth: { authorization: `Bearer ${API_KEY}` },
    sentDocuments: (body) => body.texts,
    expectBody(body, documents) {
      expect(body).toEqual({ query: expect.any(String), texts: documents, return_text: false });
    },
    list: (answer) => answer,
    scoreKey: 'score',
  },
  {
    service: 'pinecone',
    definition: pineconeReranker,
    entry: (fake) => ({ type: 'pinecone', model: 'bge-reranker-v2-m3', apiKey: API_KEY, baseUrl: fake.baseUrl }),
    limit: 100,
    path: '/rerank',
    auth: { 'api-key': API_KEY, 'x-pinecone-api-version': '2026-04', authorization: undefined },
    sentDocuments: (body) => body.documents.map((d: { text: string }) => d.text),
    expectBody(body, documents) {
      expect(body).toEqual({
        model: 'bge-reranker-v2-m3',
        query: expect.any(String),
        documents: documents.map((text) => ({ text })),
        top_n: documents.length,
        return_documents: false,
      });
    },
    list: (answer) => answer.data,
    scoreKey: 'score',
  },
];

const modules: TestingModule[] = [];

async function boot(definition: AnyProviderDefinition, entry: Record<string, unknown>): Promise<Reranker> {
  const module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ env: {}, cwd: EMPTY_CWD, config: { reranker: { rr: entry as { type: string } } }, providers: [definition] })],
  }).compile();
  modules.push(module);
  return module.get(ProvidersRegistry).reranker('rr');
}

async function bootError(definition: AnyProviderDefinition, entry: Record<string, unknown>): Promise<any> {
  return rejection(() => boot(definition, entry));
}

async function rejection(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Every printable form of an error, its cause included. */
function printable(err: unknown): string {
  return [String(err), (err as Error).message, (err as Error).stack, JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
}

function expectNoKey(text: string, key = API_KEY): void {
  expect(text).not.toContain(key);
  expect(text).not.toContain(key.slice(8, 20));
}

/** Expected results: every document with the fake's score, highest first. */
function expectedOrder(query: string, documents: string[]): Array<{ index: number; score: number; document: string }> {
  return documents
    .map((document, index) => ({ index, score: fakeRerankScore(query, document), document }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}

const QUERY = 'apple';

/** `count` documents whose three best (A > B > C) sit at `positions`, mostly filler between. */
function bigSet(count: number, positions: [number, number, number]): string[] {
  const docs = Array.from({ length: count }, (_, i) => (i % 7 === 0 ? `apple pie recipe number ${i}` : `filler text number ${i}`));
  docs[positions[0]] = 'apple apple apple apple';
  docs[positions[1]] = 'apple apple apple banana';
  docs[positions[2]] = 'apple apple banana cherry';
  return docs;
}

afterEach(async () => {
  await Promise.all(modules.splice(0).map((m) => m.close()));
});

describe.each(CASES)('reranker type $service', (c) => {
  let fake: RerankFakeServer;

  beforeAll(async () => {
    fake = await RerankFakeServer.start(c.service, { apiKey: API_KEY });
  });
  afterAll(async () => {
    await fake.close();
  });
  afterEach(() => fake.reset());

  it("sends the service's request (path, auth, every score asked, no text back) and returns every document sorted, with its text", async () => {
    const reranker = await boot(c.definition, c.entry(fake));
    const documents = ['the cat sat on the mat', 'a dog barked', 'cat cat cat food', 'nothing here at all', 'my cat'];
    const results = await reranker.rerank('cat', documents);

    expect(fake.requests).toHaveLength(1);
    const req = fake.lastRequest!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(c.path);
    expect(req.headers['content-type']).toContain('application/json');
    for (const [name, value] of Object.entries(c.auth)) expect(req.headers[name]).toBe(value);
    c.expectBody(req.body, documents);
    expect(req.body.query).toBe('cat');

    expect(results).toEqual(expectedOrder('cat', documents));
    expect(results.map((r) => r.document)).toEqual(['cat cat cat food', 'my cat', 'the cat sat on the mat', ...results.slice(3).map((r) => r.document)]);
    expect(reranker.type).toBe(c.service);
  });

  it('splits a set larger than the service takes: no request over the limit, merged and sorted as one', async () => {
    const count = c.limit * 2 + 7;
    const positions: [number, number, number] = [count - 3, 4, c.limit + 2];
    const documents = bigSet(count, positions);
    const reranker = await boot(c.definition, c.entry(fake));
    const results = await reranker.rerank(QUERY, documents);

    expect(fake.requests).toHaveLength(3);
    const sent = [...fake.requests].sort((a, b) => indexOfFirst(a) - indexOfFirst(b)).map((r) => c.sentDocuments(r.body));
    for (const batch of sent) expect(batch.length).toBeLessThanOrEqual(c.limit);
    expect(sent.flat()).toEqual(documents);
    for (const r of fake.requests) c.expectBody(r.body, c.sentDocuments(r.body));

    expect(results).toHaveLength(count);
    expect(results).toEqual(expectedOrder(QUERY, documents));
    expect(results.slice(0, 3).map((r) => r.index)).toEqual(positions);

    function indexOfFirst(r: RecordedRequest): number {
      return documents.indexOf(c.sentDocuments(r.body)[0]!);
    }
  });

  it('applies topK and threshold after merging the batches', async () => {
    const count = c.limit + 5;
    const positions: [number, number, number] = [count - 1, 0, 3];
    const documents = bigSet(count, positions);
    const reranker = await boot(c.definition, c.entry(fake));

    const top2 = await reranker.rerank(QUERY, documents, { topK: 2 });
    expect(top2.map((r) => r.index)).toEqual([count - 1, 0]);
    expect(top2.map((r) => r.document)).toEqual(['apple apple apple apple', 'apple apple apple banana']);
    // Each batch was still asked for every score.
    for (const r of fake.requests) c.expectBody(r.body, c.sentDocuments(r.body));

    const above = await reranker.rerank(QUERY, documents, { threshold: 0.3 });
    expect(above.map((r) => r.index)).toEqual(positions);
    expect(above.every((r) => r.score >= 0.3)).toBe(true);

    const both = await reranker.rerank(QUERY, documents, { threshold: 0.1, topK: 4 });
    expect(both).toHaveLength(4);
    expect(both.slice(0, 3).map((r) => r.index)).toEqual(positions);
    expect(both[3]!.document).toMatch(/^apple pie recipe/);
  });

  it('maps a 401 to a non-retryable ProviderError that shows no key', async () => {
    const reranker = await boot(c.definition, { ...c.entry(fake), apiKey: WRONG_KEY, maxRetries: 0 });
    const err = await rejection(() => reranker.rerank('q', ['a', 'b']));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 401, retryable: false, instance: 'rr', type: c.service });
    expect(fake.requests).toHaveLength(1);
    expectNoKey(printable(err), WRONG_KEY);
    expectNoKey(printable(err));
  });

  it('maps a 429 with retry-after to a retryable ProviderError, and retries it when allowed', async () => {
    fake.failNext(429, 'Too many requests, slow down', { headers: { 'retry-after': '7' } });
    const once = await boot(c.definition, { ...c.entry(fake), maxRetries: 0 });
    const err = await rejection(() => once.rerank('q', ['a', 'b']));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 7000 });
    expect(err.message).toContain('Too many requests');
    expect(fake.requests).toHaveLength(1);

    fake.reset();
    fake.failNext(429, 'Too many requests', { headers: { 'retry-after': '0' } });
    const twice = await boot(c.definition, { ...c.entry(fake), maxRetries: 1 });
    const results = await twice.rerank('a', ['a', 'b']);
    expect(results.map((r) => r.index)).toEqual([0, 1]);
    expect(fake.requests).toHaveLength(2);
  });

  it("maps a 500 to a retryable ProviderError carrying the service's message", async () => {
    fake.failNext(500, 'upstream exploded');
    const reranker = await boot(c.definition, { ...c.entry(fake), maxRetries: 0 });
    const err = await rejection(() => reranker.rerank('q', ['a']));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 500, retryable: true });
    expect(err.message).toContain('upstream exploded');
  });

  it('keeps the key out of an error body that echoes it', async () => {
    fake.failNext(400, `bad request for key ${API_KEY} (Bearer ${API_KEY})`);
    const reranker = await boot(c.definition, { ...c.entry(fake), maxRetries: 0 });
    const err = await rejection(() => reranker.rerank('q', ['a']));
    expect(err).toMatchObject({ status: 400, retryable: false });
    expect(err.message).toContain('***');
    expectNoKey(printable(err));
  });

  it('refuses a malformed answer: an index out of range, a missing score, a repeated index, a non-JSON body', async () => {
    const reranker = await boot(c.definition, { ...c.entry(fake), maxRetries: 2 });
    const breakages: Array<[string, (answer: any) => any]> = [
      ['index', (a) => ((c.list(a)[0].index = 99), a)],
      [c.scoreKey, (a) => (delete c.list(a)[1][c.scoreKey], a)],
      ['twice', (a) => ((c.list(a)[1].index = c.list(a)[0].index), a)],
      ['scores of 3', (a) => (c.list(a).pop(), a)],
    ];
    for (const [word, fn] of breakages) {
      fake.reset();
      fake.mutateNext(fn);
      const err = await rejection(() => reranker.rerank('apple', ['apple', 'banana', 'apple pie']));
      expect(err, word).toBeInstanceOf(ProviderError);
      expect(err, word).toMatchObject({ retryable: false, code: 'bad-response' });
      expect(err.status, word).toBeUndefined();
      expect(err.message, word).toContain(word);
      // Not retried: the answer would be the same.
      expect(fake.requests, word).toHaveLength(1);
      expect(err.message).not.toContain('apple pie');
    }

    fake.reset();
    fake.enqueue({ kind: 'raw', status: 200, body: '<html>proxy error</html>', contentType: 'text/html' });
    const err = await rejection(() => reranker.rerank('q', ['a']));
    expect(err).toMatchObject({ retryable: false, code: 'bad-response' });
  });

  it('rejects at once with an AbortError when the caller aborts, and closes the request', async () => {
    fake.hangNext();
    const reranker = await boot(c.definition, c.entry(fake));
    const controller = new AbortController();
    const pending = reranker.rerank('q', ['a', 'b'], { signal: controller.signal });
    await fake.waitFor((reqs) => reqs.length === 1);
    const started = Date.now();
    controller.abort();
    const err = await rejection(() => pending);
    expect(err.name).toBe('AbortError');
    // The request hangs: without the abort, the call would wait for its deadline (a minute).
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
    await fake.waitFor((reqs) => reqs[0]!.aborted);
  });

  it('documents its facts: the default batch limit is the one the driver uses', async () => {
    const { definition } = c;
    expect(definition.kind).toBe('reranker');
    expect(definition.type).toBe(c.service);
    expect(definition.docs?.batchLimit).toBe(c.limit);
    expect(definition.description).toBeTruthy();
    const driver = (await definition.create(Object.assign(new definition.config(), c.entry(fake)), {
      name: 'rr',
      kind: 'reranker',
      type: c.service,
      logger: console,
    })) as RerankerDriver;
    expect(driver.maxDocuments).toBe(c.limit);
  });

  it('refuses an unknown key and a bad baseUrl at bootstrap, without showing the key', async () => {
    const err = await bootError(c.definition, { ...c.entry(fake), baseURL: 'http://x', batchSize: -1 });
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect(err.message).toContain('reranker.rr.baseURL');
    expect(err.message).toContain('reranker.rr.batchSize');
    expectNoKey(printable(err));

    const badUrl = await bootError(c.definition, { ...c.entry(fake), baseUrl: 'ftp://example.com' });
    expect(badUrl).toBeInstanceOf(ProvidersConfigError);
    expect(badUrl.message).toContain('reranker.rr.baseUrl');
  });
});

// ---------------------------------------------------------------------------------------------
// What differs per service.
// ---------------------------------------------------------------------------------------------

describe('cohere specifics', () => {
  let fake: RerankFakeServer;
  beforeAll(async () => void (fake = await RerankFakeServer.start('cohere', { apiKey: API_KEY })));
  afterAll(() => fake.close());

  it('sends maxTokensPerDoc as max_tokens_per_doc, and batchSize lowers the 1,000 limit', async () => {
    const reranker = await boot(cohereReranker, {
      type: 'cohere',
      model: 'rerank-v3.5',
      apiKey: API_KEY,
      baseUrl: fake.baseUrl,
      maxTokensPerDoc: '512',
      batchSize: 2,
    });
    const results = await reranker.rerank('apple', ['apple', 'pear', 'apple apple', 'fig', 'plum']);
    expect(fake.requests.map((r) => r.body.documents.length)).toEqual([2, 2, 1]);
    expect(fake.requests.every((r) => r.body.max_tokens_per_doc === 512)).toBe(true);
    expect(results.map((r) => r.document).slice(0, 2)).toEqual(['apple apple', 'apple']);
    expect(reranker.model).toBe('rerank-v3.5');
  });

  it('requires model and apiKey, and documents https://api.cohere.com', async () => {
    const err = await bootError(cohereReranker, { type: 'cohere', baseUrl: fake.baseUrl });
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect(err.message).toContain('reranker.rr.model');
    expect(err.message).toContain('reranker.rr.apiKey');
    expect(cohereReranker.docs?.defaultBaseUrl).toBe('https://api.cohere.com');
  });
});

describe('jina specifics', () => {
  it('takes batchSize as the limit, higher or lower (Jina documents none)', async () => {
    const fake = await RerankFakeServer.start('jina', { apiKey: API_KEY });
    try {
      const documents = Array.from({ length: 1500 }, (_, i) => `doc ${i}`);
      const higher = await boot(jinaReranker, { type: 'jina', model: 'jina-reranker-m0', apiKey: API_KEY, baseUrl: fake.baseUrl, batchSize: 2000 });
      expect(await higher.rerank('doc', documents)).toHaveLength(1500);
      expect(fake.requests).toHaveLength(1);
      fake.reset();
      const lower = await boot(jinaReranker, { type: 'jina', model: 'jina-reranker-m0', apiKey: API_KEY, baseUrl: fake.baseUrl, batchSize: 600 });
      await lower.rerank('doc', documents);
      expect(fake.requests.map((r) => r.body.documents.length).sort()).toEqual([300, 600, 600]);
      expect(jinaReranker.docs?.defaultBaseUrl).toBe('https://api.jina.ai');
    } finally {
      await fake.close();
    }
  });
});

describe('voyage specifics', () => {
  it("sends truncation when configured, and its baseUrl includes /v1 as Voyage's SDKs take it", async () => {
    const fake = await RerankFakeServer.start('voyage', { apiKey: API_KEY });
    try {
      expect(fake.baseUrl).toMatch(/\/v1$/);
      const reranker = await boot(voyageReranker, { type: 'voyage', model: 'rerank-2.5-lite', apiKey: API_KEY, baseUrl: fake.baseUrl, truncation: 'false' });
      await reranker.rerank('q', ['a']);
      expect(fake.lastRequest!.body).toMatchObject({ truncation: false, return_documents: false, top_k: 1 });
      expect(voyageReranker.docs?.defaultBaseUrl).toBe('https://api.voyageai.com/v1');
    } finally {
      await fake.close();
    }
  });
});

describe('vllm specifics', () => {
  let fake: RerankFakeServer;
  beforeAll(async () => void (fake = await RerankFakeServer.start('vllm')));
  afterAll(() => fake.close());
  afterEach(() => fake.reset());

  it('works with neither model nor key: no model field, no Authorization header, the served model', async () => {
    const reranker = await boot(vllmReranker, { type: 'vllm', baseUrl: fake.baseUrl });
    const results = await reranker.rerank('cat', ['dog', 'cat']);
    expect(results.map((r) => r.document)).toEqual(['cat', 'dog']);
    const req = fake.lastRequest!;
    expect(req.body).toEqual({ query: 'cat', documents: ['dog', 'cat'], top_n: 2 });
    expect(req.headers.authorization).toBeUndefined();
    expect(reranker.model).toBe('default');
  });

  it('takes a baseUrl with /v1 (vLLM and llama.cpp serve /v1/rerank too)', async () => {
    const reranker = await boot(vllmReranker, { type: 'vllm', baseUrl: `${fake.baseUrl}/v1/` });
    await reranker.rerank('cat', ['dog', 'cat']);
    expect(fake.lastRequest!.path).toBe('/v1/rerank');
  });

  it("maps vLLM's 404 for a model it does not serve", async () => {
    const reranker = await boot(vllmReranker, { type: 'vllm', baseUrl: fake.baseUrl, model: 'not-served', maxRetries: 0 });
    const err = await rejection(() => reranker.rerank('cat', ['dog']));
    expect(err).toMatchObject({ status: 404, retryable: false });
    expect(err.message).toContain('does not exist');
  });

  it('requires baseUrl (there is no cloud default)', async () => {
    const err = await bootError(vllmReranker, { type: 'vllm', model: 'x' });
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect(err.message).toContain('reranker.rr.baseUrl');
    expect(vllmReranker.docs?.defaultBaseUrl).toBeUndefined();
  });
});

describe('tei specifics', () => {
  it("sends rawScores/truncate, needs no key, and batchSize raises the 32 default to the server's max_client_batch_size", async () => {
    const fake = await RerankFakeServer.start('tei', { maxDocuments: 64 });
    try {
      const reranker = await boot(teiReranker, { type: 'tei', baseUrl: fake.baseUrl, batchSize: 64, rawScores: true, truncate: true });
      const documents = Array.from({ length: 100 }, (_, i) => `text ${i}`);
      await reranker.rerank('text', documents);
      expect(fake.requests.map((r) => r.body.texts.length).sort()).toEqual([36, 64]);
      expect(fake.requests[0]!.body).toMatchObject({ raw_scores: true, truncate: true, return_text: false });
      expect(fake.requests[0]!.headers.authorization).toBeUndefined();
      expect(reranker.model).toBe('default');
      expect(teiReranker.docs?.defaultBaseUrl).toBe('http://127.0.0.1:8080');
    } finally {
      await fake.close();
    }
  });

  it("surfaces TEI's own 422 for a batch over its limit", async () => {
    const fake = await RerankFakeServer.start('tei', { maxDocuments: 8 });
    try {
      // The user says 32, the server takes 8: TEI's own answer comes through.
      const reranker = await boot(teiReranker, { type: 'tei', baseUrl: fake.baseUrl, maxRetries: 0 });
      const err = await rejection(() =>
        reranker.rerank(
          'q',
          Array.from({ length: 10 }, (_, i) => `t${i}`),
        ),
      );
      expect(err).toMatchObject({ status: 422, retryable: false });
      expect(err.message).toContain('batch size 10 > maximum allowed batch size 8');
    } finally {
      await fake.close();
    }
  });
});

describe('pinecone specifics', () => {
  let fake: RerankFakeServer;
  beforeAll(async () => void (fake = await RerankFakeServer.start('pinecone', { apiKey: API_KEY, extraModels: { 'future-reranker': 30 } })));
  afterAll(() => fake.close());
  afterEach(() => fake.reset());

  const entry = (more: Record<string, unknown>) => ({ type: 'pinecone', apiKey: API_KEY, baseUrl: fake.baseUrl, ...more });

  it("follows the model's limit (cohere-rerank-3.5: 200), sends apiVersion and truncate", async () => {
    const reranker = await boot(pineconeReranker, entry({ model: 'cohere-rerank-3.5', apiVersion: '2025-10', truncate: 'END' }));
    const documents = Array.from({ length: 450 }, (_, i) => `passage ${i}`);
    const results = await reranker.rerank('passage 7', documents);
    expect(results).toHaveLength(450);
    expect(fake.requests.map((r) => r.body.documents.length).sort()).toEqual([200, 200, 50]);
    for (const r of fake.requests) {
      expect(r.headers['x-pinecone-api-version']).toBe('2025-10');
      expect(r.body.parameters).toEqual({ truncate: 'END' });
    }
  });

  it("lets batchSize lower a known model's limit, and set an unknown model's", async () => {
    const lowered = await boot(pineconeReranker, entry({ model: 'bge-reranker-v2-m3', batchSize: 40 }));
    await lowered.rerank(
      'q',
      Array.from({ length: 90 }, (_, i) => `p${i}`),
    );
    expect(fake.requests.map((r) => r.body.documents.length).sort()).toEqual([10, 40, 40]);
    expect(fake.requests[0]!.body.parameters).toBeUndefined();

    fake.reset();
    const unknown = await boot(pineconeReranker, entry({ model: 'future-reranker', batchSize: 30 }));
    await unknown.rerank(
      'q',
      Array.from({ length: 45 }, (_, i) => `p${i}`),
    );
    expect(fake.requests.map((r) => r.body.documents.length).sort()).toEqual([15, 30]);
  });

  it('refuses a bad truncate or apiVersion at bootstrap', async () => {
    const err = await bootError(pineconeReranker, entry({ model: 'bge-reranker-v2-m3', truncate: 'START', apiVersion: 'latest' }));
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect(err.message).toContain('reranker.rr.truncate');
    expect(err.message).toContain('reranker.rr.apiVersion');
  });
});
