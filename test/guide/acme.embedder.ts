import { IsIn, IsOptional } from 'class-validator';
import {
  defineEmbeddingProvider,
  EmbeddingInstanceConfig,
  HttpClient,
  HttpEmbedderDriver,
  readVectorListAt,
  serviceClientOptions,
  usageOfTokens,
  valueAt,
  withRequiredApiKey,
  withRequiredModel,
  withServiceConnection,
} from '@hush/providers';

/** Acme's facts, declared once: its API root, and its limit of texts per request. */
export const ACME_BASE_URL = 'https://api.acme.example';
export const ACME_MAX_TEXTS = 64;

/**
 * `type: acme` under `embedding:`. The mixins declare `baseUrl` (validated as strictly as the built-in
 * types'), `headers`, `apiKey` (both secret) and `model`; the class adds Acme's own key.
 */
export class AcmeEmbedderConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(EmbeddingInstanceConfig))) {
  /** Acme's `truncate`: cut a text that is too long at its start or its end, instead of failing. */
  @IsOptional() @IsIn(['start', 'end']) truncate?: 'start' | 'end';
}

export const acmeEmbedder = defineEmbeddingProvider({
  type: 'acme',
  config: AcmeEmbedderConfig,
  description: 'Acme Embeddings API',
  docs: { defaultBaseUrl: ACME_BASE_URL, batchLimit: ACME_MAX_TEXTS },
  create: (config, context) =>
    new HttpEmbedderDriver({
      // The key goes in X-Acme-Key; it, the headers and the URL's credentials stay out of every message.
      client: new HttpClient(serviceClientOptions(config, { defaultBaseUrl: ACME_BASE_URL, keyHeader: 'x-acme-key' }), context),
      model: config.model,
      maxBatchSize: ACME_MAX_TEXTS,
      supportsDimensions: true,
      path: '/v1/embed',
      pingPath: '/v1/models',
      // Fields left undefined (no inputType, no dimensions) are not sent.
      body: ({ texts, inputType, dimensions, model }) => ({ model, texts, mode: inputType, size: dimensions, truncate: config.truncate }),
      read: (answer, { count, site }) => ({
        embeddings: readVectorListAt(site, answer, 'vectors', count),
        usage: usageOfTokens(valueAt(answer, 'usage.tokens')),
      }),
    }),
});
