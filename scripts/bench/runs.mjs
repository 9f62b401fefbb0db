// One measured run of a contender, shared by the processes that measure chat and stream (client-worker,
// telemetry-worker): a GC, then `count` calls, then the upstream's counters checked (exactly one
// request per call, nothing refused). The contender checks every answer itself (contenders.mjs).
import { performance } from 'node:perf_hooks';
import { STREAM_CHUNKS } from './shape.mjs';
import { gc, pool, quantile, settle, upstreamStats } from './util.mjs';

/**
 * Runs `section` (chat64: calls 64 in flight; chat1: one at a time; stream: 64 streams in flight) of
 * contender `c` and returns its figures, or throws. `expect` adds upstream counters to check
 * (e.g. `{ traced: n }`: requests that carried a traceparent header).
 */
export async function measureRun(section, c, count, baseURL, expect = {}) {
  gc();
  await settle();
  await upstreamStats(baseURL); // reset the counters
  const cpu0 = process.cpuUsage();
  let figures;
  if (section === 'chat64') {
    const t0 = performance.now();
    await pool(count, 64, () => c.chat());
    const ms = performance.now() - t0;
    figures = { calls: count, ms, callsPerS: (count / ms) * 1000 };
  } else if (section === 'chat1') {
    const lat = new Float64Array(count);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const s = performance.now();
      await c.chat();
      lat[i] = performance.now() - s;
    }
    const ms = performance.now() - t0;
    figures = { calls: count, ms, callsPerS: (count / ms) * 1000, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
  } else if (section === 'stream') {
    let chunks = 0;
    const t0 = performance.now();
    await pool(count, 64, async () => {
      const n = await c.stream();
      chunks += n;
    });
    const ms = performance.now() - t0;
    if (chunks !== count * STREAM_CHUNKS) throw new Error(`${chunks} chunks in all, expected ${count * STREAM_CHUNKS}`);
    figures = { streams: count, chunks, ms, chunksPerS: (chunks / ms) * 1000 };
  } else {
    throw new Error(`unknown section ${section}`);
  }
  const cpu = process.cpuUsage(cpu0);
  // This process's CPU per call (per stream): the contender's own work, less disturbed than wall
  // time by a busy machine (the upstream's CPU is in its own process).
  figures.cpuMsPerCall = (cpu.user + cpu.system) / 1000 / count;
  const stats = await upstreamStats(baseURL);
  const streaming = section === 'stream';
  const expected = {
    chat: streaming ? 0 : count,
    chatStream: streaming ? count : 0,
    chatStreamUsage: streaming ? count : 0,
    bad: 0,
    embeddings: 0,
    ...expect,
  };
  for (const [k, v] of Object.entries(expected)) {
    if (stats[k] !== v) throw new Error(`upstream saw ${k} = ${stats[k]}, expected ${v}${stats.bad ? ` (${JSON.stringify(stats.badReasons)})` : ''}`);
  }
  figures.upstreamCpu = stats.cpuMs / figures.ms; // the share of one core the upstream used
  return figures;
}
