import type { ProviderInstance } from './provider-instance.js';
export type EmbeddingInputType = 'query' | 'document';

export interface EmbedOptions {
  /** Where the service tells queries from documents, this picks the mode; others ignore it. */
  inputType?: EmbeddingInputType;
  /** Overrides the configured `dimensions` for this call (sent where supported, always checked). */
  dimensions?: number;
  signal?: AbortSignal;
  /** Deadline of this logical call in ms; overrides the instance's `timeoutMs`. */
  timeoutMs?: number;
}

export interface EmbeddingUsage {
  promptTokens: number;
  totalTokens: number;
}

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  embeddings: number[][];
  model: string;
  dimensions: number;
  usage?: EmbeddingUsage;
}

/** A named embedding model. Inject with `@InjectEmbedder('name')`, or the default by type. */
export interface Embedder extends ProviderInstance {
  readonly kind: 'embedding';
  readonly dimensions?: number;
  embed(input: string | string[], options?: EmbedOptions): Promise<EmbeddingResult>;
}
export abstract class Embedder {}

export interface EmbedderCallOptions {
  inputType?: EmbeddingInputType;
  /** The dimensions in force for this call, when any were asked for. */
  dimensions?: number;
  signal: AbortSignal;
}

export interface EmbedderBatchResult {
  /** One vector per text, in the order of `texts`. */
  embeddings: number[][];
  usage?: EmbeddingUsage;
}

/**
 * What a provider type implements for the `embedding` kind: one request for at most
 * `maxBatchSize` texts. Splitting, concurrency, ordering and the dimensions check are the library's.
 */
export interface EmbedderDriver {
  readonly model: string;
  /** The service's per-request input limit; `batchSize` in YAML may lower it, never raise it. */
  readonly maxBatchSize: number;
  /** Whether the service can shorten vectors on request (`dimensions` is then sent, not only checked). */
  readonly supportsDimensions: boolean;
  embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult>;
  /**
   * Optional: a free check that the service answers and takes the credentials (a `GET /models`,
   * `/health`): never anything billed. Resolves when usable, throws a ProviderError when not.
   */
  ping?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void> | void;
}
