import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';

/**
 * The real OpenTelemetry SDK, registered globally for one test file (vitest runs each file in its
 * own process): spans kept in memory, metrics collected on demand, W3C trace context propagated,
 * the async-hooks context manager. `resetMetrics()` puts a fresh MeterProvider in place (the
 * library makes its instruments again for it), so each test reads its own metrics from zero.
 */

/** A reader that exports nothing: the test collects when it wants to look. */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export class OtelHarness {
  readonly exporter = new InMemorySpanExporter();
  readonly #tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.exporter)] });
  readonly #contextManager = new AsyncLocalStorageContextManager();
  #meterProvider?: MeterProvider;
  #reader?: CollectingReader;

  static install(): OtelHarness {
    const harness = new OtelHarness();
    context.setGlobalContextManager(harness.#contextManager.enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(harness.#tracerProvider);
    harness.resetMetrics();
    return harness;
  }

  /** Forgets the spans and starts the metrics from zero. */
  reset(): void {
    this.exporter.reset();
    this.resetMetrics();
  }

  resetMetrics(): void {
    const old = this.#meterProvider;
    metrics.disable();
    this.#reader = new CollectingReader();
    this.#meterProvider = new MeterProvider({ readers: [this.#reader] });
    metrics.setGlobalMeterProvider(this.#meterProvider);
    void old?.shutdown();
  }

  async uninstall(): Promise<void> {
    trace.disable();
    metrics.disable();
    context.disable();
    propagation.disable();
    await this.#tracerProvider.shutdown();
    await this.#meterProvider?.shutdown();
  }

  /** Every ended span, in the order they ended. */
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The library's metrics (scope `@hush/providers`) as collected now. */
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.#reader!.collect();
    if (errors.length > 0) throw errors[0];
    return resourceMetrics.scopeMetrics.filter((s) => s.scope.name === '@hush/providers').flatMap((s) => s.metrics);
  }

  async metric(name: string): Promise<MetricData | undefined> {
    return (await this.metrics()).find((m) => m.descriptor.name === name);
  }
}

/** A histogram's data points, as plain values. */
export function histogramPoints(metric: MetricData | undefined): Array<{ attributes: Attributes; count: number; sum: number; boundaries: number[] }> {
  if (!metric) return [];
  if (metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${metric.descriptor.name} is not a histogram`);
  return (metric.dataPoints as Array<DataPoint<Histogram>>).map((p) => ({
    attributes: p.attributes,
    count: p.value.count,
    sum: p.value.sum ?? NaN,
    boundaries: p.value.buckets.boundaries,
  }));
}

/** A counter's data points, as plain values. */
export function sumPoints(metric: MetricData | undefined): Array<{ attributes: Attributes; value: number }> {
  if (!metric) return [];
  if (metric.dataPointType !== DataPointType.SUM) throw new Error(`${metric.descriptor.name} is not a sum`);
  return (metric.dataPoints as Array<DataPoint<number>>).map((p) => ({ attributes: p.attributes, value: p.value }));
}

/** The span's parent span id (`parentSpanContext` in SDK 2.x). */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
