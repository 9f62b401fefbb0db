import 'reflect-metadata';
import { IsOptional, IsString, IsUrl } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { defineEmbeddingProvider, EmbeddingInstanceConfig, HttpClient, SERVICE_URL_OPTIONS, type DriverContext } from '@hush/providers';
import { ConformanceError, describeProviderConformance, providerConformance, ServiceFake } from '@hush/providers/testing';
import { acmeService } from './guide/acme-service.js';
import { cohereReranker } from '../libs/providers/src/providers/cohere/cohere.reranker.js';
import { teiEmbedder } from '../libs/providers/src/providers/tei/tei.embedder.js';
import { teiEmbedService } from './fakes/tei-embed-service.js';
import { RerankFakeServer, type RecordedRequest } from './fakes/rerank-fake-servers.js';

/**
 * The conformance suite of @hush/providers/testing, run on built-in types: what it asks of a
 * third-party type, the built-in ones pass. TEI's fake is a `FakeService` description hosted by
 * `ServiceFake`, as an author would write it; Cohere's is the catalogue's own rerank fake, which
 * has the members the suite drives (any fake with them will do).
 */
const API_KEY = 'hush-test-SECRETKEY-conformance-0123456789';

describeProviderConformance(teiEmbedder, { fake: () => ServiceFake.start(teiEmbedService({ apiKey: API_KEY })), entry: { apiKey: API_KEY } }, { describe, it });

describeProviderConformance(
  cohereReranker,
  {
    fake: async () => Object.assign(await RerankFakeServer.start('cohere', { apiKey: API_KEY }), { inputsOf: (r: RecordedRequest) => r.body?.documents }),
    entry: { model: 'rerank-v3.5', apiKey: API_KEY },
  },
  { describe, it },
);

describe('the conformance suite', () => {
  it('is plain async checks with names, for any test runner', () => {
    const checks = providerConformance(teiEmbedder, { fake: () => ServiceFake.start(teiEmbedService()), entry: {} });
    expect(checks.length).toBeGreaterThan(10);
    expect(new Set(checks.map((c) => c.name)).size).toBe(checks.length);
    expect(checks.every((c) => typeof c.run === 'function')).toBe(true);
  });

  it('says what a type does wrong, never showing the secret', async () => {
    // A TEI server that answers fewer vectors than asked, and echoes the key in its 401s.
    const lossy = teiEmbedService({ apiKey: API_KEY });
    const broken = {
      ...lossy,
      answer: async (r: Parameters<typeof lossy.answer>[0]) => {
        const answer = await lossy.answer(r);
        return Array.isArray(answer.json) && answer.json.length > 1 ? { ...answer, json: answer.json.slice(1) } : answer;
      },
    };
    const checks = providerConformance(teiEmbedder, { fake: () => ServiceFake.start(broken), entry: { apiKey: API_KEY } });
    const failure = await checks
      .find((c) => c.name.startsWith('embeds texts'))!
      .run()
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConformanceError);
    expect((failure as Error).message).toMatch(
      /^embedding type "tei", embeds texts .*: embed\(\["alpha beta", "gamma"\]\) failed: ProviderError .*asked for 2 vectors, got 1/,
    );
    expect((failure as Error).message).not.toContain(API_KEY);
  });

  it('refuses an LLM type, which it has no checks for', () => {
    expect(() =>
      providerConformance({ kind: 'llm', type: 'x', config: class {}, create: () => ({}) as never } as never, {
        fake: () => ServiceFake.start(teiEmbedService()),
        entry: {},
      }),
    ).toThrow(/only embedding and reranker types/);
  });
});

/** An Acme embedder that cuts the corners the suite is there to catch. */
class LaxConfig extends EmbeddingInstanceConfig {
  @IsString() model!: string;
  // Not @Secret(), and a URL check that lets ftp:// and credentials through.
  @IsString() apiKey!: string;
  @IsOptional() @IsUrl({ require_tld: false }) baseUrl?: string;
}

const laxEmbedder = defineEmbeddingProvider({
  type: 'lax',
  config: LaxConfig,
  description: 'an Acme embedder that cuts corners',
  docs: { batchLimit: 64 },
  create: (config, context) => {
    const http = new HttpClient({ baseUrl: config.baseUrl!, headers: { 'x-acme-key': config.apiKey } }, context);
    return {
      model: config.model,
      maxBatchSize: 64,
      supportsDimensions: false,
      // Trusts the answer's shape.
      embedBatch: async (texts, { signal }) => ({ embeddings: ((await http.postJson('/v1/embed', { model: config.model, texts }, signal)) as any).vectors }),
      // Not free: it embeds a word.
      ping: async (signal) => void (await http.postJson('/v1/embed', { model: config.model, texts: ['ping'] }, signal)),
    };
  },
});

describe('the conformance suite catches', () => {
  const LAX_KEY = 'lax-key-0123456789abcdef';
  const checks = providerConformance(laxEmbedder, {
    fake: () => ServiceFake.start(acmeService({ apiKey: LAX_KEY })),
    entry: { model: 'acme-embed-1', apiKey: LAX_KEY },
  });
  const failureOf = async (prefix: string) => {
    const error = await checks
      .find((c) => c.name.startsWith(prefix))!
      .run()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ConformanceError);
    return (error as Error).message;
  };

  it('a reader that trusts the shape of the answer', async () => {
    expect(await failureOf('a malformed 200')).toMatch(/on a 200 with null, the ProviderError should have code "bad-response"; it has code "internal"/);
  });

  it('a ping that is not free', async () => {
    expect(await failureOf('ping is free')).toContain(
      `the methods of the requests ping() sent (a free check reads, it never posts a billed call): expected [ 'GET', 'GET' ], got [ 'POST', 'POST' ]`,
    );
  });

  it('a config class that validates less than the built-in ones', async () => {
    const message = await failureOf('refuses unknown keys');
    expect(message).toContain('the bad values the config class let through');
    expect(message).toContain("'embedding.ftp.baseUrl', 'embedding.credentials.baseUrl'");
  });

  it('a driver that logs the key', async () => {
    const chatty = providerConformance(
      {
        ...laxEmbedder,
        create: (config: LaxConfig, context: DriverContext) => {
          context.logger.warn?.(`embedding with key ${config.apiKey}`);
          return laxEmbedder.create(config, context);
        },
      },
      { fake: () => ServiceFake.start(acmeService({ apiKey: LAX_KEY })), entry: { model: 'acme-embed-1', apiKey: LAX_KEY } },
    );
    const error = await chatty
      .find((c) => c.name.startsWith('keeps the secret out'))!
      .run()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as Error).message).toMatch(/the secret shows in a log line or a diagnostics event$/);
    expect((error as Error).message).not.toContain(LAX_KEY);
  });

  it('a key not marked secret', async () => {
    class StrictUrlConfig extends EmbeddingInstanceConfig {
      @IsString() model!: string;
      @IsString() apiKey!: string;
      @IsOptional() @IsUrl(SERVICE_URL_OPTIONS) baseUrl?: string;
    }
    const unmarked = providerConformance(
      { ...laxEmbedder, config: StrictUrlConfig },
      {
        fake: () => ServiceFake.start(acmeService({ apiKey: LAX_KEY })),
        entry: { model: 'acme-embed-1', apiKey: LAX_KEY },
      },
    );
    const error = await unmarked
      .find((c) => c.name.startsWith('refuses unknown keys'))!
      .run()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as Error).message).toContain("the keys that hold credentials but are not marked @Secret(): expected [], got [ 'apiKey' ]");
  });
});
