// Chat and stream throughput and latency, all contenders in this one process (forked by
// scripts/bench.mjs with --expose-gc), against the fake upstream in its own process.
// Rounds alternate the contenders (the order rotates every round), each run preceded by a GC;
// `everyOtherRound` contenders (the slowest, shown for context) run in rounds 1, 3, 5... only;
// each run is checked: every answer by the contender itself (text, usage, chunk count) and, after
// the run, the upstream's counters (exactly one request per call, nothing refused).
// argv[2]: JSON { baseURL, sections: ['chat', 'stream'], rounds, counts: {...}, contenders: [...] }
import { performance } from 'node:perf_hooks';
import { CONTENDERS, makeContender } from './contenders.mjs';
import { STREAM_CHUNKS } from './shape.mjs';
import { childLifetime, gc, log, pool, quantile, settle, upstreamStats } from './util.mjs';

childLifetime(Number(process.env.BENCH_CHILD_LIFETIME_MS ?? 20 * 60_000));
const { baseURL, sections, rounds, counts, contenders: names = CONTENDERS, everyOtherRound = [] } = JSON.parse(process.argv[2]);

const contenders = {};
// What broke, by section then contender; a contender broken in one section still runs the others.
const broken = {};
for (const name of names) {
  try {
    contenders[name] = await makeContender(name, baseURL);
  } catch (err) {
    broken.setup = { ...broken.setup, [name]: String(err?.message ?? err) };
    log(`  ${name}: setup failed: ${err?.stack ?? err}`);
  }
}

/** One measured run of `section` by `name`: the figures, or throws. */
async function run(section, name, count) {
  const c = contenders[name];
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
  }
  const cpu = process.cpuUsage(cpu0);
  // This process's CPU per call (per stream): the contender's own work, less disturbed than wall
  // time by a busy machine (the upstream's CPU is in its own process).
  figures.cpuMsPerCall = (cpu.user + cpu.system) / 1000 / count;
  const stats = await upstreamStats(baseURL);
  const streaming = section === 'stream';
  const expected = { chat: streaming ? 0 : count, chatStream: streaming ? count : 0, chatStreamUsage: streaming ? count : 0, bad: 0, embeddings: 0 };
  for (const [k, v] of Object.entries(expected)) {
    if (stats[k] !== v) throw new Error(`upstream saw ${k} = ${stats[k]}, expected ${v}${stats.bad ? ` (${JSON.stringify(stats.badReasons)})` : ''}`);
  }
  figures.upstreamCpu = stats.cpuMs / figures.ms; // the share of one core the upstream used
  return figures;
}

const results = {};
for (const section of sections.flatMap((s) => (s === 'chat' ? ['chat64', 'chat1'] : [s]))) {
  const count = counts[section];
  const out = (results[section] = {});
  const failed = (broken[section] = {});
  const live = () => names.filter((n) => contenders[n] && !failed[n]);
  // Warm-up: half a run each (JIT, connection pools), checked like the rest.
  for (const name of live()) {
    try {
      await run(section, name, Math.max(16, Math.ceil(count / 2)));
    } catch (err) {
      failed[name] = `warm-up: ${err?.message ?? err}`;
      log(`  ${section} ${name}: BROKEN in warm-up: ${err?.stack ?? err}`);
    }
  }
  for (let r = 0; r < rounds; r++) {
    // The slowest context contenders run in rounds 1, 3, 5...: their ratios are context, not targets.
    const order = live().filter((n) => r % 2 === 0 || !everyOtherRound.includes(n));
    const rotated = order.map((_, i) => order[(i + r) % order.length]);
    const line = [];
    for (const name of rotated) {
      try {
        const f = { round: r, ...(await run(section, name, count)) };
        (out[name] ??= []).push(f);
        line.push(
          `${name} ${section === 'stream' ? f.chunksPerS.toFixed(0) + ' chunks/s' : f.callsPerS.toFixed(0) + ' calls/s'}${f.p50Ms !== undefined ? ` p50 ${f.p50Ms.toFixed(3)} ms` : ''} [upstream ${(f.upstreamCpu * 100).toFixed(0)}% cpu]`,
        );
      } catch (err) {
        failed[name] = `round ${r + 1}: ${err?.message ?? err}`;
        delete out[name];
        log(`  ${section} ${name}: BROKEN: ${err?.stack ?? err}`);
      }
    }
    log(`  ${section} round ${r + 1}/${rounds}: ${line.join(', ')}`);
  }
}

for (const c of Object.values(contenders)) await c.close?.();
// Exits once the answer is sent: sockets left in a contender's pool must not keep this process alive.
process.send({ result: { results, broken } }, () => process.exit(0));
