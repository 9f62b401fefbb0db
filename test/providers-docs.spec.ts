import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_PROVIDERS,
  configKeysOf,
  EmbeddingInstanceConfig,
  LLMInstanceConfig,
  ProvidersModule,
  ProvidersRegistry,
  RerankerInstanceConfig,
  PROVIDER_KINDS,
} from '@hush/providers';
// @ts-expect-error: a plain .mjs script, shared with `npm run docs:providers`
import { BEGIN, END, providersTable } from '../scripts/providers-table.mjs';

const root = join(import.meta.dirname, '..');
const bases = { llm: LLMInstanceConfig, embedding: EmbeddingInstanceConfig, reranker: RerankerInstanceConfig };

describe('docs/providers.md and config/examples/all-types.yaml', () => {
  it('the table in the docs is the one the code gives (run `npm run docs:providers` after a change)', () => {
    const doc = readFileSync(join(root, 'docs/providers.md'), 'utf8');
    const table = doc.slice(doc.indexOf(BEGIN) + BEGIN.length, doc.indexOf(END)).trim();
    expect(table).toBe(providersTable(BUILTIN_PROVIDERS, configKeysOf, bases));
  });

  it('lists the 20 hosted and server types of the catalogue, and llama-cpp for each kind', () => {
    const count = (kind: string) => BUILTIN_PROVIDERS.filter((d) => d.kind === kind && d.type !== 'llama-cpp').length;
    expect([count('llm'), count('embedding'), count('reranker')]).toEqual([5, 9, 6]);
    expect(BUILTIN_PROVIDERS.filter((d) => d.type === 'llama-cpp').map((d) => d.kind)).toEqual(['llm', 'embedding', 'reranker']);
  });

  it('has a valid example entry for every type, from YAML alone', async () => {
    const file = join(root, 'config/examples/all-types.yaml');
    const yaml = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, { type: string }>>;
    const written = PROVIDER_KINDS.flatMap((kind) => Object.values(yaml[kind] ?? {}).map((e) => `${kind}/${e.type}`));
    expect(new Set(written)).toEqual(new Set(BUILTIN_PROVIDERS.map((d) => `${d.kind}/${d.type}`)));

    const env = new Proxy({}, { get: (_, name) => (typeof name === 'string' ? `example-${name.toLowerCase()}-0000` : undefined) });
    // llama-cpp entries are validated by their real config classes, but load no model here.
    const validatingOnly = BUILTIN_PROVIDERS.filter((d) => d.type === 'llama-cpp').map((d) => ({
      ...d,
      create: (config: { model: string }) => ({ model: config.model, maxBatchSize: 8, maxDocuments: 8, supportsDimensions: false }) as never,
    }));
    const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ configPath: file, env, providers: validatingOnly })] }).compile();
    const registry = module.get(ProvidersRegistry);
    for (const kind of PROVIDER_KINDS) expect(registry.names(kind).length).toBe(Object.keys(yaml[kind] ?? {}).length);
    await module.close();
  });
});
