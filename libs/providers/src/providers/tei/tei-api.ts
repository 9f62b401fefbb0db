/** Facts of Hugging Face text-embeddings-inference (TEI) that both tei types, embedding and reranker, use. */

/** TEI has no cloud root: a server of your own (or an Inference Endpoint, through `baseUrl` and `apiKey`), on TEI's default port. */
export const TEI_DEFAULT_BASE_URL = 'http://127.0.0.1:8080';

/**
 * Inputs (embed) or texts (rerank) per request: TEI's default `--max-client-batch-size`. It is the
 * server's setting, not a fact of the API: `batchSize` states it, higher as well as lower.
 */
export const TEI_DEFAULT_BATCH_SIZE = 32;

/** Free: answers when the server is up and takes the key. */
export const TEI_HEALTH_PATH = '/health';
