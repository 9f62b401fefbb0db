import { metrics, trace, type Meter, type ProxyTracerProvider, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { IMetricReader, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The instrumentation scope of the gateway's own spans and metrics. */
export const GATEWAY_SCOPE = 'hush-gateway';
export const DEFAULT_SERVICE_NAME = 'hush-gateway';
/** The instrumentation scope of the library's metrics. */

/**
 * What a caller (a test, an app embedding the gateway) may set of the SDK; the rest comes from the
 * standard `OTEL_*` variables of the process environment, as the SDK reads them.
 */
export interface GatewayTelemetryOptions {
  /** `service.name`; default `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`), else 'hush-gateway'. */
  serviceName?: string;
  /**
   * Span processors in place of those `OTEL_TRACES_EXPORTER` would make (tests pass a
   * `SimpleSpanProcessor` over an `InMemorySpanExporter`). Without them and without the variable
   * (or with `none`), no tracer provider is registered: the gateway still continues the client's
   * trace context upstream, and records nothing.
   */
  spanProcessors?: SpanProcessor[];
  /** Metric readers beside the Prometheus one behind `GET /metrics` (e.g. a periodic OTLP reader). */
  metricReaders?: IMetricReader[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** The context manager and propagator are process-wide and stateless: registered once, kept. */
let propagationRegistered = false;

/**
 * The gateway's OpenTelemetry SDK, started before Nest builds the app and shut down with it:
 *
 * - a MeterProvider, always, whose readers are the Prometheus exporter (no server of its own: its
 *   text is rendered by the gateway's `GET /metrics`) and any given. It is registered as the global
 *   meter provider, so the library's GenAI metrics (`gen_ai.client.*`, `hush.client.*`) land there
 *   (the app module asks the library for them without `server.address` and `server.port`);
 * - `NodeSDK` for the rest, from the `OTEL_*` variables: the async context manager, the propagator
 *   (`OTEL_PROPAGATORS`, W3C trace context and baggage by default), and a tracer provider only where
 *   `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `zipkin`, `console`; `OTEL_EXPORTER_OTLP_*`
 *   for its endpoint, headers and protocol) or `spanProcessors` are given. No logs go through OTel.
 *
 * The resource: `service.name` (above), what `OTEL_RESOURCE_ATTRIBUTES` says, and the detectors of
 * `OTEL_NODE_RESOURCE_DETECTORS` (default `env` only: no host or process details, which
 * `/metrics`' `target_info` would show).
 */
export class GatewayTelemetry {
  private constructor(
    readonly meterProvider: MeterProvider,
    private readonly prometheus: PrometheusExporter,
    private readonly serializer: PrometheusSerializer,
    private readonly sdk: NodeSDK,
    /** Whether this provider is the global one (another SDK may have been registered first). */
    readonly globalMeters: boolean,
    private readonly tracerProvider: TracerProvider | undefined,
  ) {}

  static async start(options: GatewayTelemetryOptions = {}, env: Env = process.env): Promise<GatewayTelemetry> {
    const [{ NodeSDK, resources }, { MeterProvider }, { PrometheusExporter, PrometheusSerializer }] = await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/exporter-prometheus'),
    ]);

    let resource = resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME }));
    resource = resource.merge(resources.detectResources({ detectors: resourceDetectors(resources, env.OTEL_NODE_RESOURCE_DETECTORS) }));
    if (options.serviceName) resource = resource.merge(resources.resourceFromAttributes({ 'service.name': options.serviceName }));

    const prometheus = new PrometheusExporter({ preventServerStart: true });
    const meterProvider = new MeterProvider({
      resource,
      readers: [prometheus, ...(options.metricReaders ?? [])],
    });
    const globalMeters = metrics.setGlobalMeterProvider(meterProvider);

    const tracesFromEnv = (env.OTEL_TRACES_EXPORTER ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '' && e !== 'none');
    const before = delegateOf(trace.getTracerProvider());
    let sdk: NodeSDK;
    try {
      sdk = new NodeSDK({
        resource,
        autoDetectResources: false,
        // Metrics are the provider above; logs are not sent through OTel.
        metricReaders: [],
        logRecordProcessors: [],
        // Given processors, else the variable's exporters (read by the SDK), else none at all.
        spanProcessors: options.spanProcessors ?? (tracesFromEnv.length > 0 ? undefined : []),
        ...(propagationRegistered ? { contextManager: null as never, textMapPropagator: null } : {}),
      });
      sdk.start();
    } catch (err) {
      await meterProvider.shutdown().catch(() => undefined);
      if (globalMeters && metrics.getMeterProvider() === meterProvider) metrics.disable();
      throw err;
    }
    propagationRegistered = true;
    const after = delegateOf(trace.getTracerProvider());
    return new GatewayTelemetry(meterProvider, prometheus, new PrometheusSerializer(), sdk, globalMeters, after !== before ? after : undefined);
  }

  /** The meter of the gateway's own instruments (on its provider, whether or not it is the global one). */
  meter(): Meter {
    return this.meterProvider.getMeter(GATEWAY_SCOPE);
  }

  /** The tracer of the gateway's server spans: the global one (a no-op one when nothing records traces). */
  tracer(): Tracer {
    return trace.getTracer(GATEWAY_SCOPE);
  }

  /** Whether this SDK records traces (its tracer provider is the registered one). */
  get tracing(): boolean {
    return this.tracerProvider !== undefined;
  }

  /** Every metric in Prometheus' text exposition format, collected now. */
  async render(): Promise<{ text: string; errors: unknown[] }> {
    const { resourceMetrics, errors } = await this.prometheus.collect();
    return { text: this.serializer.serialize(resourceMetrics), errors };
  }

  /** Flushes and stops the SDK, and gives the global slots back if they are still this SDK's. */
  async shutdown(): Promise<void> {
    await Promise.allSettled([this.sdk.shutdown(), this.meterProvider.shutdown()]);
    if (this.globalMeters && metrics.getMeterProvider() === this.meterProvider) metrics.disable();
    if (this.tracerProvider && delegateOf(trace.getTracerProvider()) === this.tracerProvider) trace.disable();
  }
}

function delegateOf(provider: TracerProvider): TracerProvider {
  const proxy = provider as Partial<ProxyTracerProvider>;
  return typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : provider;
}

type Resources = typeof import('@opentelemetry/sdk-node').resources;

/** `OTEL_NODE_RESOURCE_DETECTORS` (env, host, os, process, serviceinstance, all, none); default `env`. */
function resourceDetectors(resources: Resources, value: string | undefined) {
  const known = {
    env: resources.envDetector,
    host: resources.hostDetector,
    os: resources.osDetector,
    process: resources.processDetector,
    serviceinstance: resources.serviceInstanceIdDetector,
  };
  const names = (value ?? 'env')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  if (names.includes('none')) return [];
  if (names.includes('all')) return Object.values(known);
  return names.flatMap((n) => (n in known ? [known[n as keyof typeof known]] : []));
}
