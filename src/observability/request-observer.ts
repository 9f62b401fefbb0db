import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Histogram,
  type ObservableResult,
  type Span,
} from '@opentelemetry/api';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PROVIDER_CALL_CHANNEL, type CallEvent } from '@hush/providers';
import type { Logger as PinoLogger } from 'pino';
import { REQUEST_ID_HEADER, requestIdFrom, type RequestContext, type RequestState } from './request-context.js';
import { GATEWAY_SCOPE, type GatewayTelemetry } from './telemetry.js';

/** Methods named as they are in `http.request.method`; any other is `_OTHER` (OTel's HTTP conventions). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The conventions' advice for `http.server.request.duration`, plus 30 s to 2 min for long generations. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120];

/** The client of a request made where no key check ran (no client keys configured). */
const NO_CLIENT = 'anonymous';

const TRACKED = Symbol('gateway.request');

interface Tracked {
  state: RequestState;
  span: Span;
  /** `http.request.method` (the method, or `_OTHER`). */
  method: string;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Sums by label set, read by an observable counter when metrics are collected: a request adds to a
 * number in a map, and the SDK hashes each label set once per collection rather than on every add.
 * The label sets are few (clients × instances × statuses).
 */
class Totals {
  readonly #sums = new Map<string, { attributes: Attributes; value: number }>();

  add(key: string, value: number, attributes: () => Attributes): void {
    const entry = this.#sums.get(key);
    if (entry) entry.value += value;
    else this.#sums.set(key, { attributes: attributes(), value });
  }

  observe = (result: ObservableResult): void => {
    for (const { attributes, value } of this.#sums.values()) result.observe(value, attributes);
  };
}

/**
 * What the gateway records of each request, from its first byte to its last:
 *
 * - its id (`x-request-id`, the client's when sane, else a new UUID), set on the answer before anything
 *   is written, so that every answer has it (errors, 401s, 404s, streams, health);
 * - its SERVER span, continuing the trace context the client sent (`traceparent`), made active (with
 *   the request's state, see `RequestContext`) around everything Fastify and Nest do for the request,
 *   so that the library's call span is its child and the upstream gets the same trace;
 * - `http.server.request.duration` (route, method, status), once the answer is done or the client gone;
 * - the tokens and cost of the library's calls (its call event, published in the request's async
 *   context), per client: `hush.gateway.client.tokens`, `hush.gateway.client.cost`, with `client` the
 *   name of the client's key, never the key; `hush.gateway.client.requests` per client and status;
 * - in JSON log mode, one line per request.
 */
export class RequestObserver {
  private readonly duration?: Histogram;
  private readonly clientRequests?: Totals;
  private readonly clientTokens?: Totals;
  private readonly clientCost?: Totals;
  private readonly onCall = (message: unknown) => this.called(message as CallEvent);
  private subscribed = false;
  private clientOf?: (req: IncomingMessage) => string;

  constructor(
    private readonly requests: RequestContext,
    telemetry?: GatewayTelemetry,
    private readonly accessLog?: PinoLogger,
  ) {
    if (!telemetry) return;
    const meter = telemetry.meter();
    this.duration = meter.createHistogram('http.server.request.duration', {
      unit: 's',
      description: 'Duration of HTTP server requests',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.clientRequests = new Totals();
    this.clientTokens = new Totals();
    this.clientCost = new Totals();
    meter
      .createObservableCounter('hush.gateway.client.requests', { unit: '{request}', description: 'Requests by client and status' })
      .addCallback(this.clientRequests.observe);
    meter
      .createObservableCounter('hush.gateway.client.tokens', { unit: '{token}', description: 'Tokens used by each client, input and output' })
      .addCallback(this.clientTokens.observe);
    meter
      .createObservableCounter('hush.gateway.client.cost', { unit: 'USD', description: 'Cost of each client’s calls, from the instances’ pricing' })
      .addCallback(this.clientCost.observe);
  }

  /** Starts listening to the library's call events. */
  start(): void {
    if (this.subscribed) return;
    subscribe(PROVIDER_CALL_CHANNEL, this.onCall);
    this.subscribed = true;
  }

  stop(): void {
    if (!this.subscribed) return;
    unsubscribe(PROVIDER_CALL_CHANNEL, this.onCall);
    this.subscribed = false;
  }

  /**
   * Serves every request of `server` through `serve` (in place of its own request listeners, which it
   * then calls). `clientOf` names the client of a request the router refused before any hook ran.
   */
  attach(server: Server, clientOf?: (req: IncomingMessage) => string): void {
    this.clientOf = clientOf;
    const listeners = server.listeners('request') as RequestListener[];
    if (listeners.length === 0) return;
    server.removeAllListeners('request');
    const next =
      listeners.length === 1
        ? listeners[0]!
        : (req: IncomingMessage, res: ServerResponse) => {
            for (const listener of listeners) listener.call(server, req, res);
          };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.serve(req, res, next));
  }

  /** One request: its id on the answer, its span and state active around `next`, its end observed. */
  serve(req: IncomingMessage, res: ServerResponse, next: RequestListener): void {
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, id);
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const state: RequestState = {
      id,
      method: req.method ?? 'GET',
      path: query < 0 ? url : url.slice(0, query),
      startedAt: performance.now(),
      calls: 0,
      tokensIn: 0,
      tokensOut: 0,
      costUsd: 0,
    };
    const method = METHODS.has(state.method) ? state.method : '_OTHER';
    const parent = propagation.extract(context.active(), req.headers);
    const span = trace.getTracer(GATEWAY_SCOPE).startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': method, 'url.path': state.path, 'url.scheme': 'http', 'http.request.header.x-request-id': [id] },
      },
      parent,
    );
    (req as IncomingMessage & { [TRACKED]?: Tracked })[TRACKED] = { state, span, method };
    res.once('close', () => this.finish(state, span, method, req, res));
    this.requests.run(state, trace.setSpan(parent, span), next, req, res);
  }

  /** Once routed (Fastify's onRequest): the route's template, and who the client is. */
  arrived(req: IncomingMessage, route: string | undefined, client: string): void {
    const tracked = (req as IncomingMessage & { [TRACKED]?: Tracked })[TRACKED];
    if (!tracked) return;
    tracked.state.client = client;
    if (route !== undefined) {
      tracked.state.route = route;
      tracked.span.updateName(`${tracked.method} ${route}`);
      tracked.span.setAttribute('http.route', route);
    }
  }

  /** The library's call event, in the async context of the request that made the call. */
  private called(event: CallEvent): void {
    const state = this.requests.current();
    if (!state) return;
    state.calls++;
    state.tokensIn += event.usage.input;
    state.tokensOut += event.usage.output;
    state.costUsd += event.costUsd;
    state.instance = event.fallback ?? event.instance;
    const client = state.client ?? NO_CLIENT;
    const instance = event.instance;
    const key = `${client}\u0000${instance}`;
    const tokens = (type: string) => () => ({ client, 'hush.instance': instance, 'gen_ai.token.type': type });
    if (event.usage.input > 0) this.clientTokens?.add(`${key}\u0000input`, event.usage.input, tokens('input'));
    if (event.usage.output > 0) this.clientTokens?.add(`${key}\u0000output`, event.usage.output, tokens('output'));
    if (event.costUsd > 0) this.clientCost?.add(key, event.costUsd, () => ({ client, 'hush.instance': instance }));
  }

  private finish(state: RequestState, span: Span, method: string, req: IncomingMessage, res: ServerResponse): void {
    const seconds = (performance.now() - state.startedAt) / 1000;
    const status = res.headersSent ? res.statusCode : undefined;
    // The client left before the whole answer was written.
    const aborted = !res.writableFinished;
    const errorType = status !== undefined && status >= 500 ? String(status) : aborted ? 'aborted' : undefined;
    const attributes: Attributes = { 'http.request.method': method, 'url.scheme': 'http' };
    if (state.route !== undefined) attributes['http.route'] = state.route;
    if (status !== undefined) attributes['http.response.status_code'] = status;
    if (errorType !== undefined) attributes['error.type'] = errorType;
    this.duration?.record(seconds, attributes);
    // A request refused by the router (a malformed URL) never reached the hook that names its client.
    const client = (state.client ??= this.clientOf?.(req) ?? NO_CLIENT);
    this.clientRequests?.add(`${client}\u0000${status ?? ''}`, 1, () => (status === undefined ? { client } : { client, 'http.response.status_code': status }));

    span.setAttributes({ ...attributes, 'hush.client': client });
    if (status !== undefined && status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();

    if (this.accessLog) {
      const spanContext = span.spanContext();
      this.accessLog.info(
        {
          requestId: state.id,
          method: state.method,
          route: state.route,
          path: state.path,
          status,
          durationMs: Math.round(seconds * 100_000) / 100,
          client,
          model: state.model,
          instance: state.instance,
          calls: state.calls,
          tokensIn: state.tokensIn,
          tokensOut: state.tokensOut,
          costUsd: state.costUsd,
          ...(aborted ? { aborted: true } : {}),
          ...(isSpanContextValid(spanContext) ? { traceId: spanContext.traceId } : {}),
        },
        'request',
      );
    }
  }
}
