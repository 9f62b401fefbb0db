import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayObservability } from '../src/observability/observability.js';
import { postJson, startGateway, type GatewayHarness } from './support/gateway-harness.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`;
const W3C = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;
const chatBody = { model: 'chat', messages: [{ role: 'user', content: 'trace me' }] };

const exporter = new InMemorySpanExporter();
let gw: GatewayHarness;

beforeAll(async () => {
  gw = await startGateway({ gateway: { telemetry: { serviceName: 'gateway-under-test', spanProcessors: [new SimpleSpanProcessor(exporter)] } } });
});
afterAll(async () => {
  await gw?.close();
});
beforeEach(() => {
  exporter.reset();
  gw.upstream.reset();
});

/** The spans of one trace, once the SERVER span has ended (it ends as the answer is finished). */
async function spansOf(traceId: string): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    if (spans.some((s) => s.kind === SpanKind.SERVER) || Date.now() > deadline) return spans;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The chain of parents of `span` up to the trace's root (or its remote parent). */
function ancestry(spans: ReadableSpan[], span: ReadableSpan): string[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const chain: string[] = [];
  for (let parent = span.parentSpanContext?.spanId; parent !== undefined; parent = byId.get(parent)?.parentSpanContext?.spanId) {
    chain.push(parent);
    if (!byId.has(parent)) break;
  }
  return chain;
}

describe('W3C trace context through the gateway', () => {
  it('continues the trace a client sends: SERVER span → library call span → upstream request, one trace id', async () => {
    const res = await postJson(`${gw.baseURL}/chat/completions`, chatBody, { traceparent: TRACEPARENT, 'x-request-id': 'trace-req-1' });
    expect(res.status).toBe(200);

    const spans = await spansOf(TRACE_ID);
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server).toBeDefined();
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(server.parentSpanContext?.spanId).toBe(CLIENT_SPAN_ID);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'url.path': '/v1/chat/completions',
      'http.request.header.x-request-id': ['trace-req-1'],
      'hush.client': 'anonymous',
    });
    expect(server.instrumentationScope.name).toBe('hush-gateway');
    expect(server.resource.attributes['service.name']).toBe('gateway-under-test');

    // The library's call span is the server span's child (directly, or through its attempt span).
    const calls = spans.filter((s) => s.kind === SpanKind.CLIENT && s.instrumentationScope.name === '@hush/providers');
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(ancestry(spans, call)).toContain(server.spanContext().spanId);
    expect(calls.map((c) => c.attributes['gen_ai.request.model'])).toContain('gpt-4o-mini');

    // The upstream got a traceparent of the same trace, whose parent is one of the recorded spans.
    const sent = W3C.exec(String(gw.upstream.lastRequest!.headers.traceparent));
    expect(sent).not.toBeNull();
    expect(sent![1]).toBe(TRACE_ID);
    expect(calls.map((c) => c.spanContext().spanId)).toContain(sent![2]);
  });

  it('starts a trace when the client sent none, and sends it upstream', async () => {
    const res = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: ['a', 'b'] });
    expect(res.status).toBe(200);
    const sent = W3C.exec(String(gw.upstream.lastRequest!.headers.traceparent));
    expect(sent).not.toBeNull();
    const spans = await spansOf(sent![1]!);
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.name).toBe('POST /v1/embeddings');
    expect(server.parentSpanContext).toBeUndefined();
    expect(spans.some((s) => s.spanContext().spanId === sent![2])).toBe(true);
  });

  it('continues the trace of a stream, and marks a failed request as an error', async () => {
    const stream = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
      body: JSON.stringify({ ...chatBody, stream: true }),
    });
    expect(await stream.text()).toContain('[DONE]');
    expect(W3C.exec(String(gw.upstream.lastRequest!.headers.traceparent))![1]).toBe(TRACE_ID);
    const server = (await spansOf(TRACE_ID)).find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.attributes['http.response.status_code']).toBe(200);

    exporter.reset();
    const otherTrace = '11111111111111111111111111111111';
    const failed = await postJson(`${gw.baseURL}/chat/completions`, { ...chatBody, model: 'down' }, { traceparent: `00-${otherTrace}-2222222222222222-01` });
    expect(failed.status).toBe(503);
    const spans = await spansOf(otherTrace);
    const failedServer = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(failedServer.status.code).toBe(SpanStatusCode.ERROR);
    expect(failedServer.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503' });
    expect(spans.some((s) => s.instrumentationScope.name === '@hush/providers' && s.status.code === SpanStatusCode.ERROR)).toBe(true);
  });

  it('names an unrouted request by its method only (no http.route)', async () => {
    await fetch(`${gw.url}/nowhere/at/all`, { headers: { traceparent: TRACEPARENT } });
    const server = (await spansOf(TRACE_ID)).find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.name).toBe('GET');
    expect(server.attributes['http.route']).toBeUndefined();
    expect(server.attributes['http.response.status_code']).toBe(404);
  });
});

describe('the SDK the gateway registers', () => {
  it('is the global tracer and meter provider while the app runs, and gives both back when it closes', async () => {
    expect(gw.app.get(GatewayObservability).telemetry!.tracing).toBe(true);
    const other = await startGateway();
    try {
      // A second gateway in the same process cannot take the slots of the first: it records no traces.
      expect(other.app.get(GatewayObservability).telemetry!.tracing).toBe(false);
      expect(other.app.get(GatewayObservability).telemetry!.globalMeters).toBe(false);
    } finally {
      await other.close();
    }
    // Closing the second left the first's in place.
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(true);
  });

  it('flushes its spans and unregisters when the app closes; another gateway can then register', async () => {
    await gw.close();
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);

    // Batched spans, with a delay longer than the test: only the shutdown can export them.
    const exported: ReadableSpan[] = [];
    const recorder: SpanExporter = {
      export: (spans, done) => {
        exported.push(...spans);
        done({ code: 0 }); // ExportResultCode.SUCCESS
      },
      shutdown: async () => undefined,
    };
    gw = await startGateway({ gateway: { telemetry: { spanProcessors: [new BatchSpanProcessor(recorder, { scheduledDelayMillis: 60_000 })] } } });
    expect(gw.app.get(GatewayObservability).telemetry!.tracing).toBe(true);
    await postJson(`${gw.baseURL}/chat/completions`, chatBody, { traceparent: TRACEPARENT });
    expect(exported).toHaveLength(0);
    await gw.close();
    gw = undefined as unknown as GatewayHarness;
    expect(exported.some((s) => s.kind === SpanKind.SERVER && s.spanContext().traceId === TRACE_ID)).toBe(true);
    expect(exported.some((s) => s.instrumentationScope.name === '@hush/providers')).toBe(true);
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
  });
});
