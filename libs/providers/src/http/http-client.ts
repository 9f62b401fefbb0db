import { isAbortError, ProviderAbortError, ProviderError } from '../core/provider-error.js';
import { describeSite, siteOf } from '../core/call-site.js';
import type { DriverContext } from '../core/provider-definition.js';
import { redactSecrets } from '../core/redact.js';
import { boundedBody, DEFAULT_MAX_RESPONSE_BYTES, readBoundedText, responseTooLarge } from './response-limits.js';
import { badResponse, connectionError, describeValue, httpStatusError, upstreamMessage, type HttpCallSite } from './http-errors.js';

/** One server-sent event: its `event:` name (absent for plain `data:` events) and its data lines joined. */
export interface SseEvent {
  event?: string;
  data: string;
}

export interface HttpClientOptions {
  /** The API root, as the service's SDK takes it; paths are appended to it. */
  baseUrl: string;
  /** Sent with every request (auth, versions). Their values are treated as secrets. */
  headers?: Record<string, string>;
  /** Other values to keep out of every message (an API key sent in the body or the query). */
  secrets?: string[];
  /** The largest JSON answer, or event of a stream, to read; default the instance's `maxResponseBytes`. */
  maxResponseBytes?: number;
}

/**
 * The fetch-based client of the providers whose service has no SDK we use: JSON in, JSON out,
 * or a stream of server-sent events. It makes one attempt (retries are the library's), cancels
 * through the signal, and turns every failure into a ProviderError whose message names the
 * instance and never a secret.
 */
export class HttpClient {
  readonly site: HttpCallSite;
  readonly #headers: Record<string, string>;
  readonly #root: string;
  readonly #maxBytes: number;

  constructor(options: HttpClientOptions, context: Pick<DriverContext, 'kind' | 'name' | 'type' | 'maxResponseBytes'>) {
    this.#root = options.baseUrl.replace(/\/+$/, '');
    this.#maxBytes = options.maxResponseBytes ?? context.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    // A header's value is secret, and so is a Bearer token on its own (services echo it without the prefix).
    const headerValues = Object.values(options.headers ?? {});
    const tokens = headerValues.map((v) => /^Bearer\s+(.+)$/i.exec(v)?.[1]).filter((t): t is string => !!t);
    const secrets = [...headerValues, ...tokens, ...(options.secrets ?? [])].filter((s) => s.length > 0);
    this.site = { kind: context.kind, name: context.name, type: context.type, baseUrl: this.#root, secrets };
  }

  /** `POST {baseUrl}{path}` with a JSON body; resolves to the parsed JSON answer. */
  async postJson(path: string, body: unknown, signal: AbortSignal, extraHeaders?: Record<string, string>): Promise<unknown> {
    const response = await this.#send(path, body, signal, extraHeaders);
    const text = await this.#readText(response, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw badResponse(this.site, `expected JSON, got ${describeValue(text)} (${response.headers.get('content-type') ?? 'no content type'})`);
    }
  }

  /**
   * `GET` of a path under the API root, or of an absolute URL on the same server (a `/health` beside
   * a `/v1` root); resolves to the parsed JSON, or the text when the answer is not JSON.
   */
  async get(pathOrUrl: string, signal: AbortSignal, extraHeaders?: Record<string, string>): Promise<unknown> {
    const response = await this.#send(pathOrUrl, undefined, signal, extraHeaders, 'GET');
    const text = await this.#readText(response, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  /** The server's origin (`http://host:port`), for routes that live beside the API root. */
  get origin(): string {
    return new URL(this.#root).origin;
  }

  /** `POST {baseUrl}{path}` and read the answer as server-sent events, one at a time as they arrive. */
  async *postSse(path: string, body: unknown, signal: AbortSignal, extraHeaders?: Record<string, string>): AsyncGenerator<SseEvent> {
    const response = await this.#send(path, body, signal, { accept: 'text/event-stream', ...extraHeaders });
    const type = response.headers.get('content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      const text = await this.#readText(response, signal);
      throw badResponse(this.site, `expected an event stream, got ${type || 'no content type'}: ${upstreamMessage(text)}`);
    }
    if (!response.body) throw badResponse(this.site, 'the event stream has no body');
    const bounded = boundedBody(response.body, this.#maxBytes, true, () => responseTooLarge(this.site, this.#maxBytes, 'event'));
    const reader = bounded.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>).getReader();
    // The event being read, in pieces: joined only when a blank line ends it, so one large event
    // costs its size, not its size squared.
    let pieces: string[] = [];
    let tail = '';
    try {
      for (;;) {
        let read: ReadableStreamReadResult<string>;
        try {
          read = await reader.read();
        } catch (err) {
          throw this.#failure(err, signal, 'the stream from');
        }
        if (read.done) break;
        // A boundary may straddle two reads: look at the end of the last one too.
        const window = tail + read.value;
        pieces.push(read.value);
        tail = window.slice(-3);
        if (!/\r?\n\r?\n/.test(window)) continue;
        let buffer = pieces.join('');
        let end: RegExpExecArray | null;
        while ((end = /\r?\n\r?\n/.exec(buffer))) {
          const event = parseEvent(buffer.slice(0, end.index));
          buffer = buffer.slice(end.index + end[0].length);
          if (event) yield event;
        }
        pieces = buffer ? [buffer] : [];
        tail = buffer.slice(-3);
      }
      const last = parseEvent(pieces.join(''));
      if (last) yield last;
      if (signal.aborted) throw this.#failure(undefined, signal);
    } finally {
      // Stopping early (break, error, abort) must close the connection.
      reader.cancel().catch(() => undefined);
    }
  }

  /** An error of the call as a ProviderError of this site (for drivers' own checks). */
  error(message: string, init: { retryable?: boolean; code?: string; status?: number } = {}): ProviderError {
    return new ProviderError(redactSecrets(`${describeSite(this.site)}: ${message}`, this.site.secrets), {
      ...siteOf(this.site),
      retryable: init.retryable ?? false, code: init.code ?? 'bad-response', status: init.status,
    });
  }

  async #send(path: string, body: unknown, signal: AbortSignal, extraHeaders?: Record<string, string>, method: 'GET' | 'POST' = 'POST'): Promise<Response> {
    let response: Response;
    try {
      const url = /^https?:\/\//.test(path) ? path : `${this.#root}${path}`;
      // Credentials go to the configured server only.
      if (new URL(url).origin !== this.origin) throw new Error(`refusing to send to another server than ${this.origin}`);
      const { 'content-type': _type, ...getHeaders } = this.#headers;
      response = await fetch(url, {
        method,
        headers: { ...(method === 'GET' ? getHeaders : this.#headers), ...extraHeaders },
        body: method === 'GET' ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      throw this.#failure(err, signal);
    }
    if (!response.ok) {
      const text = await this.#readText(response, signal).catch(() => '');
      throw httpStatusError(this.site, response.status, response.headers, text);
    }
    return response;
  }

  async #readText(response: Response, signal: AbortSignal): Promise<string> {
    try {
      return await readBoundedText(response, this.#maxBytes, () => responseTooLarge(this.site, this.#maxBytes, 'answer'));
    } catch (err) {
      throw this.#failure(err, signal, 'the answer from');
    }
  }

  #failure(err: unknown, signal: AbortSignal, what = 'cannot reach'): Error {
    if (err instanceof ProviderError) return err;
    if (signal.aborted || isAbortError(err)) return new ProviderAbortError(`${describeSite(this.site)}: the call was aborted`);
    return connectionError(this.site, err, what === 'cannot reach' ? what : `${what} broke off:`);
  }
}

function parseEvent(block: string): SseEvent | undefined {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (event === undefined && data.length === 0) return undefined;
  return { event, data: data.join('\n') };
}
