import { IsBoolean, IsOptional } from 'class-validator';
import { ToBoolean } from '../../core/config-fields.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { VOYAGE_DEFAULT_BASE_URL } from './voyage.embedder.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { createRerankHttpClient, HttpRerankerDriver, withHostedRerankerFields } from '../../toolkit/http-reranker.js';

// One default and one meaning for both voyage kinds: the API root with its /v1, as Voyage's SDKs take it.
export { VOYAGE_DEFAULT_BASE_URL };

/** Voyage's limit of documents per `/v1/rerank` request. */
export const VOYAGE_MAX_RERANK_DOCUMENTS = 1000;

/** `type: voyage` under `reranker:`: Voyage AI's rerank API (`POST {baseUrl}/rerank`, Bearer key). */
export class VoyageRerankerConfig extends withHostedRerankerFields(RerankerInstanceConfig) {
  /** Sent as `truncation`: false makes over-long queries or documents an error instead of truncating them (Voyage's default: true). */
  @IsOptional() @ToBoolean() @IsBoolean() truncation?: boolean;
}

export const voyageReranker = defineRerankerProvider({
  type: 'voyage',
  config: VoyageRerankerConfig,
  description: 'Voyage AI rerank (api.voyageai.com/v1, or a proxy through baseUrl)',
  docs: {
    defaultBaseUrl: VOYAGE_DEFAULT_BASE_URL,
    batchLimit: VOYAGE_MAX_RERANK_DOCUMENTS,
    notes: 'model and apiKey are required; baseUrl includes /v1 as in Voyage\'s SDKs (the same value as the voyage embedder\'s); truncation is sent as is; Voyage also caps the tokens of one request, which a lower batchSize keeps under.',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      model: config.model,
      maxDocuments: VOYAGE_MAX_RERANK_DOCUMENTS,
      client: createRerankHttpClient(
        { baseUrl: config.baseUrl ?? VOYAGE_DEFAULT_BASE_URL, apiKey: config.apiKey, authHeaders: { authorization: `Bearer ${config.apiKey}` }, headers: config.headers },
        context,
      ),
      path: '/rerank',
      body: (query, documents) => ({
        model: config.model,
        query,
        documents,
        top_k: documents.length,
        return_documents: false,
        ...(config.truncation !== undefined ? { truncation: config.truncation } : {}),
      }),
      shape: { listKey: 'data', scoreKey: 'relevance_score' },
    }),
});
