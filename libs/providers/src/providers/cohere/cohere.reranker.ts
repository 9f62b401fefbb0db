import { IsInt, IsOptional, Min } from '../../core/validation.js';
import { ToNumber } from '../../core/config-fields.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpRerankerDriver, withHostedRerankerFields } from '../../toolkit/http-reranker.js';
import { bearerClientOptions } from '../../toolkit/service-fields.js';
import { COHERE_DEFAULT_BASE_URL, COHERE_MAX_RERANK_DOCUMENTS, COHERE_MODELS_PATH } from './cohere-api.js';

/** `type: cohere` under `reranker:`: Cohere's Rerank API v2 (`POST {baseUrl}/v2/rerank`, Bearer key). */
export class CohereRerankerConfig extends withHostedRerankerFields(RerankerInstanceConfig) {
  /** Sent as `max_tokens_per_doc`: longer documents are truncated to this many tokens (Cohere's default: 4096). */
  @IsOptional() @ToNumber() @IsInt() @Min(1) maxTokensPerDoc?: number;
}

export const cohereReranker = defineRerankerProvider({
  type: 'cohere',
  config: CohereRerankerConfig,
  description: 'Cohere Rerank v2 (api.cohere.com, or a proxy through baseUrl)',
  docs: {
    defaultBaseUrl: COHERE_DEFAULT_BASE_URL,
    batchLimit: COHERE_MAX_RERANK_DOCUMENTS,
    notes:
      'model and apiKey are required; maxTokensPerDoc is sent as max_tokens_per_doc; Cohere takes up to 10,000 documents but recommends at most 1,000 per request, so larger sets are split at 1,000 (batchSize lowers it).',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      client: new HttpClient(bearerClientOptions(config, COHERE_DEFAULT_BASE_URL), context),
      model: config.model,
      maxDocuments: COHERE_MAX_RERANK_DOCUMENTS,
      path: '/v2/rerank',
      pingPath: COHERE_MODELS_PATH,
      body: (query, documents) => ({
        model: config.model,
        query,
        documents,
        // Every document's score: topK and threshold apply after the batches are merged.
        top_n: documents.length,
        max_tokens_per_doc: config.maxTokensPerDoc,
      }),
      shape: { listKey: 'results', scoreKey: 'relevance_score' },
    }),
});
