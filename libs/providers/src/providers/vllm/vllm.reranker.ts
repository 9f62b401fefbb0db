import { IsUrl } from 'class-validator';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { createRerankHttpClient, HttpRerankerDriver, RERANK_URL_OPTIONS, SERVED_MODEL, withSelfHostedRerankerFields } from '../../toolkit/http-reranker.js';

/**
 * Documents per request when `batchSize` is not given. Neither vLLM nor llama.cpp's server has a
 * per-request document limit of its own; `batchSize` replaces this one (higher or lower).
 */
export const VLLM_DEFAULT_RERANK_DOCUMENTS = 1000;

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
  description: 'a vLLM or llama.cpp server\'s rerank endpoint (POST {baseUrl}/rerank); baseUrl required',
  docs: {
    batchLimit: VLLM_DEFAULT_RERANK_DOCUMENTS,
    notes: 'baseUrl is required (the server root or its /v1; /rerank is appended); model is optional (sent only when given; the server uses the one it serves); apiKey optional (Bearer); 1,000 documents per request unless batchSize says otherwise (higher or lower).',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      model: config.model ?? SERVED_MODEL,
      maxDocuments: config.batchSize ?? VLLM_DEFAULT_RERANK_DOCUMENTS,
      client: createRerankHttpClient(
        { baseUrl: config.baseUrl, apiKey: config.apiKey, authHeaders: config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}, headers: config.headers },
        context,
      ),
      path: '/rerank',
      // /health lives at the server's root, whether baseUrl names it or its /v1.
      pingPath: `${new URL(config.baseUrl).origin}/health`,
      body: (query, documents) => ({
        ...(config.model !== undefined ? { model: config.model } : {}),
        query,
        documents,
        top_n: documents.length,
      }),
      shape: { listKey: 'results', scoreKey: 'relevance_score' },
    }),
});
