import { IsBoolean, IsNotEmpty, IsOptional, IsString } from 'class-validator';
import { ToBoolean } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { HttpClient } from '../../http/http-client.js';
import { bearerClientOptions, withOptionalApiKey, withServiceConnection } from '../../toolkit/service-fields.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver } from '../../core/embedder.js';
import { readVectorList } from '../../toolkit/vector-readers.js';

/** TEI has no cloud root: a server of your own (or an Inference Endpoint, through `baseUrl` and `apiKey`). */
export const TEI_DEFAULT_BASE_URL = 'http://127.0.0.1:8080';

/** TEI's default `--max-client-batch-size`. */
export const TEI_DEFAULT_BATCH_SIZE = 32;

/** The `model` of a TEI instance that names none (TEI serves the one model it was started with). */
export const TEI_DEFAULT_MODEL = 'tei';

/**
 * `type: tei` under `embedding:`: Hugging Face text-embeddings-inference, `POST {baseUrl}/embed`.
 * `batchSize` is the server's `--max-client-batch-size` (default 32): set it to match the server,
 * higher as well as lower.
 */
export class TEIEmbedderConfig extends withOptionalApiKey(withServiceConnection(EmbeddingInstanceConfig)) {
  /** A label only (TEI serves one model and takes no model name); default "tei". */
  @IsOptional() @IsString() @IsNotEmpty() model?: string;

  /** `normalize`: unit-length vectors; TEI's default is true. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() normalize?: boolean;

  /** `truncate`: cut inputs longer than the model's limit instead of failing; TEI's default is false. Sent only when set. */
  @IsOptional() @ToBoolean() @IsBoolean() truncate?: boolean;

  /** `prompt_name` sent with `inputType: 'query'` (a key of the model's sentence-transformers prompts, e.g. "query"). */
  @IsOptional() @IsString() @IsNotEmpty() queryPromptName?: string;

  /** `prompt_name` sent with `inputType: 'document'` (e.g. "document" or "passage"). */
  @IsOptional() @IsString() @IsNotEmpty() documentPromptName?: string;
}

export class TEIEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize: number;
  readonly supportsDimensions = false;
  readonly #client: HttpClient;
  readonly #config: TEIEmbedderConfig;

  constructor(config: TEIEmbedderConfig, context: DriverContext) {
    this.#config = config;
    this.model = config.model ?? TEI_DEFAULT_MODEL;
    // The limit is the server's own setting, not a fact of the API: batchSize states it, either way.
    this.maxBatchSize = config.batchSize ?? TEI_DEFAULT_BATCH_SIZE;
    this.#client = new HttpClient(bearerClientOptions(config, TEI_DEFAULT_BASE_URL), context);
  }

  /** Free: `GET /health` answers when the service is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#client.get('/health', signal);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const config = this.#config;
    const promptName =
      options.inputType === 'query' ? config.queryPromptName : options.inputType === 'document' ? config.documentPromptName : undefined;
    const body = {
      inputs: texts,
      ...(config.normalize !== undefined ? { normalize: config.normalize } : {}),
      ...(config.truncate !== undefined ? { truncate: config.truncate } : {}),
      ...(promptName !== undefined ? { prompt_name: promptName } : {}),
    };
    const answer = await this.#client.postJson('/embed', body, options.signal);
    // TEI reports token counts only in x-compute-tokens headers, not in the body: no usage.
    return { embeddings: readVectorList(this.#client.site, answer, texts.length, 'the answer') };
  }
}

export const teiEmbedder = defineEmbeddingProvider({
  type: 'tei',
  config: TEIEmbedderConfig,
  description: 'Hugging Face text-embeddings-inference (TEI) server or Inference Endpoint',
  docs: {
    defaultBaseUrl: TEI_DEFAULT_BASE_URL,
    batchLimit: TEI_DEFAULT_BATCH_SIZE,
    notes:
      'model is optional (a label; default "tei"); batchSize sets the server\'s --max-client-batch-size and may raise the limit as well as lower it; apiKey (optional) is sent as Bearer; no dimensions; inputType picks queryPromptName or documentPromptName.',
  },
  create: (config, context) => new TEIEmbeddingDriver(config, context),
});
