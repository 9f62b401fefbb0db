import { IsBoolean, IsOptional, IsUrl } from '../../core/validation.js';
import { ToBoolean } from '../../core/config-fields.js';
import { RerankerInstanceConfig } from '../../core/instance-config.js';
import { defineRerankerProvider } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpRerankerDriver, RERANK_URL_OPTIONS, SERVED_MODEL, withSelfHostedRerankerFields } from '../../toolkit/http-reranker.js';
import { bearerClientOptions } from '../../toolkit/service-fields.js';
import { TEI_DEFAULT_BASE_URL, TEI_DEFAULT_BATCH_SIZE, TEI_HEALTH_PATH } from './tei-api.js';

/**
 * `type: tei` under `reranker:`: Hugging Face Text Embeddings Inference serving a reranker
 * (`POST {baseUrl}/rerank`). TEI serves one model and its rerank request names none.
 */
export class TeiRerankerConfig extends withSelfHostedRerankerFields(RerankerInstanceConfig) {
  /** The server's root; default http://127.0.0.1:8080. */
  @IsOptional() @IsUrl(RERANK_URL_OPTIONS) baseUrl?: string;

  /** Sent as `raw_scores`: true returns the model's logits instead of sigmoid scores in 0..1 (TEI's default: false). */
  @IsOptional() @ToBoolean() @IsBoolean() rawScores?: boolean;

  /** Sent as `truncate`: true truncates over-long inputs instead of failing (TEI's default depends on `--auto-truncate`). */
  @IsOptional() @ToBoolean() @IsBoolean() truncate?: boolean;
}

export const teiReranker = defineRerankerProvider({
  type: 'tei',
  config: TeiRerankerConfig,
  description: 'Hugging Face Text Embeddings Inference rerank (POST {baseUrl}/rerank)',
  docs: {
    defaultBaseUrl: TEI_DEFAULT_BASE_URL,
    batchLimit: TEI_DEFAULT_BATCH_SIZE,
    notes:
      "model is an optional label (TEI serves one model and the request names none); apiKey optional (Bearer, TEI's --api-key); 32 documents per request, TEI's default --max-client-batch-size, unless batchSize says otherwise (set it to the server's value); rawScores and truncate are sent as raw_scores and truncate.",
  },
  create: (config, context) =>
    new HttpRerankerDriver({
      client: new HttpClient(bearerClientOptions(config, TEI_DEFAULT_BASE_URL), context),
      model: config.model ?? SERVED_MODEL,
      maxDocuments: config.batchSize ?? TEI_DEFAULT_BATCH_SIZE,
      path: '/rerank',
      pingPath: TEI_HEALTH_PATH,
      // TEI scores every text it is given; there is no top_n.
      body: (query, documents) => ({
        query,
        texts: documents,
        return_text: false,
        raw_scores: config.rawScores,
        truncate: config.truncate,
      }),
      shape: { scoreKey: 'score' },
    }),
});
