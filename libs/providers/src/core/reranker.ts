import type { ProviderInstance } from './provider-instance.js';
export interface RerankOptions {
  /** Keep only the best `topK` (after the threshold). Default: every document. */
  topK?: number;
  /** Drop results whose score is below this. */
  threshold?: number;
  signal?: AbortSignal;
  /** Deadline of this logical call in ms; overrides the instance's `timeoutMs`. */
  timeoutMs?: number;
  /** Extra headers for the call's upstream requests (a request id); never over the type's own auth headers. */
  headers?: Record<string, string>;
}

export interface RerankResult {
  /** Index of the document in the input array. */
  index: number;
  score: number;
  document: string;
}

/** A named reranker. Inject with `@InjectReranker('name')`, or the default by type. */
export interface Reranker extends ProviderInstance {
  readonly kind: 'reranker';
  /** Results sorted by score, highest first. */
  rerank(query: string, documents: string[], options?: RerankOptions): Promise<RerankResult[]>;
}
export abstract class Reranker {}

export interface RerankerCallOptions {
  signal: AbortSignal;
}

export interface RerankerScore {
  /** Index into the `documents` passed to this `rerankBatch` call. */
  index: number;
  score: number;
}

/**
 * What a provider type implements for the `reranker` kind: score at most `maxDocuments` documents in
 * one request, every one of them. Splitting, merging, sorting, topK and threshold are the library's.
 */
export interface RerankerDriver {
  readonly model: string;
  /** The service's address (its API root), for telemetry's `server.address`; absent in process. */
  readonly serverUrl?: string;
  readonly maxDocuments: number;
  rerankBatch(query: string, documents: string[], options: RerankerCallOptions): Promise<RerankerScore[]>;
  /**
   * Optional: a free check that the service answers and takes the credentials (a `GET /models`,
   * `/health`): never anything billed. Resolves when usable, throws a ProviderError when not.
   */
  ping?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void> | void;
}
