/** Facts of Cohere's API that both cohere types, embedding and reranker, use. */

/** The API root when `baseUrl` is not given (as Cohere's SDKs take it). */
export const COHERE_DEFAULT_BASE_URL = 'https://api.cohere.com';

/** Cohere's limit of texts per embed request. */
export const COHERE_MAX_EMBED_TEXTS = 96;

/**
 * Documents per `/v2/rerank` request. Cohere accepts up to 10,000 but recommends against sending more
 * than 1,000 in one request; larger sets are split at 1,000 and merged.
 */
export const COHERE_MAX_RERANK_DOCUMENTS = 1000;

/** Free: `GET /v1/models` answers when the service is up and takes the key. */
export const COHERE_MODELS_PATH = '/v1/models';
