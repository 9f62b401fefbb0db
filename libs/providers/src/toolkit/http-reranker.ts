import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl } from '../core/validation.js';
import type { HttpCallSite } from '../core/call-site.js';
import { Secret } from '../core/config-fields.js';
import type { RerankerCallOptions, RerankerDriver, RerankerScore } from '../core/reranker.js';
import type { HttpClient } from '../http/http-client.js';
import { badResponse, describeValue, isObject } from '../http/http-errors.js';
import type { HttpAnswerContext } from './http-embedder.js';
import { IsHeaderMap, SERVICE_URL_OPTIONS } from './service-fields.js';

/**
 * What the rerank types that speak plain HTTP share (cohere, jina, voyage, vllm, tei, pinecone, and
 * types written outside the library): their common config fields, one driver that posts a JSON body
 * and reads the scores back, and the checks on those scores. What differs per service (path, auth
 * header, body fields, answer shape) stays in each type's own file.
 */

/** `baseUrl` validation, the same as every HTTP type's. */
export const RERANK_URL_OPTIONS = SERVICE_URL_OPTIONS;

type ConfigClass = new (...args: any[]) => object;

/** The fields of a hosted rerank service (cohere, jina, voyage, pinecone): a model and an API key are required. */
export function withHostedRerankerFields<TBase extends ConfigClass>(Base: TBase) {
  class HostedRerankerFields extends Base {
    /** The rerank model (`rerank-v3.5`, `jina-reranker-v2-base-multilingual`, `rerank-2.5`, `bge-reranker-v2-m3`, ...). */
    @IsString() @IsNotEmpty() model!: string;

    /** The service's API key. */
    @IsString() @IsNotEmpty() @Secret() apiKey!: string;

    /** The API root as the service's SDK takes it; each type documents its default (a proxy goes here). */
    @IsOptional() @IsUrl(RERANK_URL_OPTIONS) baseUrl?: string;

    /** Extra HTTP headers sent with every request; secret, since they often carry credentials. */
    @IsOptional() @IsObject() @IsHeaderMap() @Secret() headers?: Record<string, string>;
  }
  return HostedRerankerFields;
}

/**
 * The fields of a self-hosted rerank server (vllm, tei): the key and the model are optional. Each type
 * declares its own `baseUrl` (required, or with a local default).
 */
export function withSelfHostedRerankerFields<TBase extends ConfigClass>(Base: TBase) {
  class SelfHostedRerankerFields extends Base {
    /** The served model's name; optional where the server serves one. */
    @IsOptional() @IsString() @IsNotEmpty() model?: string;

    /** Sent as `Authorization: Bearer <apiKey>` when given (the server's `--api-key`); no Authorization header otherwise. */
    @IsOptional() @IsString() @IsNotEmpty() @Secret() apiKey?: string;

    /** Extra HTTP headers sent with every request; secret, since they often carry credentials. */
    @IsOptional() @IsObject() @IsHeaderMap() @Secret() headers?: Record<string, string>;
  }
  return SelfHostedRerankerFields;
}

/** What the model is reported as when a self-hosted server is left to use the one it serves. */
export const SERVED_MODEL = 'default';

/** Where a service puts its scores in the answer. */
export interface RerankAnswerShape {
  /** The key of the list in the answer object (`results`, `data`); absent when the answer is the bare list (TEI). */
  listKey?: string;
  /**
   * The score's key in each item (`relevance_score`, `score`), whose index is `index`. Absent when the
   * list holds bare scores in the order of the documents.
   */
  scoreKey?: string;
}

/**
 * The `{index, score}` of every document of a batch, from a service's answer. Anything off (no list,
 * an index out of range or repeated, a score that is not a finite number, a document left unscored) is a
 * non-retryable `bad-response` error naming what was wrong, never the documents' text.
 */
export function readRerankScores(site: HttpCallSite, answer: unknown, count: number, shape: RerankAnswerShape): RerankerScore[] {
  const list = shape.listKey === undefined ? answer : isObject(answer) ? answer[shape.listKey] : undefined;
  if (!Array.isArray(list)) {
    const expected = shape.listKey === undefined ? 'a JSON array of results' : `an object with "${shape.listKey}": [...]`;
    const got = shape.listKey !== undefined && isObject(answer) ? `"${shape.listKey}" is ${describeValue(list)}` : describeValue(answer);
    throw badResponse(site, `expected ${expected}; ${got}`);
  }
  const { scoreKey } = shape;
  const seen = new Set<number>();
  const scores = list.map((item, position): RerankerScore => {
    let index: unknown = position;
    let score: unknown = item;
    if (scoreKey !== undefined) {
      if (!isObject(item)) throw badResponse(site, `result ${position} is ${describeValue(item)}, not an object`);
      index = item.index;
      score = item[scoreKey];
    }
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) {
      throw badResponse(site, `result ${position} has index ${typeof index === 'number' ? index : describeValue(index)}, expected one of 0..${count - 1}`);
    }
    if (seen.has(index)) throw badResponse(site, `index ${index} is scored twice`);
    seen.add(index);
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      const what = scoreKey === undefined ? 'a score' : scoreKey;
      throw badResponse(
        site,
        `result ${position} (index ${index}) has ${what} ${typeof score === 'number' ? score : describeValue(score)}, not a finite number`,
      );
    }
    return { index, score };
  });
  if (scores.length !== count) throw badResponse(site, `asked for the scores of ${count} documents, got ${scores.length}`);
  return scores;
}

interface HttpRerankerCommon {
  /** The instance's client: root, auth headers, secrets (see serviceClientOptions). */
  client: HttpClient;
  /** The model as reported by `Reranker.model`. */
  model: string;
  /** Documents per request: the service's limit, or the configured one. */
  maxDocuments: number;
  /** The path under the client's root (`/v2/rerank`). */
  path: string;
  /** The JSON body for one batch; it must ask for every document's score and no document text. Undefined values are left out. */
  body(query: string, documents: string[]): unknown;
  /** Headers that are not secret (an API version), sent with every request. */
  extraHeaders?: Record<string, string>;
  /** A free route (never a billed one) that answers when the service is up and takes the key: a path under the root, or a URL on its server. */
  pingPath?: string;
}

/** The driver's options: where the scores are in an answer (`shape`), or a reader of its own (`read`). */
export type HttpRerankerInit = HttpRerankerCommon &
  ({ shape: RerankAnswerShape; read?: never } | { read(answer: unknown, context: HttpAnswerContext): RerankerScore[]; shape?: never });

/** One rerank request per batch against an HTTP service; splitting, merging, retries are the library's. */
export class HttpRerankerDriver implements RerankerDriver {
  readonly model: string;
  readonly maxDocuments: number;
  // Private: the client holds the auth headers, and nothing printable may reach them.
  readonly #init: HttpRerankerInit;

  /** Set where the service has a free route to check (`/health`, `GET /v1/models`). */
  readonly ping?: (signal: AbortSignal) => Promise<void>;

  constructor(init: HttpRerankerInit) {
    this.model = init.model;
    this.maxDocuments = init.maxDocuments;
    this.#init = init;
    const { pingPath, client } = init;
    if (pingPath) this.ping = async (signal) => void (await client.get(pingPath, signal));
  }

  /** The service's API root, for telemetry. */
  get serverUrl(): string {
    return this.#init.client.site.baseUrl;
  }

  async rerankBatch(query: string, documents: string[], options: RerankerCallOptions): Promise<RerankerScore[]> {
    const init = this.#init;
    const answer = await init.client.postJson(init.path, init.body(query, documents), options.signal, init.extraHeaders);
    const context = { count: documents.length, site: init.client.site };
    return init.read ? init.read(answer, context) : readRerankScores(context.site, answer, context.count, init.shape);
  }
}
