import { IsIn, IsOptional, IsString, Matches } from '../../core/validation.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpRerankerDriver, withHostedRerankerFields } from '../../toolkit/http-reranker.js';
import { serviceClientOptions } from '../../toolkit/service-fields.js';
import { PINECONE_DEFAULT_API_VERSION, PINECONE_DEFAULT_BASE_URL, PINECONE_DEFAULT_RERANK_DOCUMENTS, PINECONE_RERANK_MODEL_LIMITS } from './pinecone-api.js';

/** `type: pinecone` under `reranker:`: Pinecone Inference rerank (`POST {baseUrl}/rerank`, `Api-Key` header). */
export class PineconeRerankerConfig extends withHostedRerankerFields(RerankerInstanceConfig) {
  /** Sent as `X-Pinecone-Api-Version` (`YYYY-MM`); default 2026-04. */
  @IsOptional()
  @IsString()
  @Matches(/^\d{4}-\d{2}([.-][A-Za-z0-9]+)?$/, { message: '$property must be a Pinecone API version like 2026-04' })
  apiVersion?: string;

  /** Sent as `parameters.truncate`: END truncates over-long pairs, NONE makes them an error (models that take it). */
  @IsOptional() @IsIn(['END', 'NONE']) truncate?: 'END' | 'NONE';
}

/** The model's documented limit; for another model, `batchSize` or 100. */
export function pineconeMaxDocuments(config: Pick<PineconeRerankerConfig, 'model' | 'batchSize'>): number {
  return PINECONE_RERANK_MODEL_LIMITS[config.model] ?? config.batchSize ?? PINECONE_DEFAULT_RERANK_DOCUMENTS;
}

export const pineconeReranker = defineRerankerProvider({
  type: 'pinecone',
  config: PineconeRerankerConfig,
  description: 'Pinecone Inference rerank (api.pinecone.io)',
  docs: {
    defaultBaseUrl: PINECONE_DEFAULT_BASE_URL,
    batchLimit: PINECONE_DEFAULT_RERANK_DOCUMENTS,
    notes:
      'model and apiKey are required; documents per request follow the model (bge-reranker-v2-m3 and pinecone-rerank-v0: 100, cohere-rerank-3.5: 200; batchSize lowers it, and sets it for other models, default 100); apiVersion (default 2026-04) is sent as X-Pinecone-Api-Version; truncate (END or NONE) as parameters.truncate.',
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      client: new HttpClient(serviceClientOptions(config, { defaultBaseUrl: PINECONE_DEFAULT_BASE_URL, keyHeader: 'api-key' }), context),
      model: config.model,
      maxDocuments: pineconeMaxDocuments(config),
      path: '/rerank',
      extraHeaders: { 'x-pinecone-api-version': config.apiVersion ?? PINECONE_DEFAULT_API_VERSION },
      body: (query, documents) => ({
        model: config.model,
        query,
        documents: documents.map((text) => ({ text })),
        top_n: documents.length,
        return_documents: false,
        parameters: config.truncate !== undefined ? { truncate: config.truncate } : undefined,
      }),
      shape: { listKey: 'data', scoreKey: 'score' },
    }),
});
