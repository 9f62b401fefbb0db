import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { countWords, fnv1a, isObject, JsonServiceFakeServer, type AnswerScript, type JsonServiceBehaviour, type RecordedRequest } from './fake-http-server.js';

export type { RecordedRequest } from './fake-http-server.js';

/**
 * Fake rerank services on 127.0.0.1 (random port), one per server, each speaking its own service's
 * wire format: Cohere v2, Jina, Voyage, vLLM (and llama.cpp's server), TEI and Pinecone. Each checks
 * the auth header its service uses, the body fields it requires and its per-request document limit,
 * answers in its own shape (sorted by score, cut at top_n / top_k, documents echoed where asked) and
 * fails with its own error body. Every request is recorded; behaviours can be scripted per test.
 *
 * Scores depend only on the query and the document's text (see `fakeRerankScore`), so a test can
 * tell what order a merged set must come back in.
 */

export type RerankService = 'cohere' | 'jina' | 'voyage' | 'vllm' | 'tei' | 'pinecone';

/** What the server does with one request, in place of its normal answer (errors come in the service's own error body). */
export type FakeBehaviour = JsonServiceBehaviour;

export interface RerankFakeOptions {
  /** When set, requests must carry it the service's way (Bearer, or Pinecone's Api-Key), else 401. */
  apiKey?: string;
  /** Per-request document limit; default the service's own (TEI: its default max_client_batch_size 32). */
  maxDocuments?: number;
  /** Pinecone: more hosted models, with their document limits. */
  extraModels?: Record<string, number>;
}

/** Word overlap between query and document, with a tie-break from the text: the same text always scores the same. */
export function fakeRerankScore(query: string, document: string): number {
  const words = (text: string) =>
    text
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter(Boolean);
  const wanted = new Set(words(query));
  const docWords = words(document);
  const hits = docWords.filter((w) => wanted.has(w)).length;
  return hits / (docWords.length + 1) + (fnv1a(document) % 100_000) / 1e9;
}

interface Scored {
  index: number;
  score: number;
  text: string;
}

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

/** One service's side of the conversation. */
interface Dialect {
  /** POST paths served (all others: 404 in the service's format). */
  readonly paths: readonly string[];
  /** The path prefix a client's `baseUrl` needs (Voyage's SDKs take `.../v1`). */
  readonly basePath: string;
  readonly defaultMaxDocuments: number;
  /** The service's free GET route (Cohere's model list, a server's /health), and whether it wants the key. */
  readonly ping?: { path: string; auth: boolean; answer: unknown };
  /** undefined when the request is authorised. */
  checkAuth(headers: IncomingHttpHeaders, apiKey: string): Reply | undefined;
  /** The texts to score, or the service's own 4xx. */
  parse(body: any, maxDocuments: number, options: RerankFakeOptions): { query: string; texts: string[] } | Reply;
  answer(body: any, scored: Scored[], seq: number): unknown;
  error(status: number, message: string): unknown;
  notFound(path: string): Reply;
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const bearer = (headers: IncomingHttpHeaders) => {
  const auth = headers.authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
};
const topOf = (scored: Scored[], n: unknown) => (typeof n === 'number' && n > 0 ? scored.slice(0, n) : scored);
const tokens = (texts: string[]) => texts.reduce((n, t) => n + countWords(t), 0);

// Cohere v2: errors are {id, message}.
const cohere: Dialect = {
  paths: ['/v2/rerank'],
  basePath: '',
  defaultMaxDocuments: 10_000,
  ping: { path: '/v1/models', auth: true, answer: { models: [{ name: 'rerank-v3.5', endpoints: ['rerank'] }] } },
  checkAuth: (headers, key) => (bearer(headers) === key ? undefined : { status: 401, body: cohere.error(401, 'invalid api token') }),
  parse(body, max) {
    const bad = (message: string): Reply => ({ status: 400, body: cohere.error(400, message) });
    if (!isObject(body)) return bad('invalid request: body must be a JSON object');
    if (typeof body.model !== 'string' || !body.model) return bad('invalid request: model must be specified');
    if (typeof body.query !== 'string' || !body.query) return bad('invalid request: query must not be empty');
    if (!isStringList(body.documents) || body.documents.length === 0) return bad('invalid request: documents must be a non-empty list of strings');
    if (body.documents.length > max) return bad(`invalid request: too many documents, got ${body.documents.length}, maximum is ${max}`);
    if (body.top_n !== undefined && !(Number.isInteger(body.top_n) && body.top_n >= 1)) return bad('invalid request: top_n must be a positive integer');
    for (const key of Object.keys(body)) {
      if (!['model', 'query', 'documents', 'top_n', 'max_tokens_per_doc', 'priority'].includes(key))
        return bad(`invalid request: unknown field: parameter ${key} is not a valid field`);
    }
    return { query: body.query, texts: body.documents };
  },
  answer: (body, scored) => ({
    id: randomUUID(),
    results: topOf(scored, body.top_n).map((s) => ({ index: s.index, relevance_score: s.score })),
    meta: { api_version: { version: '2' }, billed_units: { search_units: 1 } },
  }),
  error: (_status, message) => ({ id: randomUUID(), message }),
  notFound: (path) => ({ status: 404, body: { id: randomUUID(), message: `Not Found: ${path}` } }),
};

// Jina (FastAPI): errors are {detail}; documents are echoed unless return_documents is false.
const jina: Dialect = {
  paths: ['/v1/rerank'],
  basePath: '',
  defaultMaxDocuments: 2048,
  checkAuth: (headers, key) => (bearer(headers) === key ? undefined : { status: 401, body: jina.error(401, 'Unauthorized: invalid API key') }),
  parse(body, max) {
    const bad = (message: string): Reply => ({ status: 422, body: jina.error(422, message) });
    if (!isObject(body)) return bad('Input should be a valid dictionary');
    if (typeof body.model !== 'string' || !body.model) return bad('model: Field required');
    if (typeof body.query !== 'string') return bad('query: Field required');
    if (!isStringList(body.documents) || body.documents.length === 0) return bad('documents: Field required');
    if (body.documents.length > max) return bad(`documents: List should have at most ${max} items after validation, not ${body.documents.length}`);
    return { query: body.query, texts: body.documents };
  },
  answer: (body, scored) => ({
    model: body.model,
    usage: { total_tokens: tokens([body.query, ...body.documents]) },
    results: topOf(scored, body.top_n).map((s) => ({
      index: s.index,
      relevance_score: s.score,
      ...(body.return_documents === false ? {} : { document: { text: s.text } }),
    })),
  }),
  error: (_status, message) => ({ detail: message }),
  notFound: () => ({ status: 404, body: { detail: 'Not Found' } }),
};

// Voyage: served under /v1; errors are {detail}; documents echoed only with return_documents true.
const voyage: Dialect = {
  paths: ['/v1/rerank'],
  basePath: '/v1',
  defaultMaxDocuments: 1000,
  checkAuth: (headers, key) => (bearer(headers) === key ? undefined : { status: 401, body: voyage.error(401, 'Provided API key is invalid.') }),
  parse(body, max) {
    const bad = (message: string): Reply => ({ status: 400, body: voyage.error(400, message) });
    if (!isObject(body)) return bad('Request body is not valid JSON.');
    if (typeof body.model !== 'string' || !body.model) return bad("Field 'model' is required.");
    if (typeof body.query !== 'string' || !body.query) return bad("Field 'query' is required.");
    if (!isStringList(body.documents) || body.documents.length === 0) return bad("Field 'documents' must be a non-empty list of strings.");
    if (body.documents.length > max) return bad(`The number of documents (${body.documents.length}) exceeds the limit of ${max}.`);
    if (body.top_k !== undefined && body.top_k !== null && !(Number.isInteger(body.top_k) && body.top_k >= 1))
      return bad("Field 'top_k' must be a positive integer.");
    if (body.truncation !== undefined && typeof body.truncation !== 'boolean') return bad("Field 'truncation' must be a boolean.");
    return { query: body.query, texts: body.documents };
  },
  answer: (body, scored) => ({
    object: 'list',
    data: topOf(scored, body.top_k).map((s) => ({
      index: s.index,
      relevance_score: s.score,
      ...(body.return_documents === true ? { document: s.text } : {}),
    })),
    model: body.model,
    usage: { total_tokens: tokens([body.query, ...body.documents]) },
  }),
  error: (_status, message) => ({ detail: message }),
  notFound: () => ({ status: 404, body: { detail: 'Not Found' } }),
};

// vLLM's /rerank (also /v1 and /v2): model optional (the served one), documents always echoed;
// errors are OpenAI-style {error: {message, type, param, code}}; a wrong --api-key gets {error: "Unauthorized"}.
const VLLM_SERVED_MODEL = 'BAAI/bge-reranker-v2-m3';
const vllm: Dialect = {
  paths: ['/rerank', '/v1/rerank', '/v2/rerank'],
  basePath: '',
  defaultMaxDocuments: Number.MAX_SAFE_INTEGER,
  ping: { path: '/health', auth: false, answer: '' },
  checkAuth: (headers, key) => (bearer(headers) === key ? undefined : { status: 401, body: { error: 'Unauthorized' } }),
  parse(body, max) {
    const bad = (message: string, status = 400): Reply => ({ status, body: vllm.error(status, message) });
    if (!isObject(body)) return bad('Expected a JSON object');
    if (body.model !== undefined && body.model !== null && body.model !== VLLM_SERVED_MODEL) return bad(`The model \`${body.model}\` does not exist.`, 404);
    if (typeof body.query !== 'string') return bad('query: Field required');
    if (!isStringList(body.documents)) return bad('documents: Field required');
    if (body.documents.length > max) return bad(`Too many documents: ${body.documents.length} > ${max}`);
    return { query: body.query, texts: body.documents };
  },
  answer: (body, scored, seq) => ({
    id: `rerank-fake${seq}`,
    model: VLLM_SERVED_MODEL,
    usage: { total_tokens: tokens([body.query, ...body.documents]) },
    results: topOf(scored, body.top_n).map((s) => ({ index: s.index, document: { text: s.text }, relevance_score: s.score })),
  }),
  error: (status, message) => ({ error: { message, type: status >= 500 ? 'InternalServerError' : 'BadRequestError', param: null, code: status } }),
  notFound: () => ({ status: 404, body: { detail: 'Not Found' } }),
};

// TEI: a bare array [{index, score, text?}]; errors are {error, error_type}; a wrong --api-key gets an empty 401.
const tei: Dialect = {
  paths: ['/rerank'],
  basePath: '',
  defaultMaxDocuments: 32,
  ping: { path: '/health', auth: false, answer: '' },
  checkAuth: (headers, key) => (bearer(headers) === key ? undefined : { status: 401, body: '' }),
  parse(body, max) {
    const bad = (message: string, status = 422): Reply => ({ status, body: { error: message, error_type: 'Validation' } });
    if (!isObject(body)) return bad('Failed to deserialize the JSON body into the target type', 422);
    if (typeof body.query !== 'string') return bad('Failed to deserialize the JSON body into the target type: missing field `query`');
    if (!isStringList(body.texts)) return bad('Failed to deserialize the JSON body into the target type: missing field `texts`');
    if (body.texts.length === 0) return bad('`texts` cannot be empty');
    if (body.texts.length > max) return bad(`batch size ${body.texts.length} > maximum allowed batch size ${max}`);
    return { query: body.query, texts: body.texts };
  },
  // TEI answers sorted by score, every text.
  answer: (body, scored) => scored.map((s) => ({ index: s.index, score: s.score, ...(body.return_text === true ? { text: s.text } : {}) })),
  error: (status, message) => ({ error: message, error_type: status === 429 ? 'Overloaded' : status >= 500 ? 'Backend' : 'Validation' }),
  notFound: () => ({ status: 404, body: '' }),
};

// Pinecone: Api-Key header, X-Pinecone-Api-Version; documents are objects with a text field;
// errors are {error: {code, message}, status}. Per-request limits follow the model.
export const PINECONE_FAKE_MODEL_LIMITS: Record<string, number> = { 'bge-reranker-v2-m3': 100, 'pinecone-rerank-v0': 100, 'cohere-rerank-3.5': 200 };
const PINECONE_CODES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'UNKNOWN',
  503: 'UNAVAILABLE',
};
const pinecone: Dialect = {
  paths: ['/rerank'],
  basePath: '',
  defaultMaxDocuments: Number.MAX_SAFE_INTEGER,
  checkAuth: (headers, key) => (headers['api-key'] === key ? undefined : { status: 401, body: pinecone.error(401, 'Invalid API key.') }),
  parse(body, max, options) {
    const bad = (message: string): Reply => ({ status: 400, body: pinecone.error(400, message) });
    if (!isObject(body)) return bad('Bad request. The request body included invalid request parameters.');
    if (typeof body.model !== 'string' || !body.model) return bad('Missing required field: model');
    const modelLimit = { ...PINECONE_FAKE_MODEL_LIMITS, ...options.extraModels }[body.model];
    if (modelLimit === undefined) return { status: 404, body: pinecone.error(404, `Model ${body.model} not found.`) };
    const limit = Math.min(max, modelLimit);
    if (typeof body.query !== 'string' || !body.query) return bad('Missing required field: query');
    if (!Array.isArray(body.documents) || body.documents.length === 0) return bad('Missing required field: documents');
    const rankField = Array.isArray(body.rank_fields) && typeof body.rank_fields[0] === 'string' ? body.rank_fields[0] : 'text';
    const texts: string[] = [];
    for (const [i, doc] of body.documents.entries()) {
      if (!isObject(doc) || typeof doc[rankField] !== 'string') return bad(`Document ${i} is missing the rank field "${rankField}".`);
      texts.push(doc[rankField]);
    }
    if (texts.length > limit) return bad(`The number of documents (${texts.length}) exceeds the maximum of ${limit} for model ${body.model}.`);
    if (
      body.parameters !== undefined &&
      (!isObject(body.parameters) || (body.parameters.truncate !== undefined && !['END', 'NONE'].includes(body.parameters.truncate)))
    ) {
      return bad('Invalid parameter value for truncate: must be one of END, NONE.');
    }
    return { query: body.query, texts };
  },
  answer: (body, scored) => ({
    model: body.model,
    data: topOf(scored, body.top_n).map((s) => ({
      index: s.index,
      score: s.score,
      ...(body.return_documents === false ? {} : { document: body.documents[s.index] }),
    })),
    usage: { rerank_units: 1 },
  }),
  error: (status, message) => ({ error: { code: PINECONE_CODES[status] ?? 'UNKNOWN', message }, status }),
  notFound: (path) => ({ status: 404, body: pinecone.error(404, `Not found: ${path}`) }),
};

const DIALECTS: Record<RerankService, Dialect> = { cohere, jina, voyage, vllm, tei, pinecone };

const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class RerankFakeServer extends JsonServiceFakeServer {
  readonly service: RerankService;

  readonly #dialect: Dialect;
  readonly #options: RerankFakeOptions;

  private constructor(service: RerankService, options: RerankFakeOptions) {
    super(MAX_BODY_BYTES);
    this.service = service;
    this.#dialect = DIALECTS[service];
    this.#options = options;
  }

  static start(service: RerankService, options: RerankFakeOptions = {}): Promise<RerankFakeServer> {
    return this.listening(new RerankFakeServer(service, options));
  }

  /** The API root as the type's `baseUrl` takes it (`http://127.0.0.1:<port>`, Voyage: with `/v1`). */
  get baseUrl(): string {
    return `${this.origin}${this.#dialect.basePath}`;
  }

  /** The per-request document limit this fake enforces. */
  get maxDocuments(): number {
    return this.#options.maxDocuments ?? this.#dialect.defaultMaxDocuments;
  }

  protected override get label(): string {
    return `fake ${this.service}`;
  }

  protected override bodyTooLarge(res: ServerResponse, request: RecordedRequest): void {
    this.sendError(res, request, 413, 'Request body too large');
  }

  protected defaultErrorMessage(status: number): string {
    return `Fake error ${status}`;
  }

  protected sendError(res: ServerResponse, request: RecordedRequest, status: number, message: string, headers?: Record<string, string>): void {
    this.#send(res, request, { status, body: this.#dialect.error(status, message), headers });
  }

  protected serve(request: RecordedRequest, res: ServerResponse, script: AnswerScript): void {
    const send = (reply: Reply) => this.#send(res, request, reply);
    const path = request.pathname;
    const ping = this.#dialect.ping;
    if (request.method === 'GET' && ping && path === ping.path) {
      const denied = ping.auth && this.#options.apiKey !== undefined ? this.#dialect.checkAuth(request.headers, this.#options.apiKey) : undefined;
      return send(denied ?? { status: 200, body: ping.answer });
    }
    if (request.method !== 'POST' || !this.#dialect.paths.includes(path)) return send(this.#dialect.notFound(`${request.method} ${path}`));
    if (this.#options.apiKey !== undefined) {
      const denied = this.#dialect.checkAuth(request.headers, this.#options.apiKey);
      if (denied) return send(denied);
    }
    if (request.invalidJson) return this.sendError(res, request, 400, 'Could not parse the JSON body');
    const parsed = this.#dialect.parse(request.body, this.maxDocuments, this.#options);
    if ('status' in parsed) return send(parsed);
    const scored = parsed.texts
      .map((text, index) => ({ index, text, score: fakeRerankScore(parsed.query, text) }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
    const answer = this.#dialect.answer(request.body, scored, request.seq);
    this.answerJson(res, request, answer, script);
  }

  #send(res: ServerResponse, request: RecordedRequest, reply: Reply): void {
    // An empty-string body is sent as nothing at all (TEI's bare 401).
    if (reply.body === '') return this.sendRaw(res, request, reply.status, '', 'text/plain', reply.headers);
    this.sendJson(res, request, reply.status, reply.body, reply.headers);
  }
}
