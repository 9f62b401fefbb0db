import type OpenAI from 'openai';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import { createOpenAIClient, OPENAI_DEFAULT_BASE_URL, withOpenAIFields, type OpenAIConnectionConfig } from './openai-client.js';
import { isObject } from '../../http/http-errors.js';
import { toProviderError, type OpenAICallSite } from './openai-errors.js';
import type { OpenAIConnection } from './openai.llm.js';
import { readBase64OrListVector, readIndexedVectors } from '../../toolkit/vector-readers.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingUsage } from '../../core/embedder.js';

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
  /** A client built elsewhere (Azure's), with the site its errors name. */
  connection?: OpenAIConnection;
}

/**
 * One embeddings request against an OpenAI-speaking server (`openai`, `openai-compatible`).
 * The API key lives only inside the SDK client, in a private field: nothing printable reaches it.
 */
export class OpenAIEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize: number;
  readonly supportsDimensions = true;
  readonly #client: OpenAI;
  readonly #site: OpenAICallSite;
  readonly #encodingFormat: EmbeddingEncoding;

  constructor(config: Pick<OpenAIConnectionConfig, 'model'> & Partial<OpenAIConnectionConfig>, context: DriverContext, options: OpenAIEmbeddingDriverOptions = {}) {
    this.model = config.model;
    this.maxBatchSize = options.maxBatchSize ?? OPENAI_MAX_EMBEDDING_INPUTS;
    this.#encodingFormat = options.encodingFormat ?? 'base64';
    const { client, site } = options.connection ?? createOpenAIClient(config, context);
    this.#client = client;
    this.#site = site;
  }

  /** Free: listing the models answers when the server is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    try {
      await this.#client.models.list({ signal });
    } catch (err) {
      throw toProviderError(err, this.#site, signal);
    }
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const { signal, dimensions } = options;
    try {
      // encoding_format is always set, so the SDK hands the body back untouched and the decoding is
      // ours: its own would turn a server's float arrays (one that ignores base64) into garbage.
      const response: unknown = await this.#client.embeddings.create(
        {
          model: this.model,
          input: texts,
          encoding_format: this.#encodingFormat,
          ...(dimensions !== undefined ? { dimensions } : {}),
        },
        { signal },
      );
      return {
        embeddings: readIndexedVectors(this.#site, response, texts.length, { positional: true, read: readBase64OrListVector }),
        usage: usageOf(response),
      };
    } catch (err) {
      throw toProviderError(err, this.#site, signal);
    }
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
