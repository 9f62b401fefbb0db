import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl } from 'class-validator';
import { Secret } from '../core/config-fields.js';
import { HttpClient } from '../http/http-client.js';
import { badResponse, describeValue, isObject } from '../http/http-errors.js';
import { IsHeaderMap, mergeHeaders, SERVICE_URL_OPTIONS, urlSecrets } from './service-fields.js';
import type { DriverContext } from '../core/provider-definition.js';
import type { RerankerCallOptions, RerankerDriver, RerankerScore } from '../core/reranker.js';

/**
 * What the rerank types that speak plain HTTP share (cohere, jina, voyage, vllm, tei, pinecone): their
 * common config fields, one driver that posts a JSON body and reads `{index, score}` pairs back, and the
 * checks on those pairs. What differs per service (path, auth header, body fields, answer shape) stays
 * in each type's own file.
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

/**
 * The HTTP client of one instance: the user's `headers`, then the type's auth headers over them (the
 * library's one rule, see mergeHeaders). Header names are lower-cased so one given twice in two spellings is sent once.
 * The API key is a secret in its own right: it is kept out of messages even where a service echoes it
 * without its `Bearer ` prefix.
 */
export function createRerankHttpClient(
  init: { baseUrl: string; apiKey?: string; authHeaders?: Record<string, string>; headers?: Record<string, string> },
  context: Pick<DriverContext, 'kind' | 'name' | 'type'>,
): HttpClient {
  const headers = mergeHeaders(init.headers, { ...init.authHeaders });
  return new HttpClient({ baseUrl: init.baseUrl, headers, secrets: [...(init.apiKey ? [init.apiKey] : []), ...urlSecrets(init.baseUrl)] }, context);
}

/** Where a service puts its scores in the answer. */
export interface RerankAnswerShape {
  /** The key of the list in the answer object (`results`, `data`); absent when the answer is the bare list (TEI). */
  listKey?: string;
  /** The score's key in each item (`relevance_score`, `score`); the index is always `index`. */
  scoreKey: string;
}

/**
 * The `{index, score}` of every document of a batch, from a service's answer. Anything off (no list,
 * an index out of range or repeated, a score that is not a finite number, a document left unscored) is a
 * non-retryable `bad-response` error naming what was wrong, never the documents' text.
 */
export function parseRerankScores(answer: unknown, count: number, shape: RerankAnswerShape, client: HttpClient): RerankerScore[] {
  const list = shape.listKey === undefined ? answer : isObject(answer) ? answer[shape.listKey] : undefined;
  if (!Array.isArray(list)) {
    const expected = shape.listKey === undefined ? 'a JSON array of results' : `an object with "${shape.listKey}": [...]`;
    const got = shape.listKey !== undefined && isObject(answer) ? `"${shape.listKey}" is ${describeValue(list)}` : describeValue(answer);
    throw badResponse(client.site, `expected ${expected}; ${got}`);
  }
  const seen = new Set<number>();
  const scores = list.map((item, position): RerankerScore => {
    if (!isObject(item)) throw badResponse(client.site, `result ${position} is ${describeValue(item)}, not an object`);
    const { index } = item;
    const score = item[shape.scoreKey];
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) {
      throw badResponse(client.site, `result ${position} has index ${typeof index === 'number' ? index : describeValue(index)}, expected one of 0..${count - 1}`);
    }
    if (seen.has(index)) throw badResponse(client.site, `index ${index} is scored twice`);
    seen.add(index);
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      throw badResponse(client.site, `result ${position} (index ${index}) has ${shape.scoreKey} ${typeof score === 'number' ? score : describeValue(score)}, not a finite number`);
    }
    return { index, score };
  });
  if (scores.length !== count) throw badResponse(client.site, `asked for the scores of ${count} documents, got ${scores.length}`);
  return scores;
}

export interface HttpRerankerInit {
  /** The model as reported by `Reranker.model`. */
  model: string;
  /** Documents per request: the service's limit, or the configured one. */
  maxDocuments: number;
  client: HttpClient;
  /** The path under `baseUrl` (`/v2/rerank`). */
  path: string;
  /** The request body for one batch; it must ask for every document's score and no document text. */
  body(query: string, documents: string[]): unknown;
  shape: RerankAnswerShape;
  /** Headers that are not secret (an API version), sent with every request. */
  extraHeaders?: Record<string, string>;
  /** A free route that answers when the service is up and takes the key (a path under the root, or a URL on its server). */
  pingPath?: string;
}

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

  async rerankBatch(query: string, documents: string[], options: RerankerCallOptions): Promise<RerankerScore[]> {
    const { client, path, body, shape, extraHeaders } = this.#init;
    const answer = await client.postJson(path, body(query, documents), options.signal, extraHeaders);
    return parseRerankScores(answer, documents.length, shape, client);
  }
}
