// The telemetry part of `npm run bench`, driven from scripts/bench.mjs: the library's chat calls in
// three processes of their own (telemetry-worker.mjs: no instrumentation, the API without an SDK,
// an SDK with an in-memory exporter), all alive at once and run in turn, one at a time, so the three
// are compared within a round, on the same upstream. Every round runs chat64 in each, then chat1 in
// each. The pair the target is about (none, api) runs in quarters, A B B A B A A B (which of the two
// is A alternates from round to round), so that a machine getting slower or faster during the round,
// or busy for a moment, weighs about the same on both; the sdk process runs once (half the calls), at
// the end or the start of the round (alternating).
import { fileURLToPath } from 'node:url';
import { forkChild, log } from './util.mjs';

export const TELEMETRY_MODES = ['none', 'api', 'sdk'];
export const TELEMETRY_LABELS = {
  none: 'no instrumentation (@opentelemetry/api not resolvable)',
  api: '@opentelemetry/api, no SDK',
  sdk: 'SDK: BasicTracerProvider + SimpleSpanProcessor(InMemorySpanExporter), MeterProvider + MetricReader, AsyncLocalStorageContextManager, W3C propagator',
};
const PRELOAD = fileURLToPath(new URL('./otel-gate.cjs', import.meta.url));

/** A forked worker, asked one run at a time. */
function worker(mode, kind, baseURL, track) {
  let fatal = false;
  let next = 0;
  const waiting = new Map();
  const handle = track(
    forkChild('telemetry-worker.mjs', [JSON.stringify({ baseURL, mode: kind })], {
      execArgv: ['--expose-gc', '--require', PRELOAD],
      env: { BENCH_HIDE_OTEL: kind === 'none' ? '1' : '0' },
      timeoutMs: 120_000,
      onMessage: (m) => {
        if (m?.fatal) fatal = true;
        if (m?.reply !== undefined) {
          waiting.get(m.reply)?.(m);
          waiting.delete(m.reply);
        }
      },
    }),
  );
  handle.child.once('exit', (code, signal) => {
    for (const done of waiting.values()) done({ failure: `the ${mode} process exited (${signal ?? code})` });
    waiting.clear();
  });
  return {
    mode,
    child: handle.child,
    ready: handle.first.catch((err) => {
      throw Object.assign(err, { fatal });
    }),
    /** One checked run: its figures, or throws (err.fatal: the process is not what it says). */
    run(section, count, timeoutMs = 120_000) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${mode} ${section}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, (m) => {
          clearTimeout(timer);
          if (m.figures) resolve(m.figures);
          else reject(Object.assign(new Error(m.failure), { fatal: !!m.fatal }));
        });
        handle.child.send({ id, section, count });
      });
    },
    close() {
      if (handle.child.connected) handle.child.send({ close: true });
    },
  };
}

/**
 * Round r's runs, as [mode, share of the round's calls]: none and api in quarters, A B B A B A A B
 * (finely interleaved: a burst of load from elsewhere falls on both alike); sdk, whose cost is
 * far above the noise, in one run of half the calls.
 */
function schedule(r) {
  const [a, b] = r % 2 ? ['api', 'none'] : ['none', 'api'];
  const pair = [a, b, b, a, b, a, a, b].map((mode) => [mode, 0.25]);
  return r % 2 ? [['sdk', 0.5], ...pair] : [...pair, ['sdk', 0.5]];
}

/** One mode's figures in a round, from its runs: totals over them (calls/s = all calls ÷ all time). */
function combine(runs) {
  const calls = runs.reduce((a, f) => a + f.calls, 0);
  const ms = runs.reduce((a, f) => a + f.ms, 0);
  const cpuMs = runs.reduce((a, f) => a + f.cpuMsPerCall * f.calls, 0);
  const f = {
    calls,
    ms,
    callsPerS: (calls / ms) * 1000,
    cpuMsPerCall: cpuMs / calls,
    upstreamCpu: runs.reduce((a, f) => a + f.upstreamCpu * f.ms, 0) / ms,
    runs,
  };
  if (runs[0].spans !== undefined) {
    f.spans = runs.reduce((a, f) => a + f.spans, 0);
    f.spansPerCall = f.spans / calls;
  }
  return f;
}

/**
 * Measures the three modes: { info, results: { chat64: { none: [...], api, sdk }, chat1 }, broken,
 * fatal }. A mode that breaks is left out from then on (and `broken[mode]` says why); `fatal` lists
 * the processes found not to be what they say (the API visible where hidden, and so on).
 */
export async function measureTelemetry({ baseURL, rounds, counts, track, stopChild, control = false }) {
  const info = {};
  const broken = {};
  const fatal = [];
  const results = { chat64: {}, chat1: {} };
  const workers = {};
  const fail = (mode, when, err) => {
    broken[mode] = `${when}: ${err?.message ?? err}`;
    if (err?.fatal) fatal.push(`${mode}: ${err.message}`);
    for (const s of Object.values(results)) delete s[mode];
    log(`  telemetry ${mode}: ${err?.fatal ? 'FAILED CHECK' : 'BROKEN'} (${when}): ${err?.message ?? err}`);
  };
  try {
    // One at a time: set-ups (Nest, the SDK) do not overlap.
    for (const mode of TELEMETRY_MODES) {
      const w = worker(mode, control && mode === 'api' ? 'none' : mode, baseURL, track);
      workers[mode] = w;
      try {
        info[mode] = (await w.ready).info;
      } catch (err) {
        fail(mode, 'set-up', err);
      }
    }
    const live = () => TELEMETRY_MODES.filter((m) => !broken[m]);
    // Warm-up, checked like the rest: half a run of each section each (JIT, the connection pool).
    for (const mode of live()) {
      try {
        for (const section of ['chat64', 'chat1']) await workers[mode].run(section, Math.ceil(counts[section] / 2));
      } catch (err) {
        fail(mode, 'warm-up', err);
      }
    }
    for (let r = 0; r < rounds && live().includes('none'); r++) {
      const line = [];
      for (const section of ['chat64', 'chat1']) {
        const runs = {};
        for (const [mode, share] of schedule(r)) {
          if (broken[mode]) continue;
          try {
            (runs[mode] ??= []).push(await workers[mode].run(section, Math.ceil(counts[section] * share)));
          } catch (err) {
            fail(mode, `round ${r + 1} ${section}`, err);
          }
        }
        const parts = [];
        for (const mode of TELEMETRY_MODES) {
          if (broken[mode] || !runs[mode]) continue;
          const f = { round: r, ...combine(runs[mode]) };
          (results[section][mode] ??= []).push(f);
          parts.push(
            `${mode} ${f.callsPerS.toFixed(0)}/s ${(f.cpuMsPerCall * 1000).toFixed(0)} µs cpu${f.spans ? ` ${f.spansPerCall.toFixed(1)} spans/call` : ''}`,
          );
        }
        line.push(`${section}: ${parts.join(', ')}`);
      }
      log(`  telemetry round ${r + 1}/${rounds}: ${line.join('; ')}`);
    }
  } finally {
    for (const w of Object.values(workers)) w.close();
    await Promise.all(Object.values(workers).map((w) => stopChild(w.child)));
  }
  return { info, results, broken, fatal };
}
