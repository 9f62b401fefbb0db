import { IsNotEmpty, IsOptional, IsString, IsUrl } from 'class-validator';
import {
  defineRerankerProvider,
  HttpClient,
  RerankerInstanceConfig,
  Secret,
  type RerankerDriver,
} from '@hush/providers';

/** `type: acme` under `reranker:`. Every key a user may write is a decorated field. */
export class AcmeRerankerConfig extends RerankerInstanceConfig {
  /** The model to score with. */
  @IsString() @IsNotEmpty() model!: string;

  /** The API key, sent as `X-Acme-Key`. Secret: printed as *** everywhere. */
  @IsString() @IsNotEmpty() @Secret() apiKey!: string;

  /** The API root; default https://api.acme.example. */
  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true }) baseUrl?: string;
}

/** Acme scores at most 50 candidates per request. */
const ACME_MAX_CANDIDATES = 50;

export const acmeReranker = defineRerankerProvider({
  type: 'acme',
  config: AcmeRerankerConfig,
  description: 'Acme Rerank API',
  docs: { defaultBaseUrl: 'https://api.acme.example', batchLimit: ACME_MAX_CANDIDATES },
  create: (config, context): RerankerDriver => {
    const http = new HttpClient(
      { baseUrl: config.baseUrl ?? 'https://api.acme.example', headers: { 'x-acme-key': config.apiKey } },
      context,
    );
    return {
      model: config.model,
      maxDocuments: ACME_MAX_CANDIDATES,
      // One request, one attempt: the library retries, splits, merges and sorts around it.
      async rerankBatch(query, documents, { signal }) {
        const answer = await http.postJson('/v1/score', { model: config.model, query, candidates: documents }, signal);
        const scores = (answer as { scores?: unknown }).scores;
        if (!Array.isArray(scores) || scores.length !== documents.length) {
          throw http.error(`expected ${documents.length} scores, got ${Array.isArray(scores) ? scores.length : 'none'}`);
        }
        return scores.map((score, index) => ({ index, score: Number(score) }));
      },
    };
  },
});
