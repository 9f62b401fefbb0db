import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingUsage } from '../../core/embedder.js';
import type { HttpClient } from '../../http/http-client.js';
import { isObject } from '../../http/http-errors.js';
import { readIndexedBase64Vectors } from '../../toolkit/vector-readers.js';
import { createOpenAIHttpClient, OPENAI_DEFAULT_BASE_URL, withOpenAIFields, type OpenAIConnectionConfig } from './openai-client.js';
import { OPENAI_ROUTES, type OpenAIRoutes } from './openai.llm.js';

/** `type: openai` under `embedding:`: OpenAI's embeddings API. */
export class OpenAIEmbedderConfig extends withOpenAIFields(EmbeddingInstanceConfig) {}

/** OpenAI's limit of inputs per embeddings request. */
export const OPENAI_MAX_EMBEDDING_INPUTS = 2048;

export type EmbeddingEncoding = 'base64' | 'float';

export interface OpenAIEmbeddingDriverOptions {
  /** The service's inputs-per-request limit; default 2048 (OpenAI's). */
  maxBatchSize?: number;
  /** What `encoding_format` to ask for; default base64 (a quarter of the bytes of JSON floats). */
  encodingFormat?: EmbeddingEncoding;
  /** A client built elsewhere (Azure's), and its routes. */
  client?: HttpClient;
  routes?: OpenAIRoutes;
}

/**
 * One embeddings request against an OpenAI-speaking server (`openai`, `openai-compatible`, Azure's).
 * Base64 answers are decoded straight into `Float32Array`s (or handed over as they came, when the
 * caller wants base64); a server that ignores base64 and sends numbers is read as numbers.
 */
export class OpenAIEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize: number;
  readonly supportsDimensions = true;
  readonly #http: HttpClient;
  readonly #routes: OpenAIRoutes;
  readonly #encodingFormat: EmbeddingEncoding;

  constructor(
    config: Pick<OpenAIConnectionConfig, 'model'> & Partial<OpenAIConnectionConfig>,
    context: DriverContext,
    options: OpenAIEmbeddingDriverOptions = {},
  ) {
    this.model = config.model;
    this.maxBatchSize = options.maxBatchSize ?? OPENAI_MAX_EMBEDDING_INPUTS;
    this.#encodingFormat = options.encodingFormat ?? 'base64';
    this.#http = options.client ?? createOpenAIHttpClient(config, context);
    this.#routes = options.routes ?? OPENAI_ROUTES;
  }

  /** The service's API root, for telemetry. */
  get serverUrl(): string {
    return this.#http.site.baseUrl;
  }

  /** Free: listing the models answers when the server is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#http.get(this.#routes.models, signal);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const { signal, dimensions } = options;
    const response = await this.#http.postJson(
      this.#routes.embeddings,
      { model: this.model, input: texts, encoding_format: this.#encodingFormat, ...(dimensions !== undefined ? { dimensions } : {}) },
      signal,
    );
    const vectors = readIndexedBase64Vectors(this.#http.site, response, texts.length, { positional: true, keepBase64: options.vectors === 'base64' });
    return { ...vectors, usage: usageOf(response) };
  }
}

function usageOf(response: unknown): EmbeddingUsage | undefined {
  const usage = isObject(response) && isObject(response.usage) ? response.usage : undefined;
  if (typeof usage?.prompt_tokens !== 'number') return undefined;
  const promptTokens = usage.prompt_tokens;
  return { promptTokens, totalTokens: typeof usage.total_tokens === 'number' ? usage.total_tokens : promptTokens };
}

export const openaiEmbedder = defineEmbeddingProvider({
  type: 'openai',
  config: OpenAIEmbedderConfig,
  description: 'OpenAI embeddings (api.openai.com, or a proxy in front of it through baseUrl)',
  docs: { defaultBaseUrl: OPENAI_DEFAULT_BASE_URL, batchLimit: OPENAI_MAX_EMBEDDING_INPUTS },
  create: (config, context) => new OpenAIEmbeddingDriver(config, context),
});
