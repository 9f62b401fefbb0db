import type { HttpCallSite } from '../core/call-site.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingInputType, VectorFormat } from '../core/embedder.js';
import type { HttpClient } from '../http/http-client.js';

/**
 * The driver of every embedding type that speaks a service's own JSON API over HTTP (tei, ollama,
 * cohere, jina, voyage, gemini, and types written outside the library): one POST per batch, its
 * body built and its answer read by the type. A type is then data: a path, a body, a reader, its
 * limits. Splitting, ordering, retries and the dimensions check are the library's.
 */

/** What a type's body builder is given for one request. */
export interface HttpEmbedRequest {
  /** The texts of this batch, at most `maxBatchSize`, in input order. */
  texts: string[];
  /** The call's `inputType`, when it gave one. */
  inputType?: EmbeddingInputType;
  /** The dimensions in force (the call's, else the configured ones), when any and the type supports them. */
  dimensions?: number;
  /** The model, as the driver reports it. */
  model: string;
}

/** What a reader is given besides the parsed answer. */
export interface HttpAnswerContext {
  /** How many vectors (embedder) or scores (reranker) the request asked for. */
  count: number;
  /** The call site, for the readers' bad-response errors (they name the instance, never a secret). */
  site: HttpCallSite;
  /**
   * Embedder: the form the caller wants the vectors in. A reader of base64 answers hands them over
   * as they came when it is `base64` (readIndexedBase64Vectors' `keepBase64`), saving a decode.
   */
  vectors?: VectorFormat;
}

export interface HttpEmbedderInit {
  /** The instance's client: root, auth headers, secrets (see serviceClientOptions). */
  client: HttpClient;
  /** The model as reported by `Embedder.model`. */
  model: string;
  /** Texts per request: the service's limit, or the configured `batchSize` where the service has none. */
  maxBatchSize: number;
  /** Whether the service shortens vectors on request; when false, `dimensions` is checked but never sent. */
  supportsDimensions: boolean;
  /** The path under the client's root (`/v2/embed`). */
  path: string;
  /** The JSON body of one request. Keys whose value is undefined are left out of the JSON, so optional fields need no care. */
  body(request: HttpEmbedRequest): unknown;
  /** The vectors (one per text, in order) and usage of an answer; a reader from vector-readers says what was wrong with a bad one. */
  read(answer: unknown, context: HttpAnswerContext): EmbedderBatchResult;
  /** Headers that are not secret (an API version), sent with every request. */
  extraHeaders?: Record<string, string>;
  /** A free route (never a billed one) that answers when the service is up and takes the key: a path under the root, or a URL on its server. */
  pingPath?: string;
}

/** One embedding request per batch against an HTTP service. */
export class HttpEmbedderDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize: number;
  readonly supportsDimensions: boolean;
  // Private: the client holds the auth headers, and nothing printable may reach them.
  readonly #init: HttpEmbedderInit;

  /** Set where the service has a free route to check (`/health`, `GET /v1/models`). */
  readonly ping?: (signal: AbortSignal) => Promise<void>;

  constructor(init: HttpEmbedderInit) {
    this.model = init.model;
    this.maxBatchSize = init.maxBatchSize;
    this.supportsDimensions = init.supportsDimensions;
    this.#init = init;
    const { pingPath, client } = init;
    if (pingPath) this.ping = async (signal) => void (await client.get(pingPath, signal));
  }

  /** The service's API root, for telemetry. */
  get serverUrl(): string {
    return this.#init.client.site.baseUrl;
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const { client, path, body, read, extraHeaders } = this.#init;
    const request: HttpEmbedRequest = {
      texts,
      inputType: options.inputType,
      dimensions: this.supportsDimensions ? options.dimensions : undefined,
      model: this.model,
    };
    const answer = await client.postJson(path, body(request), options.signal, extraHeaders);
    return read(answer, { count: texts.length, site: client.site, vectors: options.vectors });
  }
}
