import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fake OpenAI API on 127.0.0.1 (random port) speaking OpenAI's wire format: chat completions
 * (JSON and SSE), embeddings (float and base64), models. It records every request and can be
 * scripted per test: errors, delays, raw bodies, streams that hang, requests that hang forever.
 */

export interface RecordedRequest {
  readonly seq: number;
  readonly method: string;
  /** Path with query, as received (`/v1/chat/completions`). */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when there was none or it did not parse. */
  body: any;
  rawBody: string;
  /** True when the client closed the connection before the answer ended. */
  aborted: boolean;
  /** True once the answer was fully written. */
  finished: boolean;
}

/** An OpenAI error body, as `{error: {message, type, param, code}}`. */
export interface FakeErrorBody {
  message: string;
  type?: string;
  param?: string | null;
  code?: string | null;
}

/** What the server does with one request, in place of its normal answer. */
export type FakeBehaviour =
  /** Answer `status` with an OpenAI error body (or `body` as raw text) and extra headers. */
  | { kind: 'error'; status: number; error?: FakeErrorBody; body?: string; headers?: Record<string, string> }
  /** Answer `status` with this exact body and content type (malformed JSON, HTML pages, ...). */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Wait, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Never answer. `afterHeaders`: send 200 headers (non-streaming) first. For streams, `afterChunks` SSE chunks first. */
  | { kind: 'hang'; afterHeaders?: boolean; afterChunks?: number }
  /** Answer normally, but pass the JSON answer (non-streaming) or the list of SSE data lines (streaming) through `fn` first. */
  | { kind: 'mutate'; json?: (answer: any) => any; sse?: (lines: string[]) => string[] };

export interface FakeServerOptions {
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else 401 like OpenAI's. */
  apiKey?: string;
  /** Models listed by GET /v1/models. */
  models?: string[];
  /** Vector length when the request has no `dimensions`; default 8. */
  defaultDimensions?: number;
  /**
   * Azure OpenAI instead of OpenAI: routes under `/openai/deployments/<deployment>` (another
   * deployment: 404 DeploymentNotFound), the key in `api-key` (401 in Azure's words otherwise), and
   * `?api-version=<apiVersion>` required (404 Resource not found otherwise). Unset: OpenAI as before.
   */
  azure?: { deployment: string; apiVersion: string };
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_EMBEDDING_INPUTS = 2048;

export class OpenAIFakeServer {
  readonly requests: RecordedRequest[] = [];
  /** Answer every embeddings request with float arrays, whatever `encoding_format` asked (old servers do). */
  ignoreEncodingFormat = false;

  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #queue: FakeBehaviour[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #options: FakeServerOptions;
  #port = 0;
  #seq = 0;

  private constructor(options: FakeServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: FakeServerOptions = {}): Promise<OpenAIFakeServer> {
    const fake = new OpenAIFakeServer(options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  /** The API root, as `baseUrl` takes it: `http://127.0.0.1:<port>/v1`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  /** Azure mode: the resource endpoint, as `endpoint` takes it: `http://127.0.0.1:<port>`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get lastRequest(): RecordedRequest | undefined {
    return this.requests[this.requests.length - 1];
  }

  /** Uses `behaviour` for the next `times` requests (after those already queued). */
  enqueue(behaviour: FakeBehaviour, times = 1): this {
    for (let i = 0; i < times; i++) this.#queue.push(behaviour);
    return this;
  }

  /** The next `times` requests get `status` with an OpenAI error body (and `headers`, e.g. retry-after). */
  failNext(status: number, error: Partial<FakeErrorBody> = {}, options: { times?: number; headers?: Record<string, string> } = {}): this {
    const body: FakeErrorBody = {
      message: error.message ?? `Fake error ${status}`,
      type: error.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: error.param ?? null,
      code: error.code ?? null,
    };
    return this.enqueue({ kind: 'error', status, error: body, headers: options.headers }, options.times ?? 1);
  }

  /** The next request is never answered (until the client gives up or the server closes). */
  hangNext(options: { afterHeaders?: boolean; afterChunks?: number } = {}): this {
    return this.enqueue({ kind: 'hang', ...options });
  }

  delayNext(ms: number): this {
    return this.enqueue({ kind: 'delay', ms });
  }

  /** Forgets recorded requests and scripted behaviours (between tests). */
  reset(): void {
    this.requests.length = 0;
    this.#queue.length = 0;
    this.ignoreEncodingFormat = false;
  }

  /** Resolves once `predicate` holds for the recorded requests; rejects after `timeoutMs`. */
  waitFor(predicate: (requests: readonly RecordedRequest[]) => boolean, timeoutMs = 2000): Promise<void> {
    if (predicate(this.requests)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.requests)) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`fake server: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Resolves once the client has closed the connection of request `seq` (default: the last one) before its end. */
  waitForClientAbort(seq?: number, timeoutMs = 2000): Promise<void> {
    return this.waitFor((reqs) => {
      const target = seq === undefined ? reqs[reqs.length - 1] : reqs.find((r) => r.seq === seq);
      return !!target?.aborted;
    }, timeoutMs);
  }

  /** Stops listening and destroys every open connection, hanging ones included. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: RecordedRequest = {
      seq: ++this.#seq,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: undefined,
      rawBody: '',
      aborted: false,
      finished: false,
    };
    res.on('finish', () => {
      record.finished = true;
      this.#notify();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        record.aborted = true;
        this.#notify();
      }
    });

    const raw = await readBody(req).catch(() => undefined);
    if (raw === undefined) {
      sendError(res, 413, { message: 'Request body too large.', type: 'invalid_request_error' });
      return;
    }
    record.rawBody = raw;
    let parseFailed = false;
    if (raw.length > 0) {
      try {
        record.body = JSON.parse(raw);
      } catch {
        parseFailed = true;
      }
    }
    this.requests.push(record);
    this.#notify();

    const behaviour = this.#queue.shift();
    if (behaviour?.kind === 'delay') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          resolve();
        }, behaviour.ms);
        this.#timers.add(timer);
      });
      if (res.destroyed) return;
    }
    if (behaviour?.kind === 'error') {
      if (behaviour.body !== undefined) sendRaw(res, behaviour.status, behaviour.body, 'application/json', behaviour.headers);
      else sendError(res, behaviour.status, behaviour.error ?? { message: `Fake error ${behaviour.status}` }, behaviour.headers);
      return;
    }
    if (behaviour?.kind === 'raw') {
      sendRaw(res, behaviour.status, behaviour.body, behaviour.contentType ?? 'application/json', behaviour.headers);
      return;
    }

    const azure = this.#options.azure;
    if (azure && this.#options.apiKey !== undefined && req.headers['api-key'] !== this.#options.apiKey) {
      // Azure's words; it never echoes the key.
      sendJson(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } });
      return;
    }
    if (!azure && this.#options.apiKey !== undefined) {
      const auth = req.headers.authorization;
      if (auth !== `Bearer ${this.#options.apiKey}`) {
        const given = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
        // Like OpenAI's: the start and end of the key that was sent, the middle masked.
        const message = given
          ? `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        sendError(res, 401, { message, type: 'invalid_request_error', param: null, code: given ? 'invalid_api_key' : null });
        return;
      }
    }

    if (parseFailed) {
      sendError(res, 400, {
        message: 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)',
        type: 'invalid_request_error',
      });
      return;
    }

    let route = `${record.method} ${record.path.split('?')[0]}`;
    if (azure) {
      const url = new URL(record.path, 'http://fake');
      const match = /^\/openai\/deployments\/([^/]+)(\/.*)$/.exec(url.pathname);
      if (url.searchParams.get('api-version') !== azure.apiVersion || !match) {
        return sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } });
      }
      if (decodeURIComponent(match[1]!) !== azure.deployment) {
        return sendJson(res, 404, {
          error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.' },
        });
      }
      // The rest is OpenAI's API, under the deployment.
      route = `${record.method} /v1${match[2]}`;
    }
    const hang = behaviour?.kind === 'hang' ? behaviour : undefined;
    const mutate = behaviour?.kind === 'mutate' ? behaviour : undefined;
    switch (route) {
      case 'POST /v1/chat/completions':
        return this.#chat(record.body, res, hang, mutate);
      case 'POST /v1/embeddings':
        return this.#embeddings(record.body, res, hang, mutate);
      case 'GET /v1/models':
        if (hang) return hangResponse(res, hang);
        return sendJson(res, 200, {
          object: 'list',
          data: (this.#options.models ?? ['gpt-4o-mini', 'text-embedding-3-small']).map((id) => ({
            id, object: 'model', created: 1_700_000_000, owned_by: 'fake',
          })),
        });
      default:
        return sendError(res, 404, { message: `Invalid URL (${record.method} ${record.path})`, type: 'invalid_request_error' });
    }
  }

  #chat(body: any, res: ServerResponse, hang?: Extract<FakeBehaviour, { kind: 'hang' }>, mutate?: Extract<FakeBehaviour, { kind: 'mutate' }>): void {
    if (!isObject(body) || typeof body.model !== 'string' || body.model === '') {
      return sendError(res, 400, { message: 'you must provide a model parameter', type: 'invalid_request_error' });
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return sendError(res, 400, { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' });
    }
    if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true) {
      return sendError(res, 400, {
        message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        type: 'invalid_request_error', param: 'stream_options', code: null,
      });
    }
    const seq = this.#seq;
    const id = `chatcmpl-fake${seq}`;
    const created = 1_700_000_000 + seq;
    const { words, finishReason } = replyWords(body);
    const promptTokens = body.messages.reduce((n: number, m: any) => n + countWords(textOf(m?.content)), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length };

    if (body.stream !== true) {
      if (hang) return hangResponse(res, hang);
      let answer: any = {
        id, object: 'chat.completion', created, model: body.model,
        choices: [{
          index: 0,
          message: { role: 'assistant', content: words.join(' '), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: finishReason,
        }],
        usage: {
          ...usage,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      };
      if (mutate?.json) answer = mutate.json(answer);
      return sendJson(res, 200, answer);
    }

    // Streaming, as OpenAI does it: a role chunk, one chunk per piece of content, a finish chunk,
    // then (include_usage) a chunk with empty choices and the usage; every other chunk has usage: null.
    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
      id, object: 'chat.completion.chunk', created, model: body.model, service_tier: 'default', system_fingerprint: 'fp_fake',
      choices, ...(includeUsage ? { usage: null } : {}), ...extra,
    });
    const chunks: unknown[] = [
      chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
      ...words.map((word, i) => chunk([{ index: 0, delta: { content: i === 0 ? word : ` ${word}` }, logprobs: null, finish_reason: null }])),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }]),
    ];
    if (includeUsage) chunks.push(chunk([], { usage }));
    let lines = [...chunks.map((c) => JSON.stringify(c)), '[DONE]'];
    if (mutate?.sse) lines = mutate.sse(lines);

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_fake${seq}`,
    });
    if (hang) {
      res.flushHeaders();
      for (const line of lines.slice(0, hang.afterChunks ?? 0)) res.write(`data: ${line}\n\n`);
      return; // and never end
    }
    for (const line of lines) res.write(`data: ${line}\n\n`);
    res.end();
  }

  #embeddings(body: any, res: ServerResponse, hang?: Extract<FakeBehaviour, { kind: 'hang' }>, mutate?: Extract<FakeBehaviour, { kind: 'mutate' }>): void {
    if (!isObject(body) || typeof body.model !== 'string' || body.model === '') {
      return sendError(res, 400, { message: 'you must provide a model parameter', type: 'invalid_request_error' });
    }
    const inputs: unknown[] = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : [];
    if (inputs.length === 0 || inputs.some((x) => (typeof x === 'string' ? x === '' : !Array.isArray(x)))) {
      return sendError(res, 400, {
        message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        type: 'invalid_request_error',
      });
    }
    if (inputs.length > MAX_EMBEDDING_INPUTS) {
      return sendError(res, 400, {
        message: `'$.input' is invalid: ${inputs.length} inputs given, the maximum is ${MAX_EMBEDDING_INPUTS}.`,
        type: 'invalid_request_error', param: 'input',
      });
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      return sendError(res, 400, {
        message: `'${String(format)}' is not one of ['float', 'base64'] - 'encoding_format'`,
        type: 'invalid_request_error', param: 'encoding_format',
      });
    }
    const dims = body.dimensions ?? this.#options.defaultDimensions ?? 8;
    if (!Number.isInteger(dims) || dims < 1) {
      return sendError(res, 400, { message: `Invalid value for 'dimensions' = ${String(dims)}. Must be an integer >= 1.`, type: 'invalid_request_error', param: 'dimensions' });
    }
    if (hang) return hangResponse(res, hang);
    const base64 = format === 'base64' && !this.ignoreEncodingFormat;
    const tokens = inputs.reduce<number>((n, x) => n + (typeof x === 'string' ? countWords(x) : (x as unknown[]).length), 0);
    let answer: any = {
      object: 'list',
      data: inputs.map((input, index) => {
        const vector = fakeEmbedding(typeof input === 'string' ? input : JSON.stringify(input), dims);
        return { object: 'embedding', index, embedding: base64 ? encodeFloat32(vector) : vector };
      }),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
    if (mutate?.json) answer = mutate.json(answer);
    sendJson(res, 200, answer);
  }
}

/** The reply the fake gives: "echo: " and the last user message (cut to `max_tokens` words). */
export function fakeReply(lastUserText: string): string {
  return `echo: ${lastUserText}`;
}

function replyWords(body: any): { words: string[]; finishReason: 'stop' | 'length' } {
  const lastUser = [...body.messages].reverse().find((m: any) => m?.role === 'user');
  const words = fakeReply(textOf(lastUser?.content)).split(/\s+/).filter(Boolean);
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (Number.isInteger(limit) && limit >= 1 && words.length > limit) return { words: words.slice(0, limit), finishReason: 'length' };
  return { words, finishReason: 'stop' };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: any) => (p?.type === 'text' && typeof p.text === 'string' ? p.text : '')).join(' ');
  return '';
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/**
 * The fake's vector for `text`: deterministic (FNV-1a seed, mulberry32), unit length, every value
 * exactly representable as float32 (so base64 round trips compare equal).
 */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193) >>> 0;
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const raw = Array.from({ length: dimensions }, () => next() * 2 - 1);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((x) => Math.fround(x / norm));
}

/** Little-endian float32, base64: what OpenAI sends for `encoding_format: base64`. */
export function encodeFloat32(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

function maskKey(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(new Error('body too large'));
      } else parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

let requestIds = 0;

function sendRaw(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-request-id': `req_fake_${++requestIds}`,
    ...headers,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  sendRaw(res, status, JSON.stringify(value), 'application/json', headers);
}

function sendError(res: ServerResponse, status: number, error: FakeErrorBody, headers?: Record<string, string>): void {
  sendJson(res, status, { error: { message: error.message, type: error.type ?? 'invalid_request_error', param: error.param ?? null, code: error.code ?? null } }, headers);
}

/** A non-streaming answer that never comes (optionally after its headers). */
function hangResponse(res: ServerResponse, hang: { afterHeaders?: boolean }): void {
  if (hang.afterHeaders) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
  }
}
