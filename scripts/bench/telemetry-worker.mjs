// The telemetry part of `npm run bench`: the library's chat calls in one of three processes, forked
// by scripts/bench/telemetry.mjs with --expose-gc, which runs them in turn (rounds alternating):
//   none  no instrumentation: '@opentelemetry/api' cannot be resolved (otel-gate.cjs, preloaded with
//         --require in every process, hides it here), as in an app without the optional peer
//   api   the API resolvable, no SDK registered: the library's default state in an app that has the API
//   sdk   an SDK registered globally: BasicTracerProvider + SimpleSpanProcessor(InMemorySpanExporter),
//         MeterProvider with a MetricReader, AsyncLocalStorageContextManager, the W3C trace-context
//         propagator
// Each process checks that it is what it says (the API hidden, or resolvable; the library asking for
// it, and refused or served; the SDK recording, or not), before and after every run, and every run is checked as the rest of the bench checks
// it (the contender's answers, the upstream's counters), plus: in sdk, every request carried a
// traceparent, spans were recorded (at least one per call) and every call was counted in the
// metrics; elsewhere, no request carried one. A failed check is an error for the parent: that
// process is reported BROKEN, not measured. `fatal` marks a process that is not what it says.
//
// argv[2]: JSON { baseURL, mode }. Sends { ready, info } once set up; then answers every
// { id, section, count } with { reply: id, figures } or { reply: id, failure, fatal }; exits on { close }.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { makeContender } from './contenders.mjs';
import { measureRun } from './runs.mjs';
import { childLifetime, log } from './util.mjs';

childLifetime(Number(process.env.BENCH_CHILD_LIFETIME_MS ?? 20 * 60_000));
const { baseURL, mode } = JSON.parse(process.argv[2]);
const API = '@opentelemetry/api';
const require = createRequire(import.meta.url);

class FatalError extends Error {}
const fatal = (what) => {
  throw new FatalError(`telemetry ${mode}: ${what}`);
};

/** Where '@opentelemetry/api' resolves from `req`, or the error it fails with. */
function resolveApi(req) {
  try {
    return { path: req.resolve(API) };
  } catch (err) {
    return { error: err };
  }
}
// Resolved as the library resolves it: from its own files (its public entry point, dist/index.js).
const libraryDir = dirname(require.resolve('@hush/providers')) + sep;
// This file's own look-ups from there go as from a file of the library's that does not exist, so that
// they are not taken for the library's (otel-gate.cjs records who asked).
const probeFile = `${libraryDir}__bench-probe__.js`;
const libraryRequire = createRequire(probeFile);
const gate = globalThis.__benchOtelGate;
const apiLoaded = () => Object.keys(require.cache).filter((k) => k.includes('/@opentelemetry/api/'));

// --- set-up: this process's state, checked before the library is even loaded; then the library ------
const info = { mode, pid: process.pid };
let sdk;

async function setup() {
  if (!gate) fatal('scripts/bench/otel-gate.cjs was not preloaded (--require)');
  if (gate.hidden !== (mode === 'none')) fatal(`otel-gate.cjs ${gate.hidden ? 'hides' : 'does not hide'} '${API}' (BENCH_HIDE_OTEL)`);
  if (mode === 'none') {
    for (const [where, req] of [
      ['scripts/bench', require],
      ['the library', libraryRequire],
    ]) {
      const r = resolveApi(req);
      if (r.path) fatal(`require.resolve('${API}') from ${where} gave ${r.path}: the API is not hidden, this is not "no instrumentation"`);
      if (r.error?.code !== 'MODULE_NOT_FOUND') fatal(`require.resolve('${API}') from ${where} threw ${r.error?.code ?? r.error}, not MODULE_NOT_FOUND`);
    }
    info.apiResolves = false;
  } else {
    const r = resolveApi(libraryRequire);
    if (!r.path) fatal(`'${API}' cannot be resolved from the library (${r.error?.message}): install it (a dependency of this repository)`);
    info.apiResolves = r.path;
    const dir = r.path.slice(0, r.path.lastIndexOf(`/node_modules/${API}/`) + `/node_modules/${API}/`.length);
    info.apiVersion = JSON.parse(readFileSync(`${dir}package.json`, 'utf8')).version;
    if (mode === 'sdk') sdk = await registerSdk();
    else if (mode !== 'api') throw new Error(`unknown mode ${mode}`);
  }
  const library = await makeContender('library', baseURL);
  // What the library itself sees of OpenTelemetry: a span it would start is recording only under the SDK.
  if (mode !== 'none') {
    const api = require(API);
    const probe = api.trace.getTracer('bench-probe').startSpan('probe');
    const recording = probe.isRecording();
    probe.end();
    if (recording !== (mode === 'sdk'))
      fatal(`a span is ${recording ? '' : 'not '}recording: ${mode === 'sdk' ? 'the SDK is not registered' : 'an SDK is registered'}`);
    info.spanRecording = recording;
    sdk?.exporter.reset();
  }
  return library;
}

/** The SDK, registered globally as an app would; returns what the checks need. */
async function registerSdk() {
  const api = require(API);
  const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
  const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
  // Dependencies of the SDK packages (hoisted today), resolved from the packages that bring them.
  const { AsyncLocalStorageContextManager } = createRequire(require.resolve('@opentelemetry/sdk-node'))('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = createRequire(require.resolve('@opentelemetry/sdk-trace-base'))('@opentelemetry/core');
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  class BenchReader extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  const reader = new BenchReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const ok = [
    api.trace.setGlobalTracerProvider(tracerProvider),
    api.metrics.setGlobalMeterProvider(meterProvider),
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()),
    api.propagation.setGlobalPropagator(new W3CTraceContextPropagator()),
  ];
  if (ok.includes(false)) fatal(`registering the SDK globally failed (${ok})`);
  return { api, exporter, tracerProvider, reader, callsCounted: 0 };
}

/** The library's calls counted in its duration histogram so far (cumulative). */
async function callsInMetrics() {
  const { resourceMetrics, errors } = await sdk.reader.collect();
  if (errors.length) throw new Error(`metrics collection: ${errors.map(String).join('; ')}`);
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) if (m.descriptor.name === 'gen_ai.client.operation.duration') for (const p of m.dataPoints) n += p.value.count;
  }
  return n;
}

/** After a run: this process is still what it says, and the run was observed as it should be. */
async function checkAfter(count) {
  const checks = {};
  // The library asked require() for the API (and was refused, or served), not merely: it never looked.
  const askers = [...gate.askedBy].filter((f) => f.startsWith(libraryDir) && f !== probeFile);
  if (!askers.length)
    fatal(`the library never asked require() for '${API}' (askers: ${[...gate.askedBy].join(', ') || 'none'}): hiding it cannot stand for "not installed"`);
  checks.apiAskedBy = askers.map((f) => f.slice(libraryDir.length));
  const loaded = apiLoaded();
  if (mode === 'none') {
    if (loaded.length) fatal(`'${API}' got loaded (${loaded[0]})`);
    checks.apiRequestsRefused = gate.refused;
  } else if (!loaded.length) fatal(`'${API}' is not loaded`);
  if (sdk) {
    await sdk.tracerProvider.forceFlush();
    const spans = sdk.exporter.getFinishedSpans().length;
    sdk.exporter.reset(); // memory stays flat from run to run
    if (spans < count) throw new Error(`${spans} spans recorded for ${count} calls: expected at least one per call`);
    checks.spans = spans;
    checks.spansPerCall = spans / count;
    const counted = await callsInMetrics();
    const delta = counted - sdk.callsCounted;
    sdk.callsCounted = counted;
    if (delta !== count) throw new Error(`metrics: gen_ai.client.operation.duration counted ${delta} calls, expected ${count}`);
    checks.callsInMetrics = delta;
  }
  return checks;
}

let library;
try {
  library = await setup();
} catch (err) {
  log(`  telemetry ${mode}: set-up failed: ${err?.stack ?? err}`);
  process.send({ error: String(err?.message ?? err), fatal: err instanceof FatalError }, () => process.exit(1));
}
if (library) {
  process.on('message', async (m) => {
    if (m?.close) {
      await library.close?.();
      process.exit(0);
    }
    if (m?.id === undefined) return;
    try {
      // Every request of the sdk process carries the trace context (the propagator, through the active
      // span of each attempt); no other process's does.
      const figures = await measureRun(m.section, library, m.count, baseURL, { traced: mode === 'sdk' ? m.count : 0 });
      Object.assign(figures, await checkAfter(m.count));
      process.send({ reply: m.id, figures });
    } catch (err) {
      log(`  telemetry ${mode} ${m.section}: ${err?.stack ?? err}`);
      process.send({ reply: m.id, failure: String(err?.message ?? err), fatal: err instanceof FatalError });
    }
  });
  process.send({ ready: true, info });
}
