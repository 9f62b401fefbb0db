import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InjectReranker, ProviderError, ProvidersConfigError, ProvidersModule, type Reranker } from '@hush/providers';
import { startAcme } from './guide/acme-fake-server.js';
import { acmeReranker } from './guide/acme.reranker.js';

const root = join(import.meta.dirname, '..');

describe('docs/adding-a-provider.md', () => {
  let acme: Awaited<ReturnType<typeof startAcme>>;
  beforeAll(async () => (acme = await startAcme()));
  afterAll(() => acme.close());

  it('shows exactly the code this test runs', () => {
    const doc = readFileSync(join(root, 'docs/adding-a-provider.md'), 'utf8');
    const block = /<!-- file: test\/guide\/acme\.reranker\.ts -->\n```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(readFileSync(join(root, 'test/guide/acme.reranker.ts'), 'utf8'));
  });

  it('works from YAML alone once registered through forRoot({ providers })', async () => {
    @Injectable()
    class Search {
      constructor(@InjectReranker() readonly reranker: Reranker) {}
    }
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: { ACME_API_KEY: 'acme-secret-key' },
          providers: [acmeReranker],
          config: { reranker: { default: { type: 'acme', model: 'acme-rerank-2', apiKey: '${ACME_API_KEY}', baseUrl: acme.url } } },
        }),
      ],
      providers: [Search],
    }).compile();
    const reranker = module.get(Search).reranker;
    // 120 candidates: more than Acme takes at once, so the library splits them into 50 + 50 + 20.
    const docs = Array.from({ length: 120 }, (_, i) => (i === 77 ? 'tacos' : `doc ${i}`));
    const results = await reranker.rerank('taco', docs, { topK: 3 });
    expect(results[0]).toEqual({ index: 77, score: 4, document: 'tacos' });
    expect(results).toHaveLength(3);
    expect(acme.requests.map((r) => r.body.candidates.length)).toEqual([50, 50, 20]);
    expect(acme.requests[0]!.body).toMatchObject({ model: 'acme-rerank-2', query: 'taco' });
    await module.close();
  });

  it('refuses keys the config class does not declare, and reports upstream errors without the key', async () => {
    const bad = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, providers: [acmeReranker], config: { reranker: { default: { type: 'acme', model: 'm', apiKey: 'k', baseURL: acme.url } } } })],
    })
      .compile()
      .then(() => undefined, (err: unknown) => err);
    expect(bad).toBeInstanceOf(ProvidersConfigError);
    expect((bad as ProvidersConfigError).issues[0]).toMatchObject({ path: 'reranker.default.baseURL', message: 'Unknown key "baseURL" for type "acme".' });

    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, providers: [acmeReranker], config: { reranker: { default: { type: 'acme', model: 'm', apiKey: 'wrong-key-12345', baseUrl: acme.url } } } })],
    }).compile();
    const error = await module.get<Reranker>('hush:reranker:default').rerank('q', ['a']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 401, retryable: false, instance: 'default', type: 'acme' });
    expect((error as Error).message).toBe('reranker "default" (acme): upstream answered 401 Unauthorized: bad key');
    expect(JSON.stringify(error) + String(error)).not.toContain('wrong-key-12345');
    await module.close();
  });
});
