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
  /** Extra headers for the call's upstream requests (a request id); never over the type's own auth headers. */
  headers?: Record<string, string>;
  /**
   * How the vectors come back: `number` arrays (the default), `float32` rows (`Float32Array`, half
   * the memory, for callers who store vectors), or `base64` strings of little-endian float32 (as
   * OpenAI's API sends them: passed through untouched where the service sent them so).
   */
  vectors?: VectorFormat;
}

/** The forms a vector can take in an embedding result. */
export type VectorFormat = 'number' | 'float32' | 'base64';

/** A vector in each form. */
export interface VectorOf {
  number: number[];
  float32: Float32Array;
  base64: string;
}

export interface EmbeddingUsage {
  promptTokens: number;
  totalTokens: number;
}

export interface EmbeddingResult<V = number[]> {
  /** One vector per input, in input order. */
  embeddings: V[];
  model: string;
  dimensions: number;
  usage?: EmbeddingUsage;
}

/** A named embedding model. Inject with `@InjectEmbedder('name')`, or the default by type. */
export interface Embedder extends ProviderInstance {
  readonly kind: 'embedding';
  readonly dimensions?: number;
  embed(input: string | string[], options?: EmbedOptions & { vectors?: 'number' }): Promise<EmbeddingResult>;
  embed<F extends VectorFormat>(input: string | string[], options: EmbedOptions & { vectors: F }): Promise<EmbeddingResult<VectorOf[F]>>;
}
export abstract class Embedder {}

export interface EmbedderCallOptions {
  inputType?: EmbeddingInputType;
  /** The dimensions in force for this call, when any were asked for. */
  dimensions?: number;
  /** The form the caller wants: a driver whose service answers base64 may hand it over as it came. */
  vectors?: VectorFormat;
  signal: AbortSignal;
}

/**
 * One vector per text, in the order of `texts`: as lists of numbers or `Float32Array`s
 * (`embeddings`), or, where the service sent base64 of little-endian float32 and the call asked for
 * base64, those strings as they came (`base64`). The library converts to what the caller asked for.
 */
export type EmbedderBatchResult = ({ embeddings: Array<number[] | Float32Array>; base64?: undefined } | { base64: string[]; embeddings?: undefined }) & {
  usage?: EmbeddingUsage;
};

/**
 * What a provider type implements for the `embedding` kind: one request for at most
 * `maxBatchSize` texts. Splitting, concurrency, ordering and the dimensions check are the library's.
 */
export interface EmbedderDriver {
  readonly model: string;
  /** The service's address (its API root), for telemetry's `server.address`; absent in process. */
  readonly serverUrl?: string;
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
