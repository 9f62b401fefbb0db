import { IsUrl } from '../../core/validation.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpRerankerDriver, RERANK_URL_OPTIONS, SERVED_MODEL, withSelfHostedRerankerFields } from '../../toolkit/http-reranker.js';
import { serviceClientOptions } from '../../toolkit/service-fields.js';
import { VLLM_DEFAULT_RERANK_DOCUMENTS, VLLM_HEALTH_PATH } from './vllm-api.js';

/**
 * `type: vllm` under `reranker:`: the Jina/Cohere-shaped `POST {baseUrl}/rerank` that vLLM and
 * llama.cpp's server speak. Both serve it at the root and under `/v1`, so `baseUrl` may be either
 * `http://127.0.0.1:8000` or `http://127.0.0.1:8000/v1`.
 */
export class VllmRerankerConfig extends withSelfHostedRerankerFields(RerankerInstanceConfig) {
  /** The server's root (`http://127.0.0.1:8000`) or its `/v1`; required, there is no cloud default. */
  @IsUrl(RERANK_URL_OPTIONS) baseUrl!: string;
}

export const vllmReranker = defineRerankerProvider({
  type: 'vllm',
  config: VllmRerankerConfig,
  description: "a vLLM or llama.cpp server's rerank endpoint (POST {baseUrl}/rerank); baseUrl required",
  docs: {
    batchLimit: VLLM_DEFAULT_RERANK_DOCUMENTS,
    notes:
      'baseUrl is required (the server root or its /v1; /rerank is appended); model is optional (sent only when given; the server uses the one it serves); apiKey optional (Bearer); 1,000 documents per request unless batchSize says otherwise (higher or lower).',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      // No default root: baseUrl is required.
      client: new HttpClient(serviceClientOptions(config), context),
      model: config.model ?? SERVED_MODEL,
      maxDocuments: config.batchSize ?? VLLM_DEFAULT_RERANK_DOCUMENTS,
      path: '/rerank',
      pingPath: `${new URL(config.baseUrl).origin}${VLLM_HEALTH_PATH}`,
      body: (query, documents) => ({
        // Sent only when configured: the server uses the model it serves.
        model: config.model,
        query,
        documents,
        top_n: documents.length,
      }),
      shape: { listKey: 'results', scoreKey: 'relevance_score' },
    }),
});
