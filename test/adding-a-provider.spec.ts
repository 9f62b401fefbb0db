import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  getEmbedderToken,
  getRerankerToken,
  InjectEmbedder,
  InjectReranker,
  ProviderError,
  ProvidersConfigError,
  ProvidersModule,
  type Embedder,
  type ProvidersConfig,
  type Reranker,
} from '@hush/providers';
import { ServiceFake } from '@hush/providers/testing';
import { acmeService, acmeVector } from './guide/acme-service.js';
import { acmeEmbedder } from './guide/acme.embedder.js';
import { acmeReranker } from './guide/acme.reranker.js';

/**
 * docs/adding-a-provider.md, run for real: its code blocks are the files under test/guide (checked
 * here, byte for byte), its YAML boots them, and a fake Acme on 127.0.0.1 speaks the wire format the
 * guide documents. The guide's conformance suite is test/guide/acme.conformance.spec.ts.
 */
const root = join(import.meta.dirname, '..');
const guide = readFileSync(join(root, 'docs/adding-a-provider.md'), 'utf8');
const ACME_API_KEY = 'acme-secret-key';

/** The guide's YAML blocks (```yaml and ```yml), parsed. */
const yamlBlocks = [...guide.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as ProvidersConfig);

let acme: ServiceFake;
beforeAll(async () => void (acme = await ServiceFake.start(acmeService({ apiKey: ACME_API_KEY }))));
afterAll(() => acme.close());
afterEach(() => acme.reset());

/** The guide's YAML entry of `kind`, pointed at the fake. */
function configFromGuide(kind: 'embedding' | 'reranker'): ProvidersConfig {
  const block = yamlBlocks.find((b) => b[kind] !== undefined && Object.values(b[kind]!).some((e) => e?.type === 'acme'));
  expect(block, `a YAML block of the guide with an acme ${kind}`).toBeDefined();
  const entries = Object.fromEntries(Object.entries(block![kind]!).map(([name, entry]) => [name, { ...entry!, baseUrl: acme.baseUrl }]));
  return { [kind]: entries };
}

describe('docs/adding-a-provider.md', () => {
  it('shows exactly the code this test runs', () => {
    const blocks = [...guide.matchAll(/<!-- file: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual([
      'test/guide/acme.embedder.ts',
      'test/guide/acme-service.ts',
      'test/guide/acme.conformance.spec.ts',
      'test/guide/acme.reranker.ts',
    ]);
    for (const [, file, code] of blocks) expect(code, file).toBe(readFileSync(join(root, file!), 'utf8'));
  });

  it('the embedder works from its YAML once registered with forRoot({ providers: [acmeEmbedder] })', async () => {
    @Injectable()
    class Search {
      constructor(@InjectEmbedder('docs') readonly embedder: Embedder) {}
    }
    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: { ACME_API_KEY }, providers: [acmeEmbedder], config: configFromGuide('embedding') })],
      providers: [Search],
    }).compile();
    const embedder = module.get(Search).embedder;
    // 130 texts: more than Acme takes at once, so the library sends 64 + 64 + 2 and puts them back in order.
    const texts = Array.from({ length: 130 }, (_, i) => `text ${i}`);
    const result = await embedder.embed(texts);
    expect(result.embeddings).toEqual(texts.map((t) => acmeVector(t, 512)));
    expect(result).toMatchObject({ model: 'acme-embed-1', dimensions: 512, usage: { promptTokens: 260, totalTokens: 260 } });
    expect(acme.batches.map((b) => b.length).sort((a, b) => b - a)).toEqual([64, 64, 2]);
    // What went on the wire: the key in its header, the configured dimensions as `size`, nothing undefined.
    const request = acme.lastRequest!;
    expect(`${request.method} ${request.pathname}`).toBe('POST /v1/embed');
    expect(request.headers['x-acme-key']).toBe(ACME_API_KEY);
    expect(request.headers.authorization).toBeUndefined();
    expect(Object.keys(request.body).sort()).toEqual(['model', 'size', 'texts']);

    await embedder.embed('what is acme?', { inputType: 'query' });
    expect(acme.lastRequest!.body).toEqual({ model: 'acme-embed-1', texts: ['what is acme?'], mode: 'query', size: 512 });
    await module.close();
  });

  it('the reranker works from its YAML once registered with forRoot({ providers: [acmeReranker] })', async () => {
    @Injectable()
    class Search {
      constructor(@InjectReranker() readonly reranker: Reranker) {}
    }
    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: { ACME_API_KEY }, providers: [acmeReranker], config: configFromGuide('reranker') })],
      providers: [Search],
    }).compile();
    const reranker = module.get(Search).reranker;
    // 120 candidates: more than Acme scores at once, so the library splits them into 50 + 50 + 20.
    const docs = Array.from({ length: 120 }, (_, i) => (i === 77 ? 'tacos' : `doc ${i}`));
    const results = await reranker.rerank('taco', docs, { topK: 3 });
    expect(results[0]).toEqual({ index: 77, score: 4, document: 'tacos' });
    expect(results).toHaveLength(3);
    expect(acme.batches.map((b) => b.length).sort((a, b) => b - a)).toEqual([50, 50, 20]);
    expect(acme.lastRequest!.body).toMatchObject({ model: 'acme-rerank-2', query: 'taco' });
    await module.close();
  });

  it('refuses keys the config class does not declare, and reports upstream errors without the key', async () => {
    const boot = (providers: (typeof acmeEmbedder | typeof acmeReranker)[], config: ProvidersConfig) =>
      Test.createTestingModule({ imports: [ProvidersModule.forRoot({ configPath: [], env: {}, providers, config })] }).compile();
    const bad = await boot([acmeEmbedder], { embedding: { docs: { type: 'acme', model: 'm', apiKey: 'k', baseURL: acme.baseUrl } } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(bad).toBeInstanceOf(ProvidersConfigError);
    expect((bad as ProvidersConfigError).issues[0]).toMatchObject({ path: 'embedding.docs.baseURL', message: 'Unknown key "baseURL" for type "acme".' });

    const module = await boot([acmeEmbedder, acmeReranker], {
      embedding: { docs: { type: 'acme', model: 'm', apiKey: 'wrong-key-12345', baseUrl: acme.baseUrl } },
      reranker: { default: { type: 'acme', model: 'm', apiKey: 'wrong-key-12345', baseUrl: acme.baseUrl } },
    });
    const embedError = await module
      .get<Embedder>(getEmbedderToken('docs'))
      .embed('q')
      .catch((e: unknown) => e);
    const rerankError = await module
      .get<Reranker>(getRerankerToken('default'))
      .rerank('q', ['a'])
      .catch((e: unknown) => e);
    expect(embedError).toBeInstanceOf(ProviderError);
    expect(embedError).toMatchObject({ status: 401, retryable: false, instance: 'docs', type: 'acme', kind: 'embedding' });
    expect((embedError as Error).message).toBe('embedding "docs" (acme): upstream answered 401 Unauthorized: bad key');
    expect((rerankError as Error).message).toBe('reranker "default" (acme): upstream answered 401 Unauthorized: bad key');
    for (const error of [embedError, rerankError]) expect(JSON.stringify(error) + String(error)).not.toContain('wrong-key-12345');
    await module.close();
  });
});
