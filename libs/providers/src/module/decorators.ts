import { Inject } from '@nestjs/common';
import { getEmbedderToken, getLLMToken, getRerankerToken } from './tokens.js';

/** Injects the LLM named `name` in the YAML, or the default LLM. */
export const InjectLLM = (name?: string) => Inject(getLLMToken(name));

/** Injects the embedder named `name` in the YAML, or the default embedder. */
export const InjectEmbedder = (name?: string) => Inject(getEmbedderToken(name));

/** Injects the reranker named `name` in the YAML, or the default reranker. */
export const InjectReranker = (name?: string) => Inject(getRerankerToken(name));
