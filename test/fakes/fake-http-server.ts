import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The plumbing of the Anthropic and Gemini fakes: a node:http server on 127.0.0.1 (random port)
 * that records every request, takes a queue of scripted behaviours, streams server-sent events,
 * and destroys every socket on close(). The service's own routes, bodies and errors are the
 * subclass's.
 */

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

/** What the server does with one request, in place of its normal answer. */
export type FakeBehaviour =
  /** Answer `status` with this JSON body (or a function of the request, for services whose error shape varies by route), and extra headers. */
  | { kind: 'error'; status: number; body: unknown | ((request: RecordedRequest) => unknown); headers?: Record<string, string> }
  /** Answer `status` with this exact body and content type (malformed JSON, HTML pages, ...). */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Wait, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Never answer. `afterHeaders`: send 200 headers first (non-streaming). Streams: `afterEvents` events first. */
  | { kind: 'hang'; afterHeaders?: boolean; afterEvents?: number }
  /** Answer normally, but pass the JSON answer (non-streaming) or the list of events (streaming) through these first. */
  | { kind: 'mutate'; json?: (answer: any) => any; events?: (frames: SseFrame[]) => SseFrame[] };

export type Hang = Extract<FakeBehaviour, { kind: 'hang' }>;
export type Mutate = Extract<FakeBehaviour, { kind: 'mutate' }>;

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export abstract class FakeHttpServer {
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #queue: FakeBehaviour[] = [];
  readonly #waiters = new Set<() => void>();
  #port = 0;
  #seq = 0;

  protected constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  protected async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>`, without a path. */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get lastRequest(): RecordedRequest | undefined {
    return this.requests[this.requests.length - 1];
  }

  /** Uses `behaviour` for the next `times` requests (after those already queued). */
  enqueue(behaviour: FakeBehaviour, times = 1): this {
    for (let i = 0; i < times; i++) this.#queue.push(behaviour);
    return this;
  }

  /** The next request is never answered (until the client gives up or the server closes). */
  hangNext(options: { afterHeaders?: boolean; afterEvents?: number } = {}): this {
    return this.enqueue({ kind: 'hang', ...options });
  }

  delayNext(ms: number): this {
    return this.enqueue({ kind: 'delay', ms });
  }

  /** Forgets recorded requests and scripted behaviours (between tests). */
  reset(): void {
    this.requests.length = 0;
    this.#queue.length = 0;
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

  /** Resolves once the client has closed the connection of the last request before its end. */
  waitForClientAbort(timeoutMs = 2000): Promise<void> {
    return this.waitFor((reqs) => !!reqs[reqs.length - 1]?.aborted, timeoutMs);
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

  /**
   * The service: auth, validation, the answer. Called after scripted errors, raw answers and delays
   * have been dealt with; `hang` and `mutate` are passed on for it to apply.
   */
  protected abstract route(request: RecordedRequest, res: ServerResponse, script: { hang?: Hang; mutate?: Mutate }): void;

  /** Extra headers of every answer (request ids). */
  protected answerHeaders(_request: RecordedRequest): Record<string, string> {
    return {};
  }

  protected sendJson(res: ServerResponse, request: RecordedRequest, status: number, value: unknown, headers?: Record<string, string>): void {
    this.sendRaw(res, request, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
  }

  protected sendRaw(res: ServerResponse, request: RecordedRequest, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      ...this.answerHeaders(request),
      ...headers,
    });
    res.end(body);
  }

  /** A JSON answer, or never one (`hang`), after `mutate`. */
  protected answerJson(res: ServerResponse, request: RecordedRequest, answer: unknown, script: { hang?: Hang; mutate?: Mutate }): void {
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
  protected answerSse(res: ServerResponse, request: RecordedRequest, frames: SseFrame[], script: { hang?: Hang; mutate?: Mutate }): void {
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

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
      res.destroy();
      return;
    }
    record.rawBody = raw;
    if (raw.length > 0) {
      try {
        record.body = JSON.parse(raw);
      } catch {
        // Left undefined: the service answers its own "invalid JSON" error.
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
      const body = typeof behaviour.body === 'function' ? (behaviour.body as (r: RecordedRequest) => unknown)(record) : behaviour.body;
      return this.sendJson(res, record, behaviour.status, body, behaviour.headers);
    }
    if (behaviour?.kind === 'raw') {
      return this.sendRaw(res, record, behaviour.status, behaviour.body, behaviour.contentType ?? 'application/json', behaviour.headers);
    }
    this.route(record, res, {
      hang: behaviour?.kind === 'hang' ? behaviour : undefined,
      mutate: behaviour?.kind === 'mutate' ? behaviour : undefined,
    });
  }
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
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
