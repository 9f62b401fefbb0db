/** Facts of Jina AI's API that both jina types, embedding and reranker, use. */

/** The API root when `baseUrl` is not given. */
export const JINA_DEFAULT_BASE_URL = 'https://api.jina.ai';

/** Jina's limit of inputs per embeddings request. */
export const JINA_MAX_EMBEDDING_INPUTS = 2048;

/**
 * Documents per `/v1/rerank` request when `batchSize` is not given. Jina documents no per-request
 * document limit (only token limits), so this is our cautious default, and `batchSize` replaces it.
 */
export const JINA_DEFAULT_RERANK_DOCUMENTS = 1000;
