import { Embedder } from '../core/embedder.js';
import { LLM } from '../core/llm.js';
import { Reranker } from '../core/reranker.js';
import type { ProviderKind } from '../core/provider-kind.js';

/**
 * The only way tokens are made. Without a name, the token is the kind's abstract class, so the
 * default instance can also be injected by type: `constructor(private llm: LLM)`.
 */
export function getLLMToken(name?: string): string | typeof LLM {
  return name === undefined ? LLM : `hush:llm:${name}`;
}

export function getEmbedderToken(name?: string): string | typeof Embedder {
  return name === undefined ? Embedder : `hush:embedding:${name}`;
}

export function getRerankerToken(name?: string): string | typeof Reranker {
  return name === undefined ? Reranker : `hush:reranker:${name}`;
}

const TOKEN_OF_KIND = { llm: getLLMToken, embedding: getEmbedderToken, reranker: getRerankerToken } as const;

export function getProviderToken(kind: ProviderKind, name?: string) {
  return TOKEN_OF_KIND[kind](name);
}

/** Holds the module's resolved options (the loaded, validated config and the provider definitions). */
export const PROVIDERS_MODULE_OPTIONS = Symbol.for('hush.providers.moduleOptions');
