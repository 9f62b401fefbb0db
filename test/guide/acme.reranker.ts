import {
  defineRerankerProvider,
  HttpClient,
  HttpRerankerDriver,
  RerankerInstanceConfig,
  serviceClientOptions,
  withRequiredApiKey,
  withRequiredModel,
  withServiceConnection,
} from '@hush/providers';
import { ACME_BASE_URL } from './acme.embedder.js';

/** Acme scores at most 50 candidates per request. */
export const ACME_MAX_CANDIDATES = 50;

/** `type: acme` under `reranker:`: the same connection keys as the embedder's. */
export class AcmeRerankerConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(RerankerInstanceConfig))) {}

export const acmeReranker = defineRerankerProvider({
  type: 'acme',
  config: AcmeRerankerConfig,
  description: 'Acme Score API',
  docs: { defaultBaseUrl: ACME_BASE_URL, batchLimit: ACME_MAX_CANDIDATES },
  create: (config, context) =>
    new HttpRerankerDriver({
      client: new HttpClient(serviceClientOptions(config, { defaultBaseUrl: ACME_BASE_URL, keyHeader: 'x-acme-key' }), context),
      model: config.model,
      maxDocuments: ACME_MAX_CANDIDATES,
      path: '/v1/score',
      pingPath: '/v1/models',
      body: (query, candidates) => ({ model: config.model, query, candidates }),
      // `{scores: [...]}`: one score per candidate, in their order.
      shape: { listKey: 'scores' },
    }),
});
