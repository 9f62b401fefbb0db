import { IsIn, IsOptional } from '../../core/validation.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import { withCompatibleFields } from './openai-client.js';
import { OPENAI_MAX_EMBEDDING_INPUTS, OpenAIEmbeddingDriver, type EmbeddingEncoding } from './openai.embedder.js';

/** `type: openai-compatible` under `embedding:`: any server speaking OpenAI's embeddings API (vLLM, Ollama, llama.cpp, LM Studio, ...). */
export class OpenAICompatibleEmbedderConfig extends withCompatibleFields(EmbeddingInstanceConfig) {
  /** `encoding_format` to ask for: base64 (default, smaller) or float, for servers that refuse base64. */
  @IsOptional() @IsIn(['base64', 'float']) encodingFormat?: EmbeddingEncoding;
}

export const openaiCompatibleEmbedder = defineEmbeddingProvider({
  type: 'openai-compatible',
  config: OpenAICompatibleEmbedderConfig,
  description: 'any server speaking OpenAI embeddings (vLLM, Ollama, llama.cpp, LM Studio, ...); baseUrl required',
  docs: {
    batchLimit: OPENAI_MAX_EMBEDDING_INPUTS,
    notes: 'Any server speaking OpenAI embeddings; batchSize lowers the 2048 to the server’s own limit; encodingFormat float for servers that refuse base64.',
  },
  create: (config, context) =>
    new OpenAIEmbeddingDriver(config, context, {
      // The server's real limit is unknown: a lower `batchSize` is taken as the statement of it.
      maxBatchSize: Math.min(OPENAI_MAX_EMBEDDING_INPUTS, config.batchSize ?? OPENAI_MAX_EMBEDDING_INPUTS),
      encodingFormat: config.encodingFormat,
    }),
});
