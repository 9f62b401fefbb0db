import { IsBoolean, IsIn, IsOptional } from '../../core/validation.js';
import { ToBoolean } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import type { EmbeddingInputType } from '../../core/embedder.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpEmbedderDriver } from '../../toolkit/http-embedder.js';
import { bearerClientOptions, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { readIndexedBase64Vectors, usageOfTokens, valueAt } from '../../toolkit/vector-readers.js';
import { JINA_DEFAULT_BASE_URL, JINA_MAX_EMBEDDING_INPUTS } from './jina-api.js';

export const JINA_TASKS = ['retrieval.query', 'retrieval.passage', 'text-matching', 'classification', 'separation', 'code.query', 'code.passage'] as const;
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
      'inputType query/document maps to task retrieval.query/retrieval.passage (code.query/code.passage when the configured task is a code task), else the configured task; dimensions is sent for Matryoshka models (v3 and later); vectors are asked for as base64 (embedding_type, a quarter of the JSON) and decoded to float32, lists of numbers are read too.',
  },
  create: (config, context) =>
    new HttpEmbedderDriver({
      client: new HttpClient(bearerClientOptions(config, JINA_DEFAULT_BASE_URL), context),
      model: config.model,
      maxBatchSize: JINA_MAX_EMBEDDING_INPUTS,
      // `dimensions` (Matryoshka models: jina-embeddings-v3 and later, jina-clip-v2).
      supportsDimensions: true,
      path: '/v1/embeddings',
      body: ({ texts, inputType, dimensions, model }) => ({
        model,
        input: texts,
        // Base64 of little-endian float32: a quarter of the JSON, and no float parsing.
        embedding_type: 'base64',
        task: taskOf(inputType, config.task),
        dimensions,
        normalized: config.normalized,
        truncate: config.truncate,
      }),
      read: (answer, { count, site, vectors }) => ({
        ...readIndexedBase64Vectors(site, answer, count, { keepBase64: vectors === 'base64' }),
        usage: usageOfTokens(valueAt(answer, 'usage.prompt_tokens'), valueAt(answer, 'usage.total_tokens')),
      }),
    }),
});
