import { IsBoolean, IsNotEmpty, IsOptional, IsString } from '../../core/validation.js';
import { ToBoolean } from '../../core/config-fields.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpEmbedderDriver } from '../../toolkit/http-embedder.js';
import { bearerClientOptions, withOptionalApiKey, withServiceConnection } from '../../toolkit/service-fields.js';
import { readVectorListAt } from '../../toolkit/vector-readers.js';
import { TEI_DEFAULT_BASE_URL, TEI_DEFAULT_BATCH_SIZE, TEI_HEALTH_PATH } from './tei-api.js';

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
  create: (config, context) =>
    new HttpEmbedderDriver({
      client: new HttpClient(bearerClientOptions(config, TEI_DEFAULT_BASE_URL), context),
      model: config.model ?? TEI_DEFAULT_MODEL,
      maxBatchSize: config.batchSize ?? TEI_DEFAULT_BATCH_SIZE,
      supportsDimensions: false,
      path: '/embed',
      pingPath: TEI_HEALTH_PATH,
      body: ({ texts, inputType }) => ({
        inputs: texts,
        normalize: config.normalize,
        truncate: config.truncate,
        prompt_name: inputType === 'query' ? config.queryPromptName : inputType === 'document' ? config.documentPromptName : undefined,
      }),
      // TEI reports token counts only in x-compute-tokens headers, not in the body: no usage.
      read: (answer, { count, site }) => ({ embeddings: readVectorListAt(site, answer, '', count) }),
    }),
});
