import { IsBoolean, IsOptional } from '../../core/validation.js';
import { ToBoolean } from '../../core/config-fields.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpRerankerDriver, withHostedRerankerFields } from '../../toolkit/http-reranker.js';
import { bearerClientOptions } from '../../toolkit/service-fields.js';
import { VOYAGE_DEFAULT_BASE_URL, VOYAGE_MAX_RERANK_DOCUMENTS } from './voyage-api.js';

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
    notes:
      "model and apiKey are required; baseUrl includes /v1 as in Voyage's SDKs (the same value as the voyage embedder's); truncation is sent as is; Voyage also caps the tokens of one request, which a lower batchSize keeps under.",
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      client: new HttpClient(bearerClientOptions(config, VOYAGE_DEFAULT_BASE_URL), context),
      model: config.model,
      maxDocuments: VOYAGE_MAX_RERANK_DOCUMENTS,
      path: '/rerank',
      body: (query, documents) => ({
        model: config.model,
        query,
        documents,
        top_k: documents.length,
        return_documents: false,
        truncation: config.truncation,
      }),
      shape: { listKey: 'data', scoreKey: 'relevance_score' },
    }),
});
