import { context, createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The header a request id comes in, goes back in, and is sent upstream in. */
export const REQUEST_ID_HEADER = 'x-request-id';

const MAX_REQUEST_ID_LENGTH = 128;

/**
 * The client's `x-request-id` when it is sane (1 to 128 characters of visible ASCII, `!` to `~`: no
 * space, no control character, no second value joined by Node with ", "); else a new UUID.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  if (typeof header === 'string' && header.length > 0 && header.length <= MAX_REQUEST_ID_LENGTH) {
    let visible = true;
    for (let i = 0; i < header.length; i++) {
      const c = header.charCodeAt(i);
      if (c < 0x21 || c > 0x7e) {
        visible = false;
        break;
      }
    }
    if (visible) return header;
  }
  return randomUUID();
}

/** What the gateway knows of the request being served, gathered as it goes (for metrics and the access log). */
export interface RequestState {
  readonly id: string;
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** `performance.now()` at arrival. */
  readonly startedAt: number;
  /** The route's template (`/v1/models/:model`), once routed; none for an unknown URL. */
  route?: string;
  /** Who sent it (the name of the client's key; see `ApiKeys.client`). */
  client?: string;
  /** The `model` the client asked for. */
  model?: string;
  /** The instance that answered (a fallback's name when one did). */
  instance?: string;
  /** Library calls made for the request, and what they used. */
  calls: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/**
 * The request being served, wherever the code runs for it (a service, the library's call event, a
 * log line), entered once per request around everything Fastify and Nest do for it. Where an
 * OpenTelemetry context manager is registered (the gateway's SDK), the state is a value of the
 * request's OpenTelemetry context: one async context for both, since each AsyncLocalStorage in the
 * process adds to the cost of every promise. Without one, an AsyncLocalStorage of its own. One per
 * application, so that two gateways in one process never see each other's requests.
 */
export class RequestContext {
  readonly #key = createContextKey('hush.gateway.request');
  readonly #store?: AsyncLocalStorage<RequestState>;

  constructor() {
    if (!contextManagerRegistered()) this.#store = new AsyncLocalStorage<RequestState>();
  }

  /** Runs `fn` in `parent` (a trace context) with `state` as the current request. */
  run<A extends unknown[], R>(state: RequestState, parent: Context, fn: (...args: A) => R, ...args: A): R {
    if (!this.#store) return context.with(parent.setValue(this.#key, state), fn, undefined, ...args);
    return context.with(parent, () => this.#store!.run(state, fn, ...args));
  }

  current(): RequestState | undefined {
    return this.#store ? this.#store.getStore() : (context.active().getValue(this.#key) as RequestState | undefined);
  }
}

/** Whether `context.with` really carries a context (the API's default manager carries none). */
function contextManagerRegistered(): boolean {
  const probe = createContextKey('hush.gateway.probe');
  return context.with(ROOT_CONTEXT.setValue(probe, true), () => context.active().getValue(probe) === true);
}
