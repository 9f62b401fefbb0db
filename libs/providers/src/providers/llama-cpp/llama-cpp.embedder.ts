import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import { LLAMA_CPP_MAX_EMBEDDING_INPUTS, LLAMA_CPP_TYPE, LlamaCppEmbedderConfig } from './llama-cpp-config.js';
import { LlamaCppEmbeddingDriver } from './llama-cpp-embedding-driver.js';

export { LLAMA_CPP_MAX_EMBEDDING_INPUTS, LlamaCppEmbedderConfig } from './llama-cpp-config.js';

// The driver is in a file of its own, so this file's declarations never name node-llama-cpp's types.
export const llamaCppEmbedder = defineEmbeddingProvider({
  type: LLAMA_CPP_TYPE,
  config: LlamaCppEmbedderConfig,
  description: 'a GGUF embedding model run in process by node-llama-cpp (optional peer dependency); unit-length vectors',
  docs: {
    batchLimit: LLAMA_CPP_MAX_EMBEDDING_INPUTS,
    notes:
      "model is a GGUF path (or hf: URI) of an embedding model (BERT, nomic, e5, gte, ...); vectors use the model's pooling and are L2-normalized; dimensions is checked, never sent (the model has one size).",
  },
  create: (config, context) => LlamaCppEmbeddingDriver.create(config, context),
});
