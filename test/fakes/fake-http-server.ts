import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The plumbing every fake upstream under test/fakes shares, in layers; the fakes themselves
 * keep only their service's wire format (paths, auth headers, body checks, answers, error bodies).
 *
 * - FakeHttpBase: a node:http server on 127.0.0.1 (random port) that tracks its sockets and its
 *   timers, keeps the recorded requests (with waitFor), and on close() destroys every socket and
 *   clears every timer. The fault server builds on this (its records and fault plans are its own).
 * - ScriptedFakeServer: the request pipeline of the service fakes (read the body, capped; parse it
 *   as JSON; record it; take the next scripted behaviour, serving a `delay` itself; hand the rest
 *   to the service), and the answer helpers (JSON, raw, server-sent events, hang, mutate). The
 *   OpenAI fake builds on this with a behaviour type of its own.
 * - FakeHttpServer: the behaviour set of the Anthropic and Gemini fakes (scripted JSON errors, raw
 *   answers, hangs, changes to the answer), passed on to the subclass's route().
 * - JsonServiceFakeServer: the behaviour set of the embedding and rerank fakes (errors in the
 *   service's own error body, raw answers, hangs, changes to the JSON answer), before serve().
 */

// ---------------------------------------------------------------------------------------------
// Layer 1: listen on 127.0.0.1, track sockets and timers, record, wait, close.

export abstract class FakeHttpBase<R> {
  readonly requests: R[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #accepted = 0;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #waiters = new Set<() => void>();
  #port = 0;
  #closing = false;

  protected constructor() {
    this.#server = createServer((req, res) => void this.handle(req, res).catch((error: unknown) => this.handlerFailed(error, res)));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      this.#accepted++;
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts `fake` listening on 127.0.0.1 (a random port); what each fake's static start() returns. */
  protected static async listening<T extends FakeHttpBase<any>>(fake: T): Promise<T> {
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  /** `http://127.0.0.1:<port>`, without a path. */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** Connections accepted since the server started. */
  get acceptedConnections(): number {
    return this.#accepted;
  }

  /** Sockets open on the server side right now. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  get lastRequest(): R | undefined {
    return this.requests[this.requests.length - 1];
  }

  /** True once close() has begun. */
  protected get closing(): boolean {
    return this.#closing;
  }

  /** How waitFor's timeout error names this fake. */
  protected get label(): string {
    return 'fake server';
  }

  /** Forgets recorded requests (between tests). */
  reset(): void {
    this.requests.length = 0;
  }

  /** Resolves once `predicate` holds for the recorded requests; rejects after `timeoutMs`. */
  waitFor(predicate: (requests: readonly R[]) => boolean, timeoutMs = 2000): Promise<void> {
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
        reject(new Error(`${this.label}: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Stops listening, destroys every open connection (hanging ones included) and clears every timer. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.notify();
  }

  /** One request, from its first byte. */
  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  /** What a throwing handle() leads to; by default an unhandled rejection, so the test run sees the fake's bug. */
  protected handlerFailed(error: unknown, _res: ServerResponse): void {
    throw error;
  }

  /** Re-checks every waitFor() (after a change to the recorded requests). */
  protected notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** A timer the server owns: cleared on close(), never keeping the process alive. */
  protected timer(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
    return timer;
  }

  protected clearTimer(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  /** Resolves after `ms`; never, if the server closes first. */
  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timer(ms, resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// Layer 2: the request pipeline and answers of the service fakes.

export interface RecordedRequest {
  readonly seq: number;
  readonly method: string;
  /** Path with query, as received. */
  readonly path: string;
  /** The path without its query. */
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when there was none or it did not parse. */
  body: any;
  rawBody: string;
  /** True when there was a body and it did not parse as JSON (the service answers its own error). */
  invalidJson: boolean;
  /** True when the client closed the connection before the answer ended. */
  aborted: boolean;
  /** True once the answer was fully written. */
  finished: boolean;
}

/** One server-sent event as written: `event:` (when named) and `data:`. */
export interface SseFrame {
  event?: string;
  data: string;
}

/** Wait `ms`, then answer normally: a behaviour every service fake takes. */
export type Delay = { kind: 'delay'; ms: number };

/** How an answer helper departs from the normal answer. */
export interface AnswerScript {
  /** Never answer: after 200 headers (`afterHeaders`, JSON), or after `afterEvents` events (streams). */
  hang?: { afterHeaders?: boolean; afterEvents?: number };
  /** Pass the JSON answer, or the list of events, through these first. */
  mutate?: { json?: (answer: any) => any; events?: (frames: SseFrame[]) => SseFrame[] };
}

const isDelay = (behaviour: { kind: string }): behaviour is Delay => behaviour.kind === 'delay';

export abstract class ScriptedFakeServer<B extends { kind: string }> extends FakeHttpBase<RecordedRequest> {
  readonly #queue: (B | Delay)[] = [];
  readonly #maxBodyBytes: number;
  #seq = 0;

  protected constructor(maxBodyBytes: number) {
    super();
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Uses `behaviour` for the next `times` requests (after those already queued). */
  enqueue(behaviour: B | Delay, times = 1): this {
    for (let i = 0; i < times; i++) this.#queue.push(behaviour);
    return this;
  }

  /** The next request waits `ms`, then gets its normal answer. */
  delayNext(ms: number): this {
    return this.enqueue({ kind: 'delay', ms });
  }

  /** Forgets recorded requests and scripted behaviours (between tests). */
  override reset(): void {
    super.reset();
    this.#queue.length = 0;
  }

  /** Resolves once the client has closed the connection of request `seq` (undefined: the last one) before its end. */
  protected waitForAbortOf(seq: number | undefined, timeoutMs: number): Promise<void> {
    return this.waitFor((reqs) => !!(seq === undefined ? reqs[reqs.length - 1] : reqs.find((r) => r.seq === seq))?.aborted, timeoutMs);
  }

  /**
   * The service: auth, validation, the answer, with the scripted `behaviour` (a delay has been
   * served already and comes as undefined).
   */
  protected abstract respond(request: RecordedRequest, res: ServerResponse, behaviour: B | undefined): void;

  /** A body over the size cap, or one the client broke off. By default the connection is dropped. */
  protected bodyTooLarge(res: ServerResponse, _request: RecordedRequest): void {
    res.destroy();
  }

  /** Extra headers of every answer (request ids). */
  protected answerHeaders(_request: RecordedRequest): Record<string, string> {
    return {};
  }

  /** The content type of JSON answers. */
  protected get jsonContentType(): string {
    return 'application/json';
  }

  protected sendRaw(
    res: ServerResponse,
    request: RecordedRequest,
    status: number,
    body: string,
    contentType: string,
    headers: Record<string, string> = {},
  ): void {
    writeAnswer(res, status, body, contentType, { ...this.answerHeaders(request), ...headers });
  }

  protected sendJson(res: ServerResponse, request: RecordedRequest, status: number, value: unknown, headers?: Record<string, string>): void {
    this.sendRaw(res, request, status, JSON.stringify(value), this.jsonContentType, headers);
  }

  /** A JSON answer, or never one (`hang`), after `mutate`. */
  protected answerJson(res: ServerResponse, request: RecordedRequest, answer: unknown, script: AnswerScript): void {
    if (script.hang) {
      if (script.hang.afterHeaders) {
        res.writeHead(200, { 'content-type': 'application/json', ...this.answerHeaders(request) });
        res.flushHeaders();
      }
      return;
    }
    this.sendJson(res, request, 200, script.mutate?.json ? script.mutate.json(answer) : answer);
  }

  /** An event stream of `frames` (after `mutate`), cut short and left open by `hang`. */
  protected answerSse(res: ServerResponse, request: RecordedRequest, frames: SseFrame[], script: AnswerScript): void {
    const events = script.mutate?.events ? script.mutate.events(frames) : frames;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...this.answerHeaders(request),
    });
    const write = (frame: SseFrame) => res.write(`${frame.event !== undefined ? `event: ${frame.event}\n` : ''}data: ${frame.data}\n\n`);
    if (script.hang) {
      res.flushHeaders();
      events.slice(0, script.hang.afterEvents ?? 0).forEach(write);
      return; // and never end
    }
    events.forEach(write);
    res.end();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const record: RecordedRequest = {
      seq: ++this.#seq,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      pathname: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: undefined,
      rawBody: '',
      invalidJson: false,
      aborted: false,
      finished: false,
    };
    res.on('finish', () => {
      record.finished = true;
      this.notify();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        record.aborted = true;
        this.notify();
      }
    });
    const raw = await readBody(req, this.#maxBodyBytes).catch(() => undefined);
    if (raw === undefined) return this.bodyTooLarge(res, record);
    record.rawBody = raw;
    record.body = parseJson(raw);
    record.invalidJson = raw.length > 0 && record.body === undefined;
    this.requests.push(record);
    this.notify();

    const behaviour = this.#queue.shift();
    if (behaviour && isDelay(behaviour)) {
      await this.sleep(behaviour.ms);
      if (res.destroyed) return;
      return this.respond(record, res, undefined);
    }
    this.respond(record, res, behaviour);
  }
}

// ---------------------------------------------------------------------------------------------
// Layer 3: the behaviours of the Anthropic and Gemini fakes.

/** What the server does with one request, in place of its normal answer. */
export type FakeBehaviour =
  /** Answer `status` with this JSON body (or a function of the request, for services whose error shape varies by route), and extra headers. */
  | { kind: 'error'; status: number; body: unknown | ((request: RecordedRequest) => unknown); headers?: Record<string, string> }
  /** Answer `status` with this exact body and content type (malformed JSON, HTML pages, ...). */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Wait, then answer normally. */
  | Delay
  /** Never answer. `afterHeaders`: send 200 headers first (non-streaming). Streams: `afterEvents` events first. */
  | { kind: 'hang'; afterHeaders?: boolean; afterEvents?: number }
  /** Answer normally, but pass the JSON answer (non-streaming) or the list of events (streaming) through these first. */
  | { kind: 'mutate'; json?: (answer: any) => any; events?: (frames: SseFrame[]) => SseFrame[] };

export type Hang = Extract<FakeBehaviour, { kind: 'hang' }>;
export type Mutate = Extract<FakeBehaviour, { kind: 'mutate' }>;

export abstract class FakeHttpServer extends ScriptedFakeServer<FakeBehaviour> {
  protected constructor() {
    super(16 * 1024 * 1024);
  }

  /** The next request is never answered (until the client gives up or the server closes). */
  hangNext(options: { afterHeaders?: boolean; afterEvents?: number } = {}): this {
    return this.enqueue({ kind: 'hang', ...options });
  }

  /** Resolves once the client has closed the connection of the last request before its end. */
  waitForClientAbort(timeoutMs = 2000): Promise<void> {
    return this.waitForAbortOf(undefined, timeoutMs);
  }

  /**
   * The service: auth, validation, the answer. Called after scripted errors, raw answers and delays
   * have been dealt with; `hang` and `mutate` are passed on for it to apply.
   */
  protected abstract route(request: RecordedRequest, res: ServerResponse, script: { hang?: Hang; mutate?: Mutate }): void;

  protected override get jsonContentType(): string {
    return 'application/json; charset=utf-8';
  }

  protected respond(request: RecordedRequest, res: ServerResponse, behaviour: FakeBehaviour | undefined): void {
    if (behaviour?.kind === 'error') {
      const body = typeof behaviour.body === 'function' ? (behaviour.body as (r: RecordedRequest) => unknown)(request) : behaviour.body;
      return this.sendJson(res, request, behaviour.status, body, behaviour.headers);
    }
    if (behaviour?.kind === 'raw') {
      return this.sendRaw(res, request, behaviour.status, behaviour.body, behaviour.contentType ?? 'application/json', behaviour.headers);
    }
    this.route(request, res, {
      hang: behaviour?.kind === 'hang' ? behaviour : undefined,
      mutate: behaviour?.kind === 'mutate' ? behaviour : undefined,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Layer 3: the behaviours of the JSON-only service fakes (embedding and rerank services).

/** What a JSON service fake does with one request, in place of its normal answer. */
export type JsonServiceBehaviour =
  /** Answer `status` with the service's own error body around `message` (or `body` as raw text), plus `headers` (retry-after, ...). */
  | { kind: 'error'; status: number; message?: string; body?: string; headers?: Record<string, string> }
  /** Answer `status` with this exact body (malformed JSON, an HTML page, a wrong shape). */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Wait, then answer normally. */
  | Delay
  /** Never answer. */
  | { kind: 'hang' }
  /** Answer normally, but pass the JSON answer through `fn` first. */
  | { kind: 'mutate'; fn: (answer: any) => any };

export abstract class JsonServiceFakeServer extends ScriptedFakeServer<JsonServiceBehaviour> {
  /** The next `times` requests get `status` with the service's error body (and `headers`, e.g. retry-after). */
  failNext(status: number, message?: string, options: { times?: number; headers?: Record<string, string> } = {}): this {
    return this.enqueue({ kind: 'error', status, message, headers: options.headers }, options.times ?? 1);
  }

  /** The next request gets this exact body (malformed JSON, an HTML page, a wrong shape). */
  rawNext(status: number, body: string, contentType = 'application/json'): this {
    return this.enqueue({ kind: 'raw', status, body, contentType });
  }

  /** The next request's normal JSON answer goes through `fn` first (to break it: an index out of range, a missing score, ...). */
  mutateNext(fn: (answer: any) => any): this {
    return this.enqueue({ kind: 'mutate', fn });
  }

  /** The next request is never answered (until the client gives up or the server closes). */
  hangNext(): this {
    return this.enqueue({ kind: 'hang' });
  }

  /** The message of a scripted error given none. */
  protected abstract defaultErrorMessage(status: number): string;

  /** Answers `status` with the service's own error body around `message`. */
  protected abstract sendError(res: ServerResponse, request: RecordedRequest, status: number, message: string, headers?: Record<string, string>): void;

  /** The service: route, auth, validation, the answer (through `mutate` when scripted: see answerJson). */
  protected abstract serve(request: RecordedRequest, res: ServerResponse, script: AnswerScript): void;

  protected respond(request: RecordedRequest, res: ServerResponse, behaviour: JsonServiceBehaviour | undefined): void {
    if (behaviour?.kind === 'hang') return;
    if (behaviour?.kind === 'error') {
      if (behaviour.body !== undefined) return this.sendRaw(res, request, behaviour.status, behaviour.body, 'application/json', behaviour.headers);
      return this.sendError(res, request, behaviour.status, behaviour.message ?? this.defaultErrorMessage(behaviour.status), behaviour.headers);
    }
    if (behaviour?.kind === 'raw') {
      return this.sendRaw(res, request, behaviour.status, behaviour.body, behaviour.contentType ?? 'application/json', behaviour.headers);
    }
    this.serve(request, res, { mutate: behaviour?.kind === 'mutate' ? { json: behaviour.fn } : undefined });
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers of every fake.

/** Reads the whole request body as UTF-8; rejects (and destroys the request) past `maxBytes`. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > maxBytes) {
        req.destroy();
        reject(new Error('body too large'));
      } else parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** The JSON value of `raw`; undefined when it is empty or does not parse. */
export function parseJson(raw: string): any {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** A complete answer with a content-length; nothing when the connection is gone. True when written. */
export function writeAnswer(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): boolean {
  if (res.destroyed) return false;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  return true;
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** 32-bit FNV-1a of the text's UTF-16 code units. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/** A small seeded generator: the same seed gives the same draws. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Little-endian float32, base64: what OpenAI sends for `encoding_format: base64`. */
export function encodeFloat32(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}
