/** Facts of Ollama's native API that the ollama type uses. */

/** Ollama's own default address (the `ollama` SDK's `host`). */
export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434';

/** Ollama documents no limit of inputs per request: ours, so that one request stays a reasonable size. */
export const OLLAMA_DEFAULT_BATCH_SIZE = 512;

/** Free: `GET /api/version` answers when the service is up and takes the key. */
export const OLLAMA_VERSION_PATH = '/api/version';
