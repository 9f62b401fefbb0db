import type { OnApplicationShutdown } from '@nestjs/common';
import { UndiciTransport, type HttpTransport, type TransportRequest, type TransportResponse } from '@hush/providers';
import { REQUEST_ID_HEADER, type RequestContext } from './request-context.js';

/**
 * The library's transport with the request's `x-request-id` added to every upstream request sent while
 * serving it. Done here rather than through each call's `headers` option, which the library carries in
 * an AsyncLocalStorage of its own: one more async context in the process costs every promise a little.
 * Closes the transport it made (not one it was given) when the app shuts down.
 */
export class RequestIdTransport implements HttpTransport, OnApplicationShutdown {
  readonly #inner: HttpTransport;
  readonly #owned: boolean;

  constructor(
    private readonly requests: RequestContext,
    inner?: HttpTransport,
  ) {
    this.#inner = inner ?? new UndiciTransport();
    this.#owned = inner === undefined;
  }

  request(request: TransportRequest): Promise<TransportResponse> {
    const id = this.requests.current()?.id;
    if (id === undefined || request.headers[REQUEST_ID_HEADER] !== undefined) return this.#inner.request(request);
    return this.#inner.request({ ...request, headers: { ...request.headers, [REQUEST_ID_HEADER]: id } });
  }

  close(): Promise<void> {
    return this.#owned ? this.#inner.close() : Promise.resolve();
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
