import { IsBoolean, IsObject, IsOptional, ValidateBy } from 'class-validator';
import { ToBoolean, ToNumber } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { HttpClient } from '../../http/http-client.js';
import { badResponse, describeValue, isObject } from '../../http/http-errors.js';
import { bearerClientOptions, withOptionalApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver } from '../../core/embedder.js';
import { readVectorList, usageOfTokens } from '../../toolkit/vector-readers.js';

/** Ollama's own default address (the `ollama` SDK's `host`). */
export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434';

/** Ollama documents no limit of inputs per request: ours, so that one request stays a reasonable size. */
export const OLLAMA_DEFAULT_BATCH_SIZE = 512;

// Go's time.ParseDuration syntax ("5m", "1h30m", "-1s"), which Ollama's keep_alive takes as a string.
const GO_DURATION = /^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** `keep_alive`: seconds as a number (negative: keep loaded forever), or a Go duration string ("5m"). */
function IsKeepAlive(): PropertyDecorator {
  return ValidateBy({
    name: 'isKeepAlive',
    validator: {
      validate: (value: unknown) =>
        (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && GO_DURATION.test(value.trim())),
      defaultMessage: () => '$property must be a number of seconds or a duration such as "5m" or "1h30m"',
    },
  });
}

/** `type: ollama` under `embedding:`: Ollama's native `POST {baseUrl}/api/embed`. */
export class OllamaEmbedderConfig extends withRequiredModel(withOptionalApiKey(withServiceConnection(EmbeddingInstanceConfig))) {
  /** `truncate`: cut inputs longer than the context instead of failing; Ollama's default is true. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() truncate?: boolean;

  /** `keep_alive`: how long the model stays loaded after the request (seconds, or "5m"); Ollama's default is 5 minutes. */
  @IsOptional() @ToNumber() @IsKeepAlive() keepAlive?: number | string;

  /** `options`: model parameters by Ollama's names (`num_ctx`, `num_thread`, ...). */
  @IsOptional() @IsObject() options?: Record<string, unknown>;
}

export class OllamaEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize: number;
  readonly supportsDimensions = true;
  readonly #client: HttpClient;
  readonly #config: OllamaEmbedderConfig;

  constructor(config: OllamaEmbedderConfig, context: DriverContext) {
    this.#config = config;
    this.model = config.model;
    // No limit of the service's: batchSize sets ours, higher as well as lower.
    this.maxBatchSize = config.batchSize ?? OLLAMA_DEFAULT_BATCH_SIZE;
    this.#client = new HttpClient(bearerClientOptions(config, OLLAMA_DEFAULT_BASE_URL), context);
  }

  /** Free: `GET /api/version` answers when the service is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#client.get('/api/version', signal);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const config = this.#config;
    const body = {
      model: this.model,
      input: texts,
      ...(config.truncate !== undefined ? { truncate: config.truncate } : {}),
      ...(options.dimensions !== undefined ? { dimensions: options.dimensions } : {}),
      ...(config.keepAlive !== undefined ? { keep_alive: config.keepAlive } : {}),
      ...(config.options !== undefined ? { options: config.options } : {}),
    };
    const answer = await this.#client.postJson('/api/embed', body, options.signal);
    if (!isObject(answer)) throw badResponse(this.#client.site, `expected {embeddings: [...]}, got ${describeValue(answer)}`);
    return {
      embeddings: readVectorList(this.#client.site, answer.embeddings, texts.length, 'embeddings'),
      usage: usageOfTokens(answer.prompt_eval_count),
    };
  }
}

export const ollamaEmbedder = defineEmbeddingProvider({
  type: 'ollama',
  config: OllamaEmbedderConfig,
  description: 'Ollama native embeddings API (/api/embed)',
  docs: {
    defaultBaseUrl: OLLAMA_DEFAULT_BASE_URL,
    batchLimit: OLLAMA_DEFAULT_BATCH_SIZE,
    notes:
      'Ollama documents no per-request limit, so 512 is ours and batchSize may raise it as well as lower it; dimensions needs an Ollama and model that support it; apiKey (optional, e.g. for ollama.com) is sent as Bearer.',
  },
  create: (config, context) => new OllamaEmbeddingDriver(config, context),
});
