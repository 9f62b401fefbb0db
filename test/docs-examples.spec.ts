import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROVIDERS, ProvidersModule, ProvidersRegistry } from '@hush/providers';
import { acmeEmbedder } from './guide/acme.embedder.js';
import { acmeReranker } from './guide/acme.reranker.js';

/**
 * Every YAML example in the README and the docs loads as it is written (the Python library's README
 * had examples that did not): each block is validated by the real config classes.
 */
const root = join(import.meta.dirname, '..');
const files = ['README.md', 'docs/configuration.md', 'docs/reliability.md', 'docs/adding-a-provider.md', 'docs/observability.md'];
const blocks = files.flatMap((file) =>
  [...readFileSync(join(root, file), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m, i) => ({ name: `${file} #${i + 1}`, yaml: m[1]! })),
);

// Every ${VAR} gets a value; llama-cpp entries are validated but load no model.
const env = new Proxy({}, { get: (_, name) => (typeof name === 'string' ? `example-${name.toLowerCase()}-0000` : undefined) });
const validatingOnly = BUILTIN_PROVIDERS.filter((d) => d.type === 'llama-cpp').map((d) => ({
  ...d,
  create: (config: { model: string }) => ({ model: config.model, maxBatchSize: 8, maxDocuments: 8, supportsDimensions: false }) as never,
}));

describe('the YAML examples of the README and docs', () => {
  it('are there', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it.each(blocks)('$name loads', async ({ yaml }) => {
    const config = parse(yaml) as object;
    const module = await Test.createTestingModule({
      // The token provider the Entra ID example names.
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env,
          config,
          providers: [...validatingOnly, acmeEmbedder, acmeReranker],
          tokenProviders: { entra: () => 'example-token' },
        }),
      ],
    }).compile();
    const registry = module.get(ProvidersRegistry);
    expect(registry.names('llm').length + registry.names('embedding').length + registry.names('reranker').length).toBeGreaterThan(0);
    await module.close();
  });
});
