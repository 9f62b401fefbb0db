/** Facts of the rerank endpoint of vLLM and llama.cpp's server that the vllm type uses. */

/**
 * Documents per request when `batchSize` is not given. Neither vLLM nor llama.cpp's server has a
 * per-request document limit of its own; `batchSize` replaces this one (higher or lower).
 */
export const VLLM_DEFAULT_RERANK_DOCUMENTS = 1000;

/** Free: answers when the server is up; it lives at the server's root, whether `baseUrl` names it or its `/v1`. */
export const VLLM_HEALTH_PATH = '/health';
