// Chat and stream throughput and latency, all contenders in this one process (forked by
// scripts/bench.mjs with --expose-gc), against the fake upstream in its own process.
// Rounds alternate the contenders (the order rotates every round), each run preceded by a GC;
// `everyOtherRound` contenders (the slowest, shown for context) run in rounds 1, 3, 5... only;
// each run is checked: every answer by the contender itself (text, usage, chunk count) and, after
// the run, the upstream's counters (exactly one request per call, nothing refused).
// argv[2]: JSON { baseURL, sections: ['chat', 'stream'], rounds, counts: {...}, contenders: [...] }
import { CONTENDERS, makeContender } from './contenders.mjs';
import { measureRun } from './runs.mjs';
import { childLifetime, log } from './util.mjs';

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
const run = (section, name, count) => measureRun(section, contenders[name], count, baseURL);

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
