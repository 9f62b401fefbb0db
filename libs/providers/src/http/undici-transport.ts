import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import { abortErrorOf } from '../core/abort.js';
import type { HttpTransport, SseEvent, TransportRequest, TransportResponse } from '../core/transport.js';

type Body = Dispatcher.ResponseData['body'];

export interface UndiciTransportOptions {
  /** Idle keep-alive connections are closed after this long, ms; default 4000 (undici's). */
  keepAliveTimeoutMs?: number;
  /** Connections per origin at most; default unlimited. */
  connectionsPerOrigin?: number;
}

/**
 * The transport of every HTTP provider type, on undici (Node's own HTTP engine): one keep-alive pool
 * per origin. It sets no timeouts of its own: deadlines, attempt and idle timeouts are the call
 * policy's, through the request's signal. undici is loaded with the first request, not at import.
 */
export class UndiciTransport implements HttpTransport {
  #agent?: Promise<Dispatcher>;
  #closed = false;

  constructor(private readonly options: UndiciTransportOptions = {}) {}

  async request(request: TransportRequest): Promise<TransportResponse> {
    if (request.signal.aborted) throw abortErrorOf(request.signal);
    if (this.#closed) throw new Error('the HTTP transport is closed');
    const agent = await (this.#agent ??= this.#createAgent());
    const url = new URL(request.url);
    const { statusCode, headers, body } = await agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    });
    return new UndiciResponse(statusCode, headers, body);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const agent = this.#agent;
    this.#agent = undefined;
    if (agent) await (await agent).close();
  }

  async #createAgent(): Promise<Dispatcher> {
    const { Agent } = await import('undici');
    return new Agent({
      keepAliveTimeout: this.options.keepAliveTimeoutMs ?? 4_000,
      connections: this.options.connectionsPerOrigin ?? null,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }
}

class UndiciResponse implements TransportResponse {
  constructor(
    readonly status: number,
    private readonly headers: Record<string, string | string[] | undefined>,
    private readonly body: Body,
  ) {}

  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  async text(maxBytes: number, tooLarge: () => Error): Promise<string> {
    const length = Number(this.header('content-length'));
    if (Number.isFinite(length) && length > maxBytes) {
      this.discard();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of this.body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) throw tooLarge();
        chunks.push(chunk);
      }
    } finally {
      if (!this.body.readableEnded) this.body.destroy();
    }
    return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, total).toString('utf8');
  }

  async *events(maxEventBytes: number, tooLarge: () => Error): AsyncGenerator<SseEvent> {
    const reader = new SseReader(maxEventBytes, tooLarge);
    // Decoded piece by piece; a character split between two pieces waits for the next one.
    const decoder = new StringDecoder('utf8');
    try {
      for await (const bytes of this.body as AsyncIterable<Buffer>) {
        const events = reader.push(decoder.write(bytes));
        for (let i = 0; i < events.length; i++) yield events[i]!;
      }
      const last = reader.end();
      if (last) yield last;
    } finally {
      // Stopping early (break, error, abort) must close the connection.
      if (!this.body.readableEnded) this.body.destroy();
    }
  }

  discard(): void {
    // undici destroys an unread body with an error, emitted a tick later: with nobody listening, it
    // would be an uncaught exception.
    this.body.on('error', ignore);
    this.body.destroy();
  }
}

/**
 * Server-sent events from text as it arrives, in time linear in its size: each piece is scanned once
 * for line ends, and a line that spans pieces is joined once, when it ends.
 */
export class SseReader {
  #partial: string[] = [];
  #partialLength = 0;
  #data: string[] = [];
  #event: string | undefined;
  #eventLength = 0;

  constructor(
    private readonly maxEventBytes: number,
    private readonly tooLarge: () => Error,
  ) {}

  /** The events that the text completes. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    for (let end = text.indexOf('\n', start); end >= 0; end = text.indexOf('\n', start)) {
      let line = text.slice(start, end);
      if (this.#partial.length > 0) {
        this.#partial.push(line);
        line = this.#partial.join('');
        this.#partial = [];
        this.#partialLength = 0;
      }
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const event = this.#line(line);
      if (event) out.push(event);
      start = end + 1;
    }
    if (start < text.length) {
      const rest = start === 0 ? text : text.slice(start);
      this.#partial.push(rest);
      this.#partialLength += rest.length;
      if (this.#eventLength + this.#partialLength > this.maxEventBytes) throw this.tooLarge();
    }
    return out;
  }

  /** The event the stream ended in, when it did not end with a blank line. */
  end(): SseEvent | undefined {
    if (this.#partial.length > 0) {
      this.#line(this.#partial.join(''));
      this.#partial = [];
    }
    return this.#dispatch();
  }

  #line(line: string): SseEvent | undefined {
    if (line.length === 0) return this.#dispatch();
    this.#eventLength += line.length;
    if (this.#eventLength > this.maxEventBytes) throw this.tooLarge();
    if (line.charCodeAt(0) === 58 /* ':' comment */) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const data = this.#data;
    const event = this.#event;
    this.#data = [];
    this.#event = undefined;
    this.#eventLength = 0;
    if (event === undefined && data.length === 0) return undefined;
    return { event, data: data.length === 1 ? data[0]! : data.join('\n') };
  }
}

function ignore(): void {}
