import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { ProvidersConfigError, ProvidersModule, ProvidersRegistry, type AnyProviderDefinition } from '@hush/providers';
import { llamaCppLLM } from '../libs/providers/src/providers/llama-cpp/llama-cpp.llm.js';
import { llamaCppEmbedder } from '../libs/providers/src/providers/llama-cpp/llama-cpp.embedder.js';
import { llamaCppReranker } from '../libs/providers/src/providers/llama-cpp/llama-cpp.reranker.js';

const base = fileURLToPath(new URL('../config/providers.yaml', import.meta.url));

/**
 * The llama-cpp types with their real config classes (so every key is validated as in the app) but
 * a driver that loads nothing: these tests check the shipped YAML, not the models.
 */
const created: Array<{ kind: string; name: string; config: Record<string, unknown> }> = [];
const validatingOnly: AnyProviderDefinition[] = [llamaCppLLM, llamaCppEmbedder, llamaCppReranker].map((def) => ({
  ...def,
  create: (config: Record<string, unknown>, context: { kind: string; name: string }) => {
    created.push({ kind: context.kind, name: context.name, config });
    return { model: String(config.model), maxBatchSize: 8, maxDocuments: 8, supportsDimensions: false } as never;
  },
}));

async function load(environment: string, env: Record<string, string>) {
  created.length = 0;
  const module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ configPath: base, environment, env, providers: validatingOnly })],
  })
    .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {} })
    .compile();
  return module;
}

describe('the default config (config/providers.yaml, with llama-cpp)', () => {
  it('names llama-cpp instances for chat, embedding and reranking, with the models in models/', async () => {
    const module = await load('development', {});
    const registry = module.get(ProvidersRegistry);
    expect(registry.names('llm')).toEqual(['chat']);
    expect(registry.names('embedding')).toEqual(['embed']);
    expect(registry.names('reranker')).toEqual(['rerank']);
    expect([registry.llm().type, registry.embedder().type, registry.reranker().type]).toEqual(['llama-cpp', 'llama-cpp', 'llama-cpp']);
    expect(created.map((c) => [c.kind, c.name, c.config.model])).toEqual([
      ['llm', 'chat', 'models/chat.gguf'],
      ['embedding', 'embed', 'models/embedding.gguf'],
      ['reranker', 'rerank', 'models/reranker.gguf'],
    ]);
    await module.close();
  });

  it('switches to hosted providers under the same names with NODE_ENV=production and keys', async () => {
    const module = await load('production', { OPENAI_API_KEY: 'sk-test-not-a-real-key', COHERE_API_KEY: 'co-test-not-a-real-key' });
    const registry = module.get(ProvidersRegistry);
    expect([registry.llm('chat').type, registry.embedder('embed').type, registry.reranker('rerank').type]).toEqual(['openai', 'openai', 'cohere']);
    expect([registry.llm('chat').model, registry.embedder('embed').model, registry.reranker('rerank').model]).toEqual([
      'gpt-4o-mini',
      'text-embedding-3-small',
      'rerank-v3.5',
    ]);
    expect(created).toEqual([]);
    await module.close();
  });

  it('stops a production bootstrap without keys, naming each variable', async () => {
    const error = await load('production', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvidersConfigError);
    expect((error as Error).message).toContain('OPENAI_API_KEY');
    expect((error as Error).message).toContain('COHERE_API_KEY');
  });
});
