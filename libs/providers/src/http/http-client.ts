import { describeSite, siteOf, type HttpCallSite } from '../core/call-site.js';
import { isAbortError, ProviderAbortError, ProviderError } from '../core/provider-error.js';
import { callContext } from '../core/call-context.js';
import { openTelemetry } from '../core/otel.js';
import type { DriverContext } from '../core/provider-definition.js';
import { redactSecrets } from '../core/redact.js';
import type { HttpTransport, SseEvent, TransportResponse } from '../core/transport.js';
import { badResponse, connectionError, describeValue, httpStatusError, upstreamMessage } from './http-errors.js';
import { DEFAULT_MAX_RESPONSE_BYTES, responseTooLarge } from './response-limits.js';
import { UndiciTransport } from './undici-transport.js';

export type { SseEvent } from '../core/transport.js';

export interface HttpClientOptions {
  /** The API root, as the service's SDK takes it; paths are appended to it. */
  baseUrl: string;
  /** Sent with every request (auth, versions). Their values are treated as secrets. */
  headers?: Record<string, string>;
  /**
   * Headers worked out for each request (a token that expires: Azure's Entra ID token). Their values
   * are secret too.
   */
  authorize?: () => Promise<Record<string, string>>;
  /** Other values to keep out of every message (an API key sent in the body or the query). */
  secrets?: string[];
  /** The largest JSON answer, or event of a stream, to read; default the instance's `maxResponseBytes`. */
  maxResponseBytes?: number;
}

/** How many tokens of `authorize` the client remembers, to keep them out of messages. */
const REMEMBERED_TOKENS = 4;

/**
 * The client of every HTTP provider type: JSON in, JSON out, or a stream of server-sent events, over
 * the registry's transport (a keep-alive pool per origin). It makes one attempt (retries are the
 * library's), cancels through the signal, and turns every failure into a ProviderError whose message
 * names the instance and never a secret.
 */
export class HttpClient {
  readonly site: HttpCallSite;
  readonly #headers: Record<string, string>;
  readonly #getHeaders: Record<string, string>;
  readonly #root: string;
  readonly #origin: string;
  readonly #maxBytes: number;
  readonly #transport: HttpTransport;
  readonly #authorize?: () => Promise<Record<string, string>>;
  readonly #secrets: string[];
  readonly #configuredSecrets: number;
  /** The names of the headers the client sets itself, lower-cased. */
  readonly #ownHeaderNames: ReadonlySet<string>;

  constructor(options: HttpClientOptions, context: Pick<DriverContext, 'kind' | 'name' | 'type' | 'maxResponseBytes' | 'transport'>) {
    this.#root = options.baseUrl.replace(/\/+$/, '');
    this.#origin = new URL(this.#root).origin;
    this.#maxBytes = options.maxResponseBytes ?? context.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    // A driver made outside a registry (a test, a script) gets a transport of its own.
    this.#transport = context.transport ?? new UndiciTransport();
    this.#authorize = options.authorize;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    const { 'content-type': _type, ...getHeaders } = this.#headers;
    this.#ownHeaderNames = new Set(Object.keys(this.#headers).map((name) => name.toLowerCase()));
    this.#getHeaders = getHeaders;
    this.#secrets = [...secretsOf(options.headers), ...(options.secrets ?? [])].filter((s) => s.length > 0);
    this.#configuredSecrets = this.#secrets.length;
    this.site = { kind: context.kind, name: context.name, type: context.type, baseUrl: this.#root, secrets: this.#secrets };
  }

  /** `POST {baseUrl}{path}` with a JSON body; resolves to the parsed JSON answer. */
  async postJson(path: string, body: unknown, signal: AbortSignal, extraHeaders?: Record<string, string>): Promise<unknown> {
    const response = await this.#send(path, JSON.stringify(body), signal, extraHeaders);
    const text = await this.#readText(response, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw this.error(
        `upstream sent malformed JSON (${(err as Error).message}): ${describeValue(text)}, ${response.header('content-type') ?? 'no content type'}`,
      );
    }
  }

  /**
   * `GET` of a path under the API root, or of an absolute URL on the same server (a `/health` beside
   * a `/v1` root); resolves to the parsed JSON, or the text when the answer is not JSON.
   */
  async get(pathOrUrl: string, signal: AbortSignal, extraHeaders?: Record<string, string>): Promise<unknown> {
    const response = await this.#send(pathOrUrl, undefined, signal, extraHeaders);
    const text = await this.#readText(response, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  /** The server's origin (`http://host:port`), for routes that live beside the API root. */
  get origin(): string {
    return this.#origin;
  }

  /** `POST {baseUrl}{path}` and read the answer as server-sent events, one at a time as they arrive. */
  async *postSse(path: string, body: unknown, signal: AbortSignal, extraHeaders?: Record<string, string>): AsyncGenerator<SseEvent> {
    const response = await this.#send(path, JSON.stringify(body), signal, { accept: 'text/event-stream', ...extraHeaders });
    const type = response.header('content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      const text = await this.#readText(response, signal);
      throw badResponse(this.site, `expected an event stream, got ${type || 'no content type'}: ${upstreamMessage(text)}`);
    }
    const events = response.events(this.#maxBytes, () => responseTooLarge(this.site, this.#maxBytes, 'event'));
    try {
      for (;;) {
        let next: IteratorResult<SseEvent>;
        try {
          next = await events.next();
        } catch (err) {
          throw this.#failure(err, signal, 'the stream from');
        }
        if (next.done) break;
        yield next.value;
      }
      if (signal.aborted) throw this.#failure(undefined, signal);
    } finally {
      await events.return(undefined);
    }
  }

  /** An error of the call as a ProviderError of this site (for drivers' own checks). */
  error(message: string, init: { retryable?: boolean; code?: string; status?: number } = {}): ProviderError {
    return new ProviderError(redactSecrets(`${describeSite(this.site)}: ${message}`, this.site.secrets), {
      ...siteOf(this.site),
      retryable: init.retryable ?? false,
      code: init.code ?? 'bad-response',
      status: init.status,
    });
  }

  async #send(path: string, body: string | undefined, signal: AbortSignal, extraHeaders?: Record<string, string>): Promise<TransportResponse> {
    let response: TransportResponse;
    try {
      const url = path.startsWith('http://') || path.startsWith('https://') ? path : this.#root + path;
      // Credentials go to the configured server only.
      if (url !== this.#root + path && new URL(url).origin !== this.#origin) throw new Error(`refusing to send to another server than ${this.#origin}`);
      const own = body === undefined ? this.#getHeaders : this.#headers;
      const dynamic = this.#authorize ? await this.#authorized() : undefined;
      // The call's own headers (a request id) and its trace context go first: the type's headers win.
      const call = callContext.getStore()?.headers;
      const trace = traceContext();
      const headers = extraHeaders || dynamic || call || trace ? { ...this.#callHeaders(call), ...trace, ...own, ...dynamic, ...extraHeaders } : own;
      response = await this.#transport.request({ url, method: body === undefined ? 'GET' : 'POST', headers, body, signal });
    } catch (err) {
      throw this.#failure(err, signal);
    }
    if (response.status >= 400) {
      const text = await this.#readText(response, signal).catch(() => '');
      throw httpStatusError(this.site, response.status, response, text);
    }
    return response;
  }

  /**
   * A call's own headers, less any that the client sets itself (auth, content type: in whatever
   * case the caller wrote them) or that carry the trace context: those are never the caller's.
   */
  #callHeaders(call: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
    if (!call) return undefined;
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(call)) {
      const lower = name.toLowerCase();
      if (lower === 'traceparent' || lower === 'tracestate' || lower === 'authorization' || this.#ownHeaderNames.has(lower)) continue;
      out[lower] = value;
    }
    return out;
  }

  async #authorized(): Promise<Record<string, string>> {
    const headers = await this.#authorize!();
    for (const value of secretsOf(headers)) {
      if (this.#secrets.includes(value)) continue;
      this.#secrets.push(value);
      // The configured secrets stay; of the tokens, the latest few (a token may still be in flight).
      if (this.#secrets.length - this.#configuredSecrets > REMEMBERED_TOKENS) this.#secrets.splice(this.#configuredSecrets, 1);
    }
    return headers;
  }

  async #readText(response: TransportResponse, signal: AbortSignal): Promise<string> {
    try {
      return await response.text(this.#maxBytes, () => responseTooLarge(this.site, this.#maxBytes, 'answer'));
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

/** `traceparent` (and what else the registered propagator writes) of the active span, when OpenTelemetry is there. */
function traceContext(): Record<string, string> | undefined {
  const api = openTelemetry();
  if (!api) return undefined;
  const carrier: Record<string, string> = {};
  api.propagation.inject(api.context.active(), carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}

/** Header values as secrets, and a Bearer token on its own (services echo it without the prefix). */
function secretsOf(headers: Record<string, string> | undefined): string[] {
  const values = Object.values(headers ?? {});
  const tokens = values.map((v) => /^Bearer\s+(.+)$/i.exec(v)?.[1]).filter((t): t is string => !!t);
  return [...values, ...tokens];
}
