import { defineRerankerProvider } from '../../core/provider-definition.js';
import { LLAMA_CPP_MAX_RERANK_DOCUMENTS, LLAMA_CPP_TYPE, LlamaCppRerankerConfig } from './llama-cpp-config.js';
import { LlamaCppRerankingDriver } from './llama-cpp-ranking-driver.js';

export { LLAMA_CPP_MAX_RERANK_DOCUMENTS, LlamaCppRerankerConfig } from './llama-cpp-config.js';

// The driver is in a file of its own, so this file's declarations never name node-llama-cpp's types.
export const llamaCppReranker = defineRerankerProvider({
  type: LLAMA_CPP_TYPE,
  config: LlamaCppRerankerConfig,
  description: 'a GGUF reranking model (cross-encoder) run in process by node-llama-cpp (optional peer dependency)',
  docs: {
    batchLimit: LLAMA_CPP_MAX_RERANK_DOCUMENTS,
    notes:
      'model is a GGUF path (or hf: URI) of a reranker with a classification head (bge-reranker, jina-reranker, ...); scores are from 0 to 1; long documents are scored in chunks, keeping the best.',
  },
  create: (config, context) => LlamaCppRerankingDriver.create(config, context),
});
