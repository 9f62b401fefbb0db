import { IsBoolean, IsIn, IsOptional } from '../../core/validation.js';
import { ToBoolean } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import type { EmbeddingInputType } from '../../core/embedder.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpEmbedderDriver } from '../../toolkit/http-embedder.js';
import { bearerClientOptions, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { readIndexedBase64Vectors, usageOfTokens, valueAt } from '../../toolkit/vector-readers.js';
import { VOYAGE_DEFAULT_BASE_URL, VOYAGE_MAX_EMBEDDING_INPUTS } from './voyage-api.js';

/** `type: voyage` under `embedding:`: Voyage AI's `POST {baseUrl}/embeddings` (`baseUrl` ends in `/v1`). */
export class VoyageEmbedderConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(EmbeddingInstanceConfig))) {
  /** `input_type` of calls that give no `inputType`; unset: none (Voyage's null, no prompt). */
  @IsOptional() @IsIn(['query', 'document']) inputType?: EmbeddingInputType;

  /** `truncation`: cut inputs longer than the context instead of failing; Voyage's default is true. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() truncation?: boolean;
}

export const voyageEmbedder = defineEmbeddingProvider({
  type: 'voyage',
  config: VoyageEmbedderConfig,
  description: 'Voyage AI embeddings API (api.voyageai.com/v1, or a proxy through baseUrl)',
  docs: {
    defaultBaseUrl: VOYAGE_DEFAULT_BASE_URL,
    batchLimit: VOYAGE_MAX_EMBEDDING_INPUTS,
    notes:
      "baseUrl includes /v1 as in Voyage's SDKs (the same value as the voyage reranker's); " +
      'inputType query/document is sent as input_type (null when neither the call nor the config gives one); dimensions is sent as output_dimension (256, 512, 1024, 2048 on models that support it); vectors are asked for as base64 (encoding_format, a quarter of the JSON) and decoded to float32, lists of numbers are read too; a per-model token total per request also applies.',
  },
  create: (config, context) =>
    new HttpEmbedderDriver({
      client: new HttpClient(bearerClientOptions(config, VOYAGE_DEFAULT_BASE_URL), context),
      model: config.model,
      maxBatchSize: VOYAGE_MAX_EMBEDDING_INPUTS,
      // `output_dimension` (voyage-3-large, voyage-3.5, voyage-code-3 and later: 256, 512, 1024, 2048).
      supportsDimensions: true,
      path: '/embeddings',
      body: ({ texts, inputType, dimensions, model }) => ({
        model,
        input: texts,
        // Sent as null rather than left out: Voyage's own "no prompt".
        input_type: inputType ?? config.inputType ?? null,
        output_dimension: dimensions,
        truncation: config.truncation,
        // Base64 of little-endian float32: a quarter of the JSON, and no float parsing.
        encoding_format: 'base64',
      }),
      read: (answer, { count, site, vectors }) => ({
        ...readIndexedBase64Vectors(site, answer, count, { keepBase64: vectors === 'base64' }),
        usage: usageOfTokens(valueAt(answer, 'usage.total_tokens')),
      }),
    }),
});
