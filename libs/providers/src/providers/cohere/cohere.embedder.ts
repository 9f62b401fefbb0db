import { IsIn, IsOptional } from '../../core/validation.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import type { EmbeddingInputType } from '../../core/embedder.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpEmbedderDriver } from '../../toolkit/http-embedder.js';
import { bearerClientOptions, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { readVectorListAt, usageOfTokens, valueAt } from '../../toolkit/vector-readers.js';
import { COHERE_DEFAULT_BASE_URL, COHERE_MAX_EMBED_TEXTS, COHERE_MODELS_PATH } from './cohere-api.js';

export const COHERE_INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering'] as const;
export type CohereInputType = (typeof COHERE_INPUT_TYPES)[number];

const INPUT_TYPE_OF: Record<EmbeddingInputType, CohereInputType> = { query: 'search_query', document: 'search_document' };

/** `type: cohere` under `embedding:`: Cohere's `POST {baseUrl}/v2/embed`. */
export class CohereEmbedderConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(EmbeddingInstanceConfig))) {
  /**
   * `input_type` of calls that give no `inputType` (a call's `query` / `document` maps to
   * search_query / search_document); default search_document.
   */
  @IsOptional() @IsIn(COHERE_INPUT_TYPES) inputType?: CohereInputType;

  /** `truncate`: NONE (fail on too long inputs), START or END; Cohere's default is END. Sent only when set. */
  @IsOptional() @IsIn(['NONE', 'START', 'END']) truncate?: 'NONE' | 'START' | 'END';
}

export const cohereEmbedder = defineEmbeddingProvider({
  type: 'cohere',
  config: CohereEmbedderConfig,
  description: 'Cohere embed API v2 (api.cohere.com)',
  docs: {
    defaultBaseUrl: COHERE_DEFAULT_BASE_URL,
    batchLimit: COHERE_MAX_EMBED_TEXTS,
    notes:
      'inputType query/document maps to input_type search_query/search_document, else the configured inputType (default search_document); dimensions is sent as output_dimension (embed-v4.0: 256, 512, 1024, 1536).',
  },
  create: (config, context) =>
    new HttpEmbedderDriver({
      client: new HttpClient(bearerClientOptions(config, COHERE_DEFAULT_BASE_URL), context),
      model: config.model,
      maxBatchSize: COHERE_MAX_EMBED_TEXTS,
      // `output_dimension` (embed-v4.0 and later: 256, 512, 1024 or 1536).
      supportsDimensions: true,
      path: '/v2/embed',
      pingPath: COHERE_MODELS_PATH,
      body: ({ texts, inputType, dimensions, model }) => ({
        model,
        texts,
        input_type: inputType ? INPUT_TYPE_OF[inputType] : (config.inputType ?? 'search_document'),
        embedding_types: ['float'],
        truncate: config.truncate,
        output_dimension: dimensions,
      }),
      read: (answer, { count, site }) => ({
        embeddings: readVectorListAt(site, answer, 'embeddings.float', count),
        usage: usageOfTokens(valueAt(answer, 'meta.billed_units.input_tokens')),
      }),
    }),
});
