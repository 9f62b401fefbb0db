import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fake of an HTTP service for tests of a provider type: a node:http server on 127.0.0.1 (a random
 * port) that answers as the service does, records every request, and can be told how to misbehave
 * next (an error in the service's own words, a raw body, a changed answer, a hang). The service's
 * wire format is the only part an author writes: a `FakeService`.
 *
 * ```ts
 * const fake = await ServiceFake.start(acmeService);
 * fake.failNext(429, 'slow down', { headers: { 'retry-after': '2' } });
 * ```
 */

/** One request as the fake received it. */
export interface FakeRequest {
  /** 1 for the first request the fake received, and so on. */
  readonly seq: number;
  readonly method: string;
  /** The path with its query, as received. */
  readonly path: string;
  /** The path without its query. */
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when there was none or it did not parse (see `rawBody`). */
  readonly body: any;
  readonly rawBody: string;
  /** True once the client closed the connection before the answer ended (an abort). */
  readonly aborted: boolean;
  /** True once the answer was written in full. */
  readonly finished: boolean;
}

/** How the fake answers one request. */
export interface FakeAnswer {
  /** Default 200. */
  status?: number;
  /** A JSON body (scripted `mutateNext` changes go through it). */
  json?: unknown;
  /** A body sent as it is, instead of `json`. */
  text?: string;
  /** Default `application/json`. */
  contentType?: string;
  headers?: Record<string, string>;
}

/** The wire format of a service: what an author writes to fake it. */
export interface FakeService {
  /** Where the API root sits on the fake, as the type's `baseUrl` takes it (`/v1` where the service's SDKs include it); default ''. */
  readonly basePath?: string;
  /**
   * Answers one request as the service does: its routes (a 404 for others), its auth check, its
   * validation of the body, its answer. Errors go in the service's own error body.
   */
  answer(request: FakeRequest): FakeAnswer | Promise<FakeAnswer>;
  /** The service's own error body around a message, for the failures a test scripts. */
  errorBody(status: number, message: string): unknown;
  /** The texts a request carries (embedding inputs, rerank documents), in order; undefined for a request that carries none (a ping). */
  inputsOf(request: FakeRequest): readonly string[] | undefined;
}

/** What the fake does with one request instead of answering as the service. */
export type FakeScript =
  /** `status` with the service's error body around `message`, plus `headers` (retry-after, ...). */
  | { kind: 'error'; status: number; message?: string; headers?: Record<string, string> }
  /** `status` with this exact body (malformed JSON, an HTML page, a wrong shape). */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** The normal answer, its JSON passed through `fn` first. */
  | { kind: 'mutate'; fn: (json: any) => any }
  /** The normal answer, after `ms`. */
  | { kind: 'delay'; ms: number }
  /** No answer at all, until the client gives up or the fake closes. */
  | { kind: 'hang' };

type MutableRequest = { -readonly [K in keyof FakeRequest]: FakeRequest[K] };

// Bodies of a few thousand texts are a few megabytes; this only stops a runaway client.
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class ServiceFake {
  readonly requests: FakeRequest[] = [];
  readonly #service: FakeService;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #waiters = new Set<() => void>();
  readonly #queue: FakeScript[] = [];
  #seq = 0;
  #port = 0;

  private constructor(service: FakeService) {
    this.#service = service;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts a fake of `service` on 127.0.0.1, on a port of its own. */
  static async start(service: FakeService): Promise<ServiceFake> {
    const fake = new ServiceFake(service);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  /** `http://127.0.0.1:<port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The API root, as the type's `baseUrl` takes it: the origin and the service's `basePath`. */
  get baseUrl(): string {
    return `${this.origin}${this.#service.basePath ?? ''}`;
  }

  get lastRequest(): FakeRequest | undefined {
    return this.requests.at(-1);
  }

  /** The texts a request carries, as the service reads them. */
  inputsOf(request: FakeRequest): readonly string[] | undefined {
    return this.#service.inputsOf(request);
  }

  /** The texts of every request that carried some, request by request. */
  get batches(): string[][] {
    return this.requests
      .map((r) => this.inputsOf(r))
      .filter((inputs) => inputs !== undefined)
      .map((inputs) => [...inputs]);
  }

  /** Uses `script` for the next `times` requests, after those already scripted. */
  enqueue(script: FakeScript, times = 1): this {
    for (let i = 0; i < times; i++) this.#queue.push(script);
    return this;
  }

  /** The next `times` requests get `status` with the service's error body (and `headers`, e.g. retry-after). */
  failNext(status: number, message?: string, options: { times?: number; headers?: Record<string, string> } = {}): this {
    return this.enqueue({ kind: 'error', status, message, headers: options.headers }, options.times ?? 1);
  }

  /** The next request gets this exact body. */
  rawNext(status: number, body: string, contentType = 'application/json'): this {
    return this.enqueue({ kind: 'raw', status, body, contentType });
  }

  /** The next request's normal JSON answer goes through `fn` first. */
  mutateNext(fn: (json: any) => any): this {
    return this.enqueue({ kind: 'mutate', fn });
  }

  /** The next request gets its normal answer after `ms`. */
  delayNext(ms: number): this {
    return this.enqueue({ kind: 'delay', ms });
  }

  /** The next request is never answered. */
  hangNext(): this {
    return this.enqueue({ kind: 'hang' });
  }

  /** Resolves once `predicate` holds for the recorded requests; rejects after `timeoutMs`. */
  waitFor(predicate: (requests: readonly FakeRequest[]) => boolean, timeoutMs = 2000): Promise<void> {
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
        reject(new Error(`fake service: the condition was not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Forgets the recorded requests and what was scripted. */
  reset(): void {
    this.requests.length = 0;
    this.#queue.length = 0;
  }

  /** Stops listening and drops every connection, hanging ones included. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#notify();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const request: MutableRequest = {
      seq: ++this.#seq,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      pathname: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: undefined,
      rawBody: '',
      aborted: false,
      finished: false,
    };
    res.on('finish', () => {
      request.finished = true;
      this.#notify();
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      request.aborted = true;
      this.#notify();
    });
    const raw = await readBody(req).catch(() => undefined);
    if (raw === undefined) return void res.destroy();
    request.rawBody = raw;
    request.body = parseJson(raw);
    this.requests.push(request);
    this.#notify();

    let script = this.#queue.shift();
    if (script?.kind === 'delay') {
      await this.#sleep(script.ms);
      if (res.destroyed) return;
      script = undefined;
    }
    if (script?.kind === 'hang') return;
    if (script?.kind === 'error') {
      const message = script.message ?? `fake error ${script.status}`;
      return send(res, { status: script.status, json: this.#service.errorBody(script.status, message), headers: script.headers });
    }
    if (script?.kind === 'raw') return send(res, { status: script.status, text: script.body, contentType: script.contentType, headers: script.headers });

    let answer: FakeAnswer;
    try {
      answer = await this.#service.answer(request);
    } catch (err) {
      // A bug in the fake, not the service's answer: shown as a 500 with what went wrong.
      answer = { status: 500, json: this.#service.errorBody(500, `the fake service threw: ${err instanceof Error ? err.message : String(err)}`) };
    }
    if (script?.kind === 'mutate' && answer.json !== undefined) answer = { ...answer, json: script.fn(answer.json) };
    send(res, answer);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.#timers.add(timer);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

function send(res: ServerResponse, answer: FakeAnswer): void {
  if (res.destroyed) return;
  const body = answer.text ?? (answer.json === undefined ? '' : JSON.stringify(answer.json));
  res.writeHead(answer.status ?? 200, {
    'content-type': answer.contentType ?? 'application/json',
    'content-length': Buffer.byteLength(body),
    ...answer.headers,
  });
  res.end(body);
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

function parseJson(raw: string): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
