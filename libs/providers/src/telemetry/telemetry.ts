import type { Context, Meter, Span, Tracer } from '@opentelemetry/api';
import { callsObserved, publishCall } from '../core/diagnostics.js';
import { openTelemetry, type OpenTelemetryApi } from '../core/otel.js';
import { isAbortError, ProviderError } from '../core/provider-error.js';
import type { ProviderKind } from '../core/provider-kind.js';
import { ATTR, DURATION_BUCKETS, providerName, REQUEST_PARAMS, serverOf, TOKEN_BUCKETS } from './gen-ai.js';
import { costOf, type Pricing, type TokenUsage } from './pricing.js';
import { UsageSummary, type InstanceUsage } from './usage-summary.js';

export interface TelemetryOptions {
  /** Record messages and answers on spans for every LLM (an instance's `captureContent` turns it on for itself). */
  captureContent?: boolean;
  /**
   * Label metrics with the upstream's `server.address` and `server.port` (default true). An app that
   * shows its metrics to clients turns it off; spans keep both either way.
   */
  serverAddressOnMetrics?: boolean;
}

const SCOPE = '@hush/providers';

/** An attribute's value, as OpenTelemetry takes it (its own types stay out of the library's declarations: the API is an optional peer). */
export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];
export type Attributes = Record<string, AttributeValue | undefined>;

interface Histogram {
  record(value: number, attributes?: Attributes): void;
}

interface Counter {
  add(value: number, attributes?: Attributes): void;
}

/** What a call is, as its span and metrics say it. */
export interface CallStart {
  kind: ProviderKind;
  /** `chat`, `embeddings`, `rerank`. */
  operation: string;
  /** `generate`, `stream`, `generateBatch`, `embed`, `rerank`. */
  call: string;
  instance: string;
  type: string;
  model: string;
  /** The call's parameters (OpenAI's names), for `gen_ai.request.*`; asked for only when a span records. */
  params?: () => Readonly<Record<string, unknown>>;
  /** A call that only groups others (generateBatch): a span, but no metrics, event or usage of its own. */
  grouping?: boolean;
  /** Extra attributes (`hush.batch.size`, dimensions, ...). */
  attributes?: Attributes;
  /** What to record when content is captured. */
  input?: () => unknown;
  captureContent?: boolean;
  pricing?: Pricing;
}

/** What an attempt is: which instance (a fallback's?), which deployment, which server. */
export interface AttemptStart {
  instance: string;
  type: string;
  model: string;
  deployment: number;
  serverUrl?: string;
  pricing?: Pricing;
}

/** What the answer said, as far as the call knows it. */
export interface CallResult {
  id?: string;
  model?: string;
  finishReasons?: string[];
  usage?: TokenUsage;
  output?: () => unknown;
}

interface Instruments {
  meter: object;
  tokens: Histogram;
  duration: Histogram;
  firstChunk: Histogram;
  retries: Counter;
  fallbacks: Counter;
  rateLimitWaits: Counter;
  /** `hush.client.calls` and `hush.client.cost`, summed here and read by the SDK when it collects. */
  series: MetricSeries;
}

/** The attributes a call ends with, built once per distinct set, and where its calls and cost are summed. */
interface Series {
  /** Duration, time to first chunk, cost. */
  readonly attributes: Attributes;
  readonly input: Attributes;
  readonly output: Attributes;
  /** The call counter's: with `hush.outcome`. */
  readonly outcome: Attributes;
  readonly sums: { calls: number; cost: number };
}

/**
 * Distinct sets kept; calls past them are summed in one overflow set: with it, the 2,000 points the
 * SDK keeps per metric by default (past those it would fold points itself).
 */
const MAX_SERIES = 1999;
const OVERFLOW: Attributes = { 'otel.metric.overflow': true };

type ObservableResult = { observe(value: number, attributes?: Attributes): void };

/**
 * The attribute sets of ended calls. Each call records up to four histogram points (the SDK hashes
 * their attributes every time); the two counters are cumulative sums kept here instead, found by a
 * key joined without sorting or serialising, and observed when the SDK collects.
 */
class MetricSeries {
  readonly #sets = new Map<string, Series>();
  readonly #overflow = { calls: 0, cost: 0 };

  get(key: string, attributes: () => Attributes, outcome: 'ok' | 'error'): Series {
    let series = this.#sets.get(key);
    if (series) return series;
    const full = this.#sets.size >= MAX_SERIES;
    const base = attributes();
    series = {
      attributes: base,
      input: { ...base, [ATTR.tokenType]: 'input' },
      output: { ...base, [ATTR.tokenType]: 'output' },
      outcome: { ...base, 'hush.outcome': outcome },
      sums: full ? this.#overflow : { calls: 0, cost: 0 },
    };
    // Past the limit, histograms still get the call's attributes (the SDK applies its own limit).
    if (!full) this.#sets.set(key, series);
    return series;
  }

  observeCalls = (result: ObservableResult): void => {
    for (const series of this.#sets.values()) result.observe(series.sums.calls, series.outcome);
    if (this.#overflow.calls > 0) result.observe(this.#overflow.calls, OVERFLOW);
  };

  observeCost = (result: ObservableResult): void => {
    for (const series of this.#sets.values()) if (series.sums.cost > 0) result.observe(series.sums.cost, series.attributes);
    if (this.#overflow.cost > 0) result.observe(this.#overflow.cost, OVERFLOW);
  };
}

/**
 * The sums behind one meter's two counters, shared by every registry that records through it: as the
 * SDK's own counters would be (two registries naming the same instance add up, a closed registry's
 * counts stay). Keyed by the meter, so a new meter provider starts from nothing.
 */
const seriesByMeter = new WeakMap<object, MetricSeries>();

function seriesOf(meter: Meter): MetricSeries {
  let series = seriesByMeter.get(meter);
  if (series) return series;
  seriesByMeter.set(meter, (series = new MetricSeries()));
  meter.createObservableCounter('hush.client.calls', { unit: '{call}', description: 'Calls by outcome' }).addCallback(series.observeCalls);
  meter.createObservableCounter('hush.client.cost', { unit: 'USD', description: 'Cost of calls, from the instances’ pricing' }).addCallback(series.observeCost);
  return series;
}

/**
 * The library's telemetry, one per registry: spans and metrics through `@opentelemetry/api` when the
 * app registered an SDK (nothing is computed for them otherwise), the call event on the diagnostics
 * channel when someone listens, and the in-process usage summary of each instance, always.
 */
export class Telemetry {
  readonly #summaries = new Map<string, UsageSummary>();
  #instruments?: Instruments;
  #noop?: { tracerProvider: Function; meter: Function };

  constructor(readonly options: TelemetryOptions = {}) {}

  /** Every instance's usage since the application started. */
  usage(): InstanceUsage[] {
    return [...this.#summaries.values()].map((s) => s.snapshot());
  }

  summary(kind: ProviderKind, name: string): UsageSummary {
    const key = `${kind}:${name}`;
    let summary = this.#summaries.get(key);
    if (!summary) this.#summaries.set(key, (summary = new UsageSummary(kind, name)));
    return summary;
  }

  /** Starts observing a call: its span (made active for what runs under it) and its clock. */
  start(call: CallStart): CallObservation {
    const api = openTelemetry();
    return new CallObservation(this, call, api && this.#tracing(api) ? api : undefined, api ? this.#meters(api) : undefined);
  }

  #noopClasses(api: OpenTelemetryApi): { tracerProvider: Function; meter: Function } {
    return (this.#noop ??= {
      tracerProvider: new api.ProxyTracerProvider().getDelegate().constructor,
      meter: api.createNoopMeter().constructor,
    });
  }

  /** Whether a tracer provider other than the API's no-op one is registered. */
  #tracing(api: OpenTelemetryApi): boolean {
    const provider = api.trace.getTracerProvider();
    const real = provider instanceof api.ProxyTracerProvider ? provider.getDelegate() : provider;
    return !(real instanceof this.#noopClasses(api).tracerProvider);
  }

  /** The instruments, made again when the app registered (another) meter provider since. */
  #meters(api: OpenTelemetryApi): Instruments | undefined {
    const meter = api.metrics.getMeter(SCOPE);
    if (meter instanceof this.#noopClasses(api).meter) return undefined;
    if (this.#instruments?.meter === meter) return this.#instruments;
    const series = seriesOf(meter);
    return (this.#instruments = {
      meter,
      series,
      tokens: meter.createHistogram('gen_ai.client.token.usage', {
        unit: '{token}',
        description: 'Number of input and output tokens used',
        advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
      }),
      duration: meter.createHistogram('gen_ai.client.operation.duration', {
        unit: 's',
        description: 'GenAI operation duration',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      firstChunk: meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
        unit: 's',
        description: 'Time to receive the first chunk of a streamed answer',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      retries: meter.createCounter('hush.client.retries', { unit: '{retry}', description: 'Retries after a failed attempt' }),
      fallbacks: meter.createCounter('hush.client.fallbacks', { unit: '{fallback}', description: 'Calls handed to a fallback' }),
      rateLimitWaits: meter.createCounter('hush.client.rate_limit.waits', { unit: '{wait}', description: 'Waits for room in an rpm/tpm budget' }),
    });
  }
}

/** One attempt of a call; `end` once, with the error when it failed. */
export interface AttemptObservation {
  /** Runs `fn` with the attempt's span active (so the transport propagates its trace context). */
  run<T>(fn: () => T): T;
  end(error?: unknown): void;
}

const NO_ATTEMPT: AttemptObservation = { run: (fn) => fn(), end: () => undefined };

/** One logical call, from its start to its end, whatever retries and fallbacks it took. */
export class CallObservation {
  readonly #started = performance.now();
  readonly #span?: Span;
  readonly #context?: Context;
  #firstChunkMs?: number;
  #attempts = 0;
  #answered?: AttemptStart;
  #fallback?: string;
  #result: CallResult = {};
  #cache?: 'hit' | 'partial' | 'miss';
  #ended = false;

  /** @internal Made by `Telemetry.start`; its parameters name the optional peer's types. */
  constructor(
    private readonly telemetry: Telemetry,
    private readonly call: CallStart,
    private readonly api: OpenTelemetryApi | undefined,
    private readonly instruments: Instruments | undefined,
  ) {
    if (!api) return;
    const tracer: Tracer = api.trace.getTracer(SCOPE);
    const span = tracer.startSpan(`${call.operation} ${call.model}`, { kind: api.SpanKind.CLIENT, attributes: this.#requestAttributes() });
    if (!span.isRecording()) return;
    this.#span = span;
    this.#context = api.trace.setSpan(api.context.active(), span);
    if (this.#captures() && call.input) span.setAttribute(ATTR.inputMessages, safeJson(call.input()));
  }

  /** Runs `fn` with the call's span active: its attempts (and their requests) are its children. */
  run<T>(fn: () => T): T {
    return this.api && this.#context ? this.api.context.with(this.#context, fn) : fn();
  }

  attempt(start: AttemptStart): AttemptObservation {
    this.#attempts++;
    const n = this.#attempts;
    const started = start;
    if (!this.api || !this.#context) {
      return { run: (fn) => fn(), end: (error) => (error === undefined ? (this.#answered = started) : undefined) };
    }
    const api = this.api;
    const server = serverOf(start.serverUrl);
    const span = api.trace.getTracer(SCOPE).startSpan(
      `${this.call.operation} ${start.model}`,
      {
        kind: api.SpanKind.CLIENT,
        attributes: {
          [ATTR.operation]: this.call.operation,
          [ATTR.provider]: providerName(start.type),
          [ATTR.requestModel]: start.model,
          [ATTR.instance]: start.instance,
          [ATTR.type]: start.type,
          [ATTR.attempt]: n,
          [ATTR.deployment]: start.deployment,
          ...(server ? { [ATTR.serverAddress]: server.address, [ATTR.serverPort]: server.port } : {}),
        },
      },
      this.#context,
    );
    const context = api.trace.setSpan(this.#context, span);
    let done = false;
    return {
      run: (fn) => api.context.with(context, fn),
      end: (error) => {
        if (done) return;
        done = true;
        if (error === undefined) this.#answered = started;
        else failSpan(api, span, error);
        span.end();
      },
    };
  }

  retry(): void {
    this.instruments?.retries.add(1, this.#metricAttributes());
  }

  fallback(to: string): void {
    this.#fallback = to;
    this.instruments?.fallbacks.add(1, this.#metricAttributes());
    this.#span?.addEvent('hush.fallback', { [ATTR.fallback]: to });
  }

  rateLimitWait(): void {
    this.instruments?.rateLimitWaits.add(1, this.#metricAttributes());
  }

  /** A stream's first chunk reached the caller. */
  firstChunk(): void {
    this.#firstChunkMs ??= performance.now() - this.#started;
  }

  /** How the answer came from the instance's cache; a hit spent nothing, so it reports no tokens and no cost. */
  cache(status: 'hit' | 'partial' | 'miss'): void {
    this.#cache = status;
  }

  /** What the answer said; later calls add to earlier ones (a stream learns it chunk by chunk). */
  result(result: CallResult): void {
    this.#result = { ...this.#result, ...result };
  }

  /** Ends the call: span, metrics, the call event, the instance's summary. Only the first end counts. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const durationMs = performance.now() - this.#started;
    const ok = error === undefined;
    // Tokens only where the service reported them: an unknown count is left out, never recorded as 0.
    const hit = this.#cache === 'hit';
    // A hit's answer may carry the usage of the call that filled the cache: none of it was spent now.
    const reported = hit ? undefined : this.#result.usage;
    const usage = reported ?? { input: 0, output: 0 };
    const answered = this.#answered;
    const cost = this.call.grouping || hit ? 0 : costOf(answered?.pricing ?? this.call.pricing, usage, ok ? 1 : 0);
    if (!this.call.grouping) this.telemetry.summary(this.call.kind, this.call.instance).record(durationMs, ok, usage.input, usage.output, cost);

    const errorType = ok ? undefined : errorTypeOf(error);
    if (this.#span && this.api) {
      const span = this.#span;
      // A grouping span (generateBatch) made no attempt and spent nothing itself: its calls' spans say what they did.
      const attributes: Attributes = this.call.grouping ? {} : { [ATTR.attempts]: this.#attempts, [ATTR.cost]: cost };
      if (reported && !this.call.grouping) {
        attributes[ATTR.inputTokens] = reported.input;
        if (this.call.kind === 'llm') attributes[ATTR.outputTokens] = reported.output;
      }
      if (this.#result.id) attributes[ATTR.responseId] = this.#result.id;
      if (this.#result.model) attributes[ATTR.responseModel] = this.#result.model;
      if (this.#result.finishReasons?.length) attributes[ATTR.finishReasons] = this.#result.finishReasons;
      if (this.#fallback) attributes[ATTR.fallback] = this.#fallback;
      if (this.#cache) attributes[ATTR.cache] = this.#cache;
      if (answered) Object.assign(attributes, serverAttributes(answered), { [ATTR.deployment]: answered.deployment });
      if (this.#captures() && ok && this.#result.output) attributes[ATTR.outputMessages] = safeJson(this.#result.output());
      span.setAttributes(attributes);
      if (!ok) failSpan(this.api, span, error);
      span.end();
    }

    if (this.call.grouping) return;
    const instruments = this.instruments;
    if (instruments) {
      const series = instruments.series.get(this.#seriesKey(errorType), () => this.#metricAttributes(errorType), ok ? 'ok' : 'error');
      instruments.duration.record(durationMs / 1000, series.attributes);
      if (reported) {
        instruments.tokens.record(reported.input, series.input);
        if (this.call.kind === 'llm') instruments.tokens.record(reported.output, series.output);
      }
      if (this.#firstChunkMs !== undefined) instruments.firstChunk.record(this.#firstChunkMs / 1000, series.attributes);
      series.sums.calls++;
      series.sums.cost += cost;
    }

    if (callsObserved()) {
      publishCall({
        instance: this.call.instance,
        kind: this.call.kind,
        type: this.call.type,
        model: this.call.model,
        operation: this.call.operation,
        durationMs,
        ...(this.#firstChunkMs !== undefined ? { timeToFirstChunkMs: this.#firstChunkMs } : {}),
        usage: { input: usage.input, output: usage.output },
        costUsd: cost,
        outcome: ok ? 'ok' : 'error',
        ...(errorType ? { error: errorType } : {}),
        attempts: this.#attempts,
        ...(this.#fallback ? { fallback: this.#fallback } : {}),
        ...(this.#cache ? { cache: this.#cache } : {}),
      });
    }
  }

  /** Whether messages and answers go on the span (so a stream knows whether to keep its text). */
  get captures(): boolean {
    return this.#span !== undefined && this.#captures();
  }

  #captures(): boolean {
    return this.call.captureContent ?? this.telemetry.options.captureContent ?? false;
  }

  #requestAttributes(): Attributes {
    const call = this.call;
    const attributes: Attributes = {
      [ATTR.operation]: call.operation,
      [ATTR.provider]: providerName(call.type),
      [ATTR.requestModel]: call.model,
      [ATTR.instance]: call.instance,
      [ATTR.kind]: call.kind,
      [ATTR.type]: call.type,
      [ATTR.operationShape]: call.call,
      ...call.attributes,
    };
    const params = call.params?.();
    if (params) {
      for (const [param, attribute] of REQUEST_PARAMS) {
        const value = params[param];
        if (typeof value === 'number') attributes[attribute] = value;
        else if (typeof value === 'string') attributes[attribute] = param === 'stop' ? [value] : value;
        else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) attributes[attribute] = value as AttributeValue;
      }
    }
    return attributes;
  }

  /** What `#metricAttributes` depends on, joined (no attribute value holds a NUL). */
  #seriesKey(errorType: string | undefined): string {
    const answered = this.#answered;
    const server = answered && this.telemetry.options.serverAddressOnMetrics !== false ? (answered.serverUrl ?? '') : '';
    return `${this.call.operation}\0${answered?.type ?? this.call.type}\0${this.call.model}\0${this.call.instance}\0${this.#result.model ?? ''}\0${server}\0${errorType ?? ''}`;
  }

  #metricAttributes(errorType?: string): Attributes {
    const answered = this.#answered;
    return {
      [ATTR.operation]: this.call.operation,
      [ATTR.provider]: providerName(answered?.type ?? this.call.type),
      [ATTR.requestModel]: this.call.model,
      [ATTR.instance]: this.call.instance,
      ...(this.#result.model ? { [ATTR.responseModel]: this.#result.model } : {}),
      ...(answered && this.telemetry.options.serverAddressOnMetrics !== false ? serverAttributes(answered) : {}),
      ...(errorType ? { [ATTR.errorType]: errorType } : {}),
    };
  }
}

function serverAttributes(attempt: AttemptStart): Attributes {
  const server = serverOf(attempt.serverUrl);
  return server ? { [ATTR.serverAddress]: server.address, [ATTR.serverPort]: server.port } : {};
}

/** `error.type`: the HTTP status for an upstream's refusal, else the library's code, else the error's name. */
export function errorTypeOf(error: unknown): string {
  if (isAbortError(error)) return 'aborted';
  if (error instanceof ProviderError) return error.status !== undefined ? String(error.status) : (error.code ?? 'ProviderError');
  return error instanceof Error ? error.name : 'error';
}

function failSpan(api: OpenTelemetryApi, span: Span, error: unknown): void {
  span.setAttribute(ATTR.errorType, errorTypeOf(error));
  // The message is the library's, already free of secrets.
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '';
  }
}

export { NO_ATTEMPT };
