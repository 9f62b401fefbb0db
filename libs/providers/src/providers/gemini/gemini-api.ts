/** Facts of Google's Gemini API that both gemini types, llm and embedding, use. */

/** The API root when `baseUrl` is not given (`@google/genai`'s). */
export const GEMINI_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

/** The API version path used when `apiVersion` is not given (`@google/genai`'s default too). */
export const GEMINI_DEFAULT_API_VERSION = 'v1beta';

/** Gemini's limit of requests in one `batchEmbedContents` call ("at most 100 requests can be in one batch"). */
export const GEMINI_MAX_EMBEDDING_INPUTS = 100;

/** Free: `GET {version root}/models` answers when the service is up and takes the key. */
export const GEMINI_MODELS_PATH = '/models';
