import { IsInt, IsOptional, Min } from 'class-validator';
import { ToNumber } from '../../core/config-fields.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { createRerankHttpClient, HttpRerankerDriver, withHostedRerankerFields } from '../../toolkit/http-reranker.js';

/** The API root of the `cohere` type when `baseUrl` is not given (as Cohere's SDKs take it). */
export const COHERE_DEFAULT_BASE_URL = 'https://api.cohere.com';

/**
 * Documents per `/v2/rerank` request. Cohere accepts up to 10,000 but recommends against sending more
 * than 1,000 in one request; larger sets are split at 1,000 and merged.
 */
export const COHERE_MAX_RERANK_DOCUMENTS = 1000;

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
    notes: 'model and apiKey are required; maxTokensPerDoc is sent as max_tokens_per_doc; Cohere takes up to 10,000 documents but recommends at most 1,000 per request, so larger sets are split at 1,000 (batchSize lowers it).',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      pingPath: '/v1/models',
      model: config.model,
      maxDocuments: COHERE_MAX_RERANK_DOCUMENTS,
      client: createRerankHttpClient(
        { baseUrl: config.baseUrl ?? COHERE_DEFAULT_BASE_URL, apiKey: config.apiKey, authHeaders: { authorization: `Bearer ${config.apiKey}` }, headers: config.headers },
        context,
      ),
      path: '/v2/rerank',
      body: (query, documents) => ({
        model: config.model,
        query,
        documents,
        // Every document's score: topK and threshold apply after the batches are merged.
        top_n: documents.length,
        ...(config.maxTokensPerDoc !== undefined ? { max_tokens_per_doc: config.maxTokensPerDoc } : {}),
      }),
      shape: { listKey: 'results', scoreKey: 'relevance_score' },
    }),
});
