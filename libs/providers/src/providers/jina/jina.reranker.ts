import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpRerankerDriver, withHostedRerankerFields } from '../../toolkit/http-reranker.js';
import { bearerClientOptions } from '../../toolkit/service-fields.js';
import { JINA_DEFAULT_BASE_URL, JINA_DEFAULT_RERANK_DOCUMENTS } from './jina-api.js';

/** `type: jina` under `reranker:`: Jina AI's Reranker API (`POST {baseUrl}/v1/rerank`, Bearer key). */
export class JinaRerankerConfig extends withHostedRerankerFields(RerankerInstanceConfig) {}

export const jinaReranker = defineRerankerProvider({
  type: 'jina',
  config: JinaRerankerConfig,
  description: 'Jina AI Reranker API (api.jina.ai, or a proxy through baseUrl)',
  docs: {
    defaultBaseUrl: JINA_DEFAULT_BASE_URL,
    batchLimit: JINA_DEFAULT_RERANK_DOCUMENTS,
    notes:
      'model and apiKey are required; Jina documents no per-request document limit, so 1,000 documents per request is our default and batchSize replaces it (higher or lower).',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      client: new HttpClient(bearerClientOptions(config, JINA_DEFAULT_BASE_URL), context),
      model: config.model,
      maxDocuments: config.batchSize ?? JINA_DEFAULT_RERANK_DOCUMENTS,
      path: '/v1/rerank',
      body: (query, documents) => ({
        model: config.model,
        query,
        documents,
        top_n: documents.length,
        // Jina echoes every document back by default; the library keeps the text itself.
        return_documents: false,
      }),
      shape: { listKey: 'results', scoreKey: 'relevance_score' },
    }),
});
