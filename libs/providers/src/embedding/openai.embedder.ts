import type OpenAI from 'openai';
import { EmbeddingInstanceConfig } from '../config/instance-config.js';
import { defineEmbeddingProvider, type DriverContext } from '../registry/provider-definition.js';
import { createOpenAIClient, OPENAI_DEFAULT_BASE_URL, withOpenAIFields, type OpenAIConnectionConfig } from '../http/openai-client.js';
import { badResponse, describeValue, isObject } from '../http/http-errors.js';
import { toProviderError, type OpenAICallSite } from '../http/openai-errors.js';
import type { OpenAIConnection } from '../llm/openai.llm.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingUsage } from './embedder.js';

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
      return { embeddings: this.#vectors(response, texts.length), usage: usageOf(response) };
    } catch (err) {
      throw toProviderError(err, this.#site, signal);
    }
  }

  /** The vectors in input order, whatever order `data` came in; anything off is a bad response. */
  #vectors(response: unknown, count: number): number[][] {
    const data = isObject(response) ? response.data : undefined;
    if (!Array.isArray(data)) throw badResponse(this.#site, `expected {data: [...]}, got ${describeValue(response)}`);
    if (data.length !== count) throw badResponse(this.#site, `asked for ${count} vectors, got ${data.length}`);
    // A server that leaves out `index` everywhere is taken at its order; a partial or odd one is not.
    const indexed = data.some((item) => isObject(item) && item.index !== undefined);
    const vectors = new Array<number[] | undefined>(count);
    data.forEach((item, position) => {
      const index = indexed ? (isObject(item) ? item.index : undefined) : position;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || vectors[index]) {
        throw badResponse(this.#site, `item ${position} of data has index ${String(index)} (expected each of 0..${count - 1} once)`);
      }
      vectors[index] = this.#decode(isObject(item) ? item.embedding : undefined, index);
    });
    return vectors as number[][];
  }

  #decode(embedding: unknown, index: number): number[] {
    if (typeof embedding === 'string') {
      const bytes = Buffer.from(embedding, 'base64');
      if (bytes.length === 0 || bytes.length % 4 !== 0) {
        throw badResponse(this.#site, `vector ${index} is not base64 float32 (${bytes.length} bytes)`);
      }
      // OpenAI sends little-endian float32, whatever the host's byte order.
      return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    }
    if (Array.isArray(embedding) && embedding.length > 0 && embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return embedding as number[];
    }
    throw badResponse(this.#site, `vector ${index} is not a list of numbers (got ${describeValue(embedding)})`);
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
