import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { ToBoolean } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { HttpClient } from '../../http/http-client.js';
import { isObject } from '../../http/http-errors.js';
import { bearerClientOptions, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingInputType } from '../../core/embedder.js';
import { readIndexedVectors, usageOfTokens } from '../../toolkit/vector-readers.js';

/**
 * The API root of the `voyage` type (embedding and reranker) when `baseUrl` is not given: with its
 * `/v1`, as Voyage's SDKs take it, so one `baseUrl` value serves both kinds.
 */
export const VOYAGE_DEFAULT_BASE_URL = 'https://api.voyageai.com/v1';

/** Voyage's limit of inputs per embeddings request (a per-model token total applies as well). */
export const VOYAGE_MAX_EMBEDDING_INPUTS = 1000;

/** `type: voyage` under `embedding:`: Voyage AI's `POST {baseUrl}/embeddings` (`baseUrl` ends in `/v1`). */
export class VoyageEmbedderConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(EmbeddingInstanceConfig))) {
  /** `input_type` of calls that give no `inputType`; unset: none (Voyage's null, no prompt). */
  @IsOptional() @IsIn(['query', 'document']) inputType?: EmbeddingInputType;

  /** `truncation`: cut inputs longer than the context instead of failing; Voyage's default is true. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() truncation?: boolean;
}

export class VoyageEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize = VOYAGE_MAX_EMBEDDING_INPUTS;
  /** `output_dimension` (voyage-3-large, voyage-3.5, voyage-code-3 and later: 256, 512, 1024, 2048). */
  readonly supportsDimensions = true;
  readonly #client: HttpClient;
  readonly #config: VoyageEmbedderConfig;

  constructor(config: VoyageEmbedderConfig, context: DriverContext) {
    this.#config = config;
    this.model = config.model;
    this.#client = new HttpClient(bearerClientOptions(config, VOYAGE_DEFAULT_BASE_URL), context);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const config = this.#config;
    const inputType = options.inputType ?? config.inputType;
    const body = {
      model: this.model,
      input: texts,
      input_type: inputType ?? null,
      ...(options.dimensions !== undefined ? { output_dimension: options.dimensions } : {}),
      ...(config.truncation !== undefined ? { truncation: config.truncation } : {}),
    };
    const answer = await this.#client.postJson('/embeddings', body, options.signal);
    const usage = isObject(answer) && isObject(answer.usage) ? answer.usage : undefined;
    return {
      embeddings: readIndexedVectors(this.#client.site, answer, texts.length),
      usage: usageOfTokens(usage?.total_tokens),
    };
  }
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
      'inputType query/document is sent as input_type (null when neither the call nor the config gives one); dimensions is sent as output_dimension (256, 512, 1024, 2048 on models that support it); a per-model token total per request also applies.',
  },
  create: (config, context) => new VoyageEmbeddingDriver(config, context),
});
