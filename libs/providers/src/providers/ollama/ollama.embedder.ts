import { IsBoolean, IsObject, IsOptional, ValidateBy } from '../../core/validation.js';
import { ToBoolean, ToNumber } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpEmbedderDriver } from '../../toolkit/http-embedder.js';
import { bearerClientOptions, withOptionalApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { readVectorListAt, usageOfTokens, valueAt } from '../../toolkit/vector-readers.js';
import { OLLAMA_DEFAULT_BASE_URL, OLLAMA_DEFAULT_BATCH_SIZE, OLLAMA_VERSION_PATH } from './ollama-api.js';

// Go's time.ParseDuration syntax ("5m", "1h30m", "-1s"), which Ollama's keep_alive takes as a string.
const GO_DURATION = /^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** `keep_alive`: seconds as a number (negative: keep loaded forever), or a Go duration string ("5m"). */
function IsKeepAlive(): PropertyDecorator {
  return ValidateBy({
    name: 'isKeepAlive',
    validator: {
      validate: (value: unknown) => (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && GO_DURATION.test(value.trim())),
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
  create: (config, context) =>
    new HttpEmbedderDriver({
      client: new HttpClient(bearerClientOptions(config, OLLAMA_DEFAULT_BASE_URL), context),
      model: config.model,
      // No limit of the service's: batchSize sets ours, higher as well as lower.
      maxBatchSize: config.batchSize ?? OLLAMA_DEFAULT_BATCH_SIZE,
      supportsDimensions: true,
      path: '/api/embed',
      pingPath: OLLAMA_VERSION_PATH,
      body: ({ texts, dimensions, model }) => ({
        model,
        input: texts,
        truncate: config.truncate,
        dimensions,
        keep_alive: config.keepAlive,
        options: config.options,
      }),
      read: (answer, { count, site }) => ({
        embeddings: readVectorListAt(site, answer, 'embeddings', count),
        usage: usageOfTokens(valueAt(answer, 'prompt_eval_count')),
      }),
    }),
});
