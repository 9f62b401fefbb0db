import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeFloat32, FakeHttpBase, mulberry32, parseJson, readBody, writeAnswer } from './fake-http-server.js';

export { mulberry32 } from './fake-http-server.js';

/**
 * A fault-injecting upstream on 127.0.0.1 (random port), for the fault suite (issue 6).
 *
 * On the happy path it speaks three wire formats:
 * - OpenAI's `POST /v1/chat/completions`, JSON and SSE (a role chunk, one chunk per word, a finish
 *   chunk, a usage chunk when `stream_options.include_usage`, then `data: [DONE]`);
 * - OpenAI's `POST /v1/embeddings`, float arrays or `encoding_format: base64`;
 * - the vLLM/Cohere-shaped `POST /rerank` (and `/v1/rerank`): `{results: [{index, relevance_score}]}`.
 *
 * Per route it can be told to answer the next N requests, every request, or a seeded fraction p of
 * requests with a fault (see `Fault`). It records every request (route, times, fault, whether the
 * client went away) and counts attempts per route. Everything it does is bounded: bodies it reads and
 * writes have a size cap, a hung request is released after `maxHangMs` at the latest, and close()
 * destroys every socket and clears every timer.
 */

export type Route = 'chat' | 'embeddings' | 'rerank';

export type Fault =
  /** An HTTP error with an OpenAI error body; `retryAfter` (seconds) and `retryAfterMs` become the headers. */
  | { kind: 'status'; status: number; retryAfter?: number | string; retryAfterMs?: number; message?: string; headers?: Record<string, string> }
  /** The connection is destroyed after the request was read, before any answer. */
  | { kind: 'reset' }
  /** No answer at all, until the client goes away (or close(), or maxHangMs). */
  | { kind: 'hang' }
  /**
   * The answer starts and stops: 200 headers, then (streams) `afterChunks` SSE events or (JSON) the
   * first half of the body, then nothing, until the client goes away.
   */
  | { kind: 'stall'; afterChunks?: number }
  /** A 200 whose JSON body is cut in half (content-length matches what is sent: a complete HTTP answer). */
  | { kind: 'malformed-json' }
  /** Streams: `afterChunks` good events, then a `data:` line of broken JSON, then the rest and [DONE]. JSON routes: as malformed-json. */
  | { kind: 'malformed-sse'; afterChunks?: number }
  /**
   * A valid answer carrying `bytes` of padding (a JSON field `x_padding`), written in 64 KiB pieces with
   * backpressure, `delayMs` between pieces (a slow body). Streams: the padding sits inside the first
   * event, or, with `eventBytes`, is spread over extra chunks (`choices: []`) of that much padding each.
   */
  | { kind: 'huge'; bytes: number; delayMs?: number; eventBytes?: number }
  /** Waits `ms`, then answers normally. */
  | { kind: 'delay'; ms: number };

export type FaultKind = Fault['kind'];

export interface FaultRequest {
  readonly seq: number;
  readonly route: Route | 'unknown';
  readonly path: string;
  /** Chat requests with `stream: true`. */
  readonly stream: boolean;
  /** The parsed JSON body (undefined when it did not parse). */
  readonly body: any;
  /** The fault applied, if any. */
  readonly fault?: FaultKind;
  /** performance.now() when the request had been read. */
  readonly startedAt: number;
  /** performance.now() when the answer ended or the connection closed. */
  endedAt?: number;
  /** The client closed the connection before the answer ended (the server did not). */
  aborted: boolean;
  /** The answer was written completely. */
  finished: boolean;
  /** Bytes of body written for this request. */
  bytesWritten: number;
}

export interface WeightedFault {
  fault: Fault;
  weight: number;
}

export interface FaultServerOptions {
  /** Vector length when an embeddings request has no `dimensions`; default 8. */
  dimensions?: number;
  /** A hung or stalled request is released (socket destroyed) after this long at the latest; default 60 s. */
  maxHangMs?: number;
}

interface RoutePlan {
  queue: Fault[];
  always?: Fault;
  rate?: { p: number; faults: WeightedFault[]; total: number; random: () => number };
}

const ROUTES: readonly Route[] = ['chat', 'embeddings', 'rerank'];
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** The largest `huge` body the server agrees to write. */
export const MAX_HUGE_BYTES = 64 * 1024 * 1024;
const PIECE_BYTES = 64 * 1024;

export class FaultServer extends FakeHttpBase<FaultRequest> {
  readonly #plans = new Map<Route, RoutePlan>();
  readonly #options: Required<FaultServerOptions>;
  #seq = 0;

  private constructor(options: FaultServerOptions) {
    super();
    this.#options = { dimensions: options.dimensions ?? 8, maxHangMs: options.maxHangMs ?? 60_000 };
    for (const route of ROUTES) this.#plans.set(route, { queue: [] });
  }

  static start(options: FaultServerOptions = {}): Promise<FaultServer> {
    return this.listening(new FaultServer(options));
  }

  /** `http://127.0.0.1:<port>/v1`: the `baseUrl` of an openai-compatible instance (`origin`: that of a vLLM reranker). */
  get baseUrl(): string {
    return `${this.origin}/v1`;
  }

  /** The next `times` requests to `route` get `fault` (after those already queued). */
  next(route: Route, fault: Fault, times = 1): this {
    const plan = this.#plan(route);
    for (let i = 0; i < times; i++) plan.queue.push(fault);
    return this;
  }

  /** Every request to `route` gets `fault` (once the queue is empty); `undefined` turns it off. */
  always(route: Route, fault: Fault | undefined): this {
    this.#plan(route).always = fault;
    return this;
  }

  /**
   * A fraction `p` of the requests to `route` (once the queue is empty) get one of `faults`, picked by
   * weight; the draws come from a seeded generator, so the same request order gives the same faults.
   */
  rate(route: Route, p: number, faults: WeightedFault[], seed = 1): this {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`fault rate must be within [0, 1]; got ${p}`);
    const total = faults.reduce((sum, f) => sum + f.weight, 0);
    if (faults.length === 0 || !(total > 0)) throw new RangeError('fault rate needs faults with a positive total weight');
    this.#plan(route).rate = { p, faults, total, random: mulberry32(seed) };
    return this;
  }

  /** Forgets every fault plan and every recorded request. */
  override reset(): void {
    for (const route of ROUTES) this.#plans.set(route, { queue: [] });
    super.reset();
  }

  /** Requests received on `route` (every attempt counts, whatever its answer). */
  attempts(route?: Route): number {
    return route === undefined ? this.requests.length : this.requests.filter((r) => r.route === route).length;
  }

  /** Resolves once every request received so far has ended (answered, or the connection closed). */
  waitForIdle(timeoutMs = 2_000): Promise<void> {
    return this.waitFor((reqs) => reqs.every((r) => r.endedAt !== undefined), timeoutMs);
  }

  protected override get label(): string {
    return 'fault server';
  }

  /** A fault of the fake itself ends its connection. */
  protected override handlerFailed(_error: unknown, res: ServerResponse): void {
    res.destroy();
  }

  #plan(route: Route): RoutePlan {
    return this.#plans.get(route)!;
  }

  #choose(route: Route): Fault | undefined {
    const plan = this.#plan(route);
    const queued = plan.queue.shift();
    if (queued) return queued;
    if (plan.always) return plan.always;
    const rate = plan.rate;
    if (!rate || rate.random() >= rate.p) return undefined;
    let point = rate.random() * rate.total;
    for (const { fault, weight } of rate.faults) {
      point -= weight;
      if (point < 0) return fault;
    }
    return rate.faults[rate.faults.length - 1]!.fault;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, MAX_REQUEST_BYTES).catch(() => undefined);
    if (raw === undefined || this.closing) {
      res.destroy();
      return;
    }
    const body = parseJson(raw);
    const pathname = new URL(req.url ?? '/', 'http://fault').pathname;
    const route = routeOf(req.method ?? 'GET', pathname);
    const stream = route === 'chat' && body?.stream === true;
    const fault = route === 'unknown' ? undefined : this.#choose(route);
    const record: FaultRequest = {
      seq: ++this.#seq,
      route,
      path: pathname,
      stream,
      body,
      fault: fault?.kind,
      startedAt: performance.now(),
      aborted: false,
      finished: false,
      bytesWritten: 0,
    };
    let serverDestroyed = false;
    let hangTimer: NodeJS.Timeout | undefined;
    const destroy = () => {
      serverDestroyed = true;
      res.destroy();
    };
    res.on('finish', () => {
      record.finished = true;
    });
    res.on('close', () => {
      this.clearTimer(hangTimer);
      record.endedAt = performance.now();
      if (!res.writableFinished && !serverDestroyed && !this.closing) record.aborted = true;
      this.notify();
    });
    this.requests.push(record);
    this.notify();

    if (route === 'unknown')
      return this.#json(res, record, 404, { error: { message: `no route ${req.method} ${pathname}`, type: 'invalid_request_error', param: null, code: null } });
    if (body === undefined || typeof body !== 'object') {
      return this.#json(res, record, 400, { error: { message: 'the body is not a JSON object', type: 'invalid_request_error', param: null, code: null } });
    }
    /** Leaves the request unanswered, bounded by maxHangMs. */
    const hang = () => {
      hangTimer = this.timer(this.#options.maxHangMs, destroy);
    };

    switch (fault?.kind) {
      case 'status': {
        const headers: Record<string, string> = { ...fault.headers };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
        const type = fault.status === 429 ? 'rate_limit_error' : fault.status >= 500 ? 'server_error' : 'invalid_request_error';
        return this.#json(
          res,
          record,
          fault.status,
          { error: { message: fault.message ?? `injected fault: ${fault.status}`, type, param: null, code: null } },
          headers,
        );
      }
      case 'reset':
        return destroy();
      case 'hang':
        return hang();
      case 'delay':
        await this.sleep(fault.ms);
        if (res.destroyed || this.closing) return;
        break;
      default:
        break;
    }

    if (stream) return this.#stream(res, record, body, fault, hang);
    const answer = route === 'chat' ? chatAnswer(body) : route === 'embeddings' ? this.#embeddings(body) : rerankAnswer(body);
    if ('error' in answer) return this.#json(res, record, 400, answer);
    const text = JSON.stringify(answer);
    switch (fault?.kind) {
      case 'stall': {
        const part = text.slice(0, Math.floor(text.length / 2));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        this.#write(res, record, part);
        return hang();
      }
      case 'malformed-json':
      case 'malformed-sse':
        return this.#raw(res, record, 200, text.slice(0, Math.floor(text.length / 2)), 'application/json');
      case 'huge': {
        const bytes = hugeBytes(fault);
        const head = '{"x_padding":"';
        const tail = `",${text.slice(1)}`;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': head.length + bytes + Buffer.byteLength(tail) });
        return void this.#pump(res, record, [head, ...padding(bytes), tail], fault.delayMs ?? 0);
      }
      default:
        return this.#raw(res, record, 200, text, 'application/json');
    }
  }

  /** An SSE answer, with the stream faults applied. */
  #stream(res: ServerResponse, record: FaultRequest, body: any, fault: Fault | undefined, hang: () => void): void {
    const events = chatChunks(body);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_fault_${record.seq}` });
    res.flushHeaders();
    const send = (data: string) => this.#write(res, record, `data: ${data}\n\n`);
    switch (fault?.kind) {
      case 'stall':
        events.slice(0, fault.afterChunks ?? 1).forEach(send);
        return hang();
      case 'malformed-sse':
      case 'malformed-json': {
        const after = fault.kind === 'malformed-sse' ? (fault.afterChunks ?? 0) : 0;
        events.slice(0, after).forEach(send);
        send('{"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"');
        events.slice(after).forEach(send);
        send('[DONE]');
        res.end();
        return;
      }
      case 'huge': {
        const bytes = hugeBytes(fault);
        const sse = (e: string) => `data: ${e}\n\n`;
        const [first, ...rest] = events;
        const after = [...rest, '[DONE]'].map(sse).join('');
        if (fault.eventBytes === undefined) {
          return void this.#pump(res, record, ['data: {"x_padding":"', ...padding(bytes), `",${first!.slice(1)}\n\n${after}`], fault.delayMs ?? 0);
        }
        const size = Math.max(1, Math.floor(fault.eventBytes));
        const empty = JSON.stringify({ id: 'chatcmpl-fault', object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model, choices: [] });
        const padded = function* () {
          for (let left = bytes; left > 0; left -= size) {
            yield `data: {"x_padding":"`;
            yield* padding(Math.min(size, left));
            yield `",${empty.slice(1)}\n\n`;
          }
        };
        return void this.#pump(res, record, [sse(first!), ...padded(), after], fault.delayMs ?? 0);
      }
      default:
        events.forEach(send);
        send('[DONE]');
        res.end();
    }
  }

  /** Writes `pieces` in order, with backpressure and `delayMs` between them; stops when the client goes or the server closes. */
  async #pump(res: ServerResponse, record: FaultRequest, pieces: Iterable<string | Buffer>, delayMs: number): Promise<void> {
    // Bounded: the pieces come from a finite list (at most MAX_HUGE_BYTES of padding).
    for (const piece of pieces) {
      if (res.destroyed || this.closing) return;
      const drained = this.#write(res, record, piece);
      if (!drained) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (delayMs > 0 && typeof piece !== 'string') await this.sleep(delayMs);
    }
    if (res.destroyed || this.closing) return;
    res.end();
  }

  #write(res: ServerResponse, record: FaultRequest, data: string | Buffer): boolean {
    if (res.destroyed) return true;
    record.bytesWritten += Buffer.byteLength(data);
    return res.write(data);
  }

  #raw(res: ServerResponse, record: FaultRequest, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    if (writeAnswer(res, status, body, contentType, { 'x-request-id': `req_fault_${record.seq}`, ...headers })) record.bytesWritten += Buffer.byteLength(body);
  }

  #json(res: ServerResponse, record: FaultRequest, status: number, value: unknown, headers?: Record<string, string>): void {
    this.#raw(res, record, status, JSON.stringify(value), 'application/json', headers);
  }

  #embeddings(body: any): object {
    const inputs: unknown[] = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : [];
    if (typeof body.model !== 'string' || inputs.length === 0 || inputs.some((x) => typeof x !== 'string')) {
      return { error: { message: "'$.input' is invalid", type: 'invalid_request_error', param: 'input', code: null } };
    }
    const dims = body.dimensions ?? this.#options.dimensions;
    const base64 = body.encoding_format === 'base64';
    return {
      object: 'list',
      data: inputs.map((input, index) => {
        const vector = vectorOf(input as string, dims);
        return { object: 'embedding', index, embedding: base64 ? encodeFloat32(vector) : vector };
      }),
      model: body.model,
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    };
  }
}

function hugeBytes(fault: { bytes: number }): number {
  return Math.min(Math.max(0, Math.floor(fault.bytes)), MAX_HUGE_BYTES);
}

const PIECE = Buffer.alloc(PIECE_BYTES, 'x');

/** `bytes` of padding ('x'), in pieces of at most 64 KiB. */
function* padding(bytes: number): Generator<Buffer> {
  for (let left = bytes; left > 0; left -= PIECE_BYTES) yield left >= PIECE_BYTES ? PIECE : PIECE.subarray(0, left);
}

function routeOf(method: string, pathname: string): Route | 'unknown' {
  if (method !== 'POST') return 'unknown';
  if (pathname === '/v1/chat/completions') return 'chat';
  if (pathname === '/v1/embeddings') return 'embeddings';
  if (pathname === '/rerank' || pathname === '/v1/rerank') return 'rerank';
  return 'unknown';
}

/** The reply to a chat: "ok:" and the last user message. */
export function replyTo(body: any): string {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const last = [...messages].reverse().find((m) => m?.role === 'user');
  return `ok: ${typeof last?.content === 'string' ? last.content : ''}`.trim();
}

function chatAnswer(body: any): object {
  if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
    return { error: { message: 'model and messages are required', type: 'invalid_request_error', param: null, code: null } };
  }
  const content = replyTo(body);
  const completion = content.split(/\s+/).length;
  return {
    id: 'chatcmpl-fault',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: body.messages.length, completion_tokens: completion, total_tokens: body.messages.length + completion },
  };
}

/** The JSON of every SSE event of a streamed chat, [DONE] excluded. */
function chatChunks(body: any): string[] {
  const words = replyTo(body).split(/\s+/);
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: object = {}) =>
    JSON.stringify({
      id: 'chatcmpl-fault',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: body.model,
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    });
  const events = [
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
    ...words.map((w, i) => chunk([{ index: 0, delta: { content: i === 0 ? w : ` ${w}` }, logprobs: null, finish_reason: null }])),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
  ];
  const prompt = Array.isArray(body.messages) ? body.messages.length : 0;
  if (includeUsage) events.push(chunk([], { usage: { prompt_tokens: prompt, completion_tokens: words.length, total_tokens: prompt + words.length } }));
  return events;
}

function rerankAnswer(body: any): object {
  const documents: unknown[] = Array.isArray(body.documents) ? body.documents : [];
  if (typeof body.query !== 'string' || documents.some((d) => typeof d !== 'string')) {
    return { error: { message: 'query and documents are required', type: 'invalid_request_error', param: null, code: null } };
  }
  const results = documents
    .map((document, index) => ({ index, relevance_score: relevance(body.query, document as string) }))
    .sort((a, b) => b.relevance_score - a.relevance_score);
  const topN = Number.isInteger(body.top_n) ? body.top_n : results.length;
  return { id: 'rerank-fault', model: body.model ?? 'fault-reranker', results: results.slice(0, topN), usage: { total_tokens: documents.length } };
}

/** The fault server's score: the share of the query's words found in the document. */
export function relevance(query: string, document: string): number {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return 0;
  const doc = new Set(document.toLowerCase().split(/\s+/));
  return words.filter((w) => doc.has(w)).length / words.length;
}

/** A deterministic vector per text, every value exact in float32 (base64 round trips compare equal). */
export function vectorOf(text: string, dimensions: number): number[] {
  const random = mulberry32([...text].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0, 0x811c9dc5));
  return Array.from({ length: dimensions }, () => Math.fround(random() * 2 - 1));
}
