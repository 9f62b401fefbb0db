/** Facts of Voyage AI's API that both voyage types, embedding and reranker, use. */

/**
 * The API root when `baseUrl` is not given: with its `/v1`, as Voyage's SDKs take it, so one
 * `baseUrl` value serves both kinds.
 */
export const VOYAGE_DEFAULT_BASE_URL = 'https://api.voyageai.com/v1';

/** Voyage's limit of inputs per embeddings request (a per-model token total applies as well). */
export const VOYAGE_MAX_EMBEDDING_INPUTS = 1000;

/** Voyage's limit of documents per `/v1/rerank` request. */
export const VOYAGE_MAX_RERANK_DOCUMENTS = 1000;
