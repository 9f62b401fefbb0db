/** Facts of Pinecone Inference's API that the pinecone type uses. */

/** The API root when `baseUrl` is not given. */
export const PINECONE_DEFAULT_BASE_URL = 'https://api.pinecone.io';

/** The `X-Pinecone-Api-Version` sent when `apiVersion` is not given: a stable version with `/rerank` in its current shape. */
export const PINECONE_DEFAULT_API_VERSION = '2026-04';

/** Documents per request of Pinecone's hosted rerank models, as Pinecone documents them. */
export const PINECONE_RERANK_MODEL_LIMITS: Readonly<Record<string, number>> = {
  'bge-reranker-v2-m3': 100,
  'pinecone-rerank-v0': 100,
  'cohere-rerank-3.5': 200,
};

/** Documents per request for a model not in the table above, unless `batchSize` says otherwise. */
export const PINECONE_DEFAULT_RERANK_DOCUMENTS = 100;
