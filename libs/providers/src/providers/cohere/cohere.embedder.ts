import { IsIn, IsOptional } from 'class-validator';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { HttpClient } from '../../http/http-client.js';
import { badResponse, describeValue, isObject } from '../../http/http-errors.js';
import { bearerClientOptions, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingInputType } from '../../core/embedder.js';
import { readVectorList, usageOfTokens } from '../../toolkit/vector-readers.js';

/** The API root of the `cohere` type when `baseUrl` is not given (the Cohere SDK's). */
export const COHERE_DEFAULT_BASE_URL = 'https://api.cohere.com';

/** Cohere's limit of texts per embed request. */
export const COHERE_MAX_EMBED_TEXTS = 96;

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

export class CohereEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize = COHERE_MAX_EMBED_TEXTS;
  /** `output_dimension` (embed-v4.0 and later: 256, 512, 1024 or 1536). */
  readonly supportsDimensions = true;
  readonly #client: HttpClient;
  readonly #config: CohereEmbedderConfig;

  constructor(config: CohereEmbedderConfig, context: DriverContext) {
    this.#config = config;
    this.model = config.model;
    this.#client = new HttpClient(bearerClientOptions(config, COHERE_DEFAULT_BASE_URL), context);
  }

  /** Free: `GET /v1/models` answers when the service is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#client.get('/v1/models', signal);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const config = this.#config;
    const body = {
      model: this.model,
      texts,
      input_type: options.inputType ? INPUT_TYPE_OF[options.inputType] : (config.inputType ?? 'search_document'),
      embedding_types: ['float'],
      ...(config.truncate !== undefined ? { truncate: config.truncate } : {}),
      ...(options.dimensions !== undefined ? { output_dimension: options.dimensions } : {}),
    };
    const answer = await this.#client.postJson('/v2/embed', body, options.signal);
    const embeddings = isObject(answer) ? answer.embeddings : undefined;
    if (!isObject(embeddings)) {
      throw badResponse(this.#client.site, `expected {embeddings: {float: [...]}}, got ${describeValue(isObject(answer) ? embeddings : answer)}`);
    }
    const meta = isObject(answer) && isObject(answer.meta) ? answer.meta : undefined;
    const billed = isObject(meta?.billed_units) ? meta.billed_units : undefined;
    return {
      embeddings: readVectorList(this.#client.site, embeddings.float, texts.length, 'embeddings.float'),
      usage: usageOfTokens(billed?.input_tokens),
    };
  }
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
  create: (config, context) => new CohereEmbeddingDriver(config, context),
});
