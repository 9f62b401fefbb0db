import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { ToBoolean } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { HttpClient } from '../../http/http-client.js';
import { isObject } from '../../http/http-errors.js';
import { bearerClientOptions, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingInputType } from '../../core/embedder.js';
import { readIndexedVectors, usageOfTokens } from '../../toolkit/vector-readers.js';

/** The API root of the `jina` type when `baseUrl` is not given. */
export const JINA_DEFAULT_BASE_URL = 'https://api.jina.ai';

/** Jina's limit of inputs per embeddings request. */
export const JINA_MAX_EMBEDDING_INPUTS = 2048;

export const JINA_TASKS = [
  'retrieval.query',
  'retrieval.passage',
  'text-matching',
  'classification',
  'separation',
  'code.query',
  'code.passage',
] as const;
export type JinaTask = (typeof JINA_TASKS)[number];

/** `type: jina` under `embedding:`: Jina AI's `POST {baseUrl}/v1/embeddings`. */
export class JinaEmbedderConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(EmbeddingInstanceConfig))) {
  /**
   * `task` of calls that give no `inputType`; none is sent when unset. A call's `query` / `document`
   * maps to retrieval.query / retrieval.passage, or to code.query / code.passage when this is a code task.
   */
  @IsOptional() @IsIn(JINA_TASKS) task?: JinaTask;

  /** `normalized`: unit-length vectors. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() normalized?: boolean;

  /** `truncate`: cut inputs longer than the model's limit instead of failing. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() truncate?: boolean;
}

export class JinaEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize = JINA_MAX_EMBEDDING_INPUTS;
  /** `dimensions` (Matryoshka models: jina-embeddings-v3 and later, jina-clip-v2). */
  readonly supportsDimensions = true;
  readonly #client: HttpClient;
  readonly #config: JinaEmbedderConfig;

  constructor(config: JinaEmbedderConfig, context: DriverContext) {
    this.#config = config;
    this.model = config.model;
    this.#client = new HttpClient(bearerClientOptions(config, JINA_DEFAULT_BASE_URL), context);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const config = this.#config;
    const task = taskOf(options.inputType, config.task);
    const body = {
      model: this.model,
      input: texts,
      embedding_type: 'float',
      ...(task !== undefined ? { task } : {}),
      ...(options.dimensions !== undefined ? { dimensions: options.dimensions } : {}),
      ...(config.normalized !== undefined ? { normalized: config.normalized } : {}),
      ...(config.truncate !== undefined ? { truncate: config.truncate } : {}),
    };
    const answer = await this.#client.postJson('/v1/embeddings', body, options.signal);
    const usage = isObject(answer) && isObject(answer.usage) ? answer.usage : undefined;
    return {
      embeddings: readIndexedVectors(this.#client.site, answer, texts.length),
      usage: usageOfTokens(usage?.prompt_tokens, usage?.total_tokens),
    };
  }
}

function taskOf(inputType: EmbeddingInputType | undefined, configured: JinaTask | undefined): JinaTask | undefined {
  if (!inputType) return configured;
  const code = configured?.startsWith('code.') ?? false;
  if (inputType === 'query') return code ? 'code.query' : 'retrieval.query';
  return code ? 'code.passage' : 'retrieval.passage';
}

export const jinaEmbedder = defineEmbeddingProvider({
  type: 'jina',
  config: JinaEmbedderConfig,
  description: 'Jina AI embeddings API (api.jina.ai)',
  docs: {
    defaultBaseUrl: JINA_DEFAULT_BASE_URL,
    batchLimit: JINA_MAX_EMBEDDING_INPUTS,
    notes:
      'inputType query/document maps to task retrieval.query/retrieval.passage (code.query/code.passage when the configured task is a code task), else the configured task; dimensions is sent for Matryoshka models (v3 and later).',
  },
  create: (config, context) => new JinaEmbeddingDriver(config, context),
});
