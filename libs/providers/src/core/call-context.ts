import { AsyncLocalStorage } from 'node:async_hooks';

/** What a call carries down to its HTTP requests, whatever driver makes them. */
export interface CallContext {
  /** Extra headers for every request of the call (a gateway's `x-request-id`); never over the type's own auth headers. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * The context of the call being made, for the transport: set by the library around each attempt,
 * read by `HttpClient` when it sends. Process-wide like every AsyncLocalStorage, holding nothing
 * between calls.
 */
export const callContext = new AsyncLocalStorage<CallContext>();
