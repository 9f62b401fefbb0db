// npm run bench: what the library and the gateway cost, as ratios against baselines measured in the
// same run, on 127.0.0.1 only. The npm script builds first (`npm run build`), then runs this with
// --expose-gc. Every figure is taken against a fake OpenAI upstream in its own process, which
// answers at once from pre-serialized bodies, so what is measured is the clients' own work.
//
//   chat     chat calls/s with 64 in flight; calls/s and p50 latency with 1 in flight
//   stream   streamed chunks/s, 64 streams in flight
//   embed    50 000 texts embedded: wall time and peak memory, each job alone in a fresh process
//   gateway  the built gateway (dist/gateway/app.js createApp) in its own process: added latency
//            (p50, p99) against the same call straight to the upstream; calls/s with 64 in flight
//   import   import('@hush/providers') in a fresh process (its own part, after Nest's); booting 100
//            llm instances
//   telemetry the library's chat calls (64 in flight; 1 in flight) in three processes of their own,
//            rounds alternating: no instrumentation (@opentelemetry/api made unresolvable by a
//            --require preload), the API without an SDK (target: calls/s within 2% of no
//            instrumentation), an SDK with an in-memory exporter (its cost, stated); with CPU per call
//   store    the shared store (issue 12): a redis-server of its own on 127.0.0.1 (the Redis rows are
//            skipped without one) and two processes of the library, no store (memory) and store type
//            redis, rounds alternating: cache hits, 1 in flight (embed of one cached text, a cached
//            generate): p50 and p99 (target: the cached generate's p50 < 0.1 ms on memory); chat calls
//            (64 in flight; 1 in flight) on an llm with rpm+tpm that never bind, Redis ÷ memory: calls/s
//            and CPU per call (stated), beside the same llm without rpm/tpm (the floor)
//
// Contenders: the library (only its public API, '@hush/providers'), the `openai` client (the
// baseline of every ratio), the Vercel AI SDK, LangChain.js and undici alone (the floor).
// Rounds alternate the contenders (the order rotates every round) and each figure is the median of
// the rounds, min and max beside it; ratios are taken within a round, then their median. Every run
// is checked (texts, chunk counts, usage, every vector, the upstream's request counts), so a broken
// contender is reported as such instead of looking fast.
//
// Environment:
//   BENCH_ROUNDS         rounds of every part but embed (default 5; 2 with BENCH_QUICK=1)
//   BENCH_QUICK=1        a fast smoke run: fewer calls, 5 000 texts, 1 embed round
//   BENCH_ONLY           parts to run, comma-separated: chat,stream,embed,gateway,import,telemetry,store
//   BENCH_TELEMETRY_ROUNDS  default max(BENCH_ROUNDS, 5); 2 with BENCH_QUICK=1
//   BENCH_TELEMETRY_CALLS   chat calls per run with 64 in flight (1 in flight: half); default below
//   BENCH_TELEMETRY_CONTROL=1  an A/A check of the telemetry rows: the "API, no SDK" process is a second
//                        no-instrumentation one, so its ratio shows how far apart two identical processes
//                        come out on this machine (what a 2% target can resolve)
//   BENCH_STORE_ROUNDS   default BENCH_ROUNDS; BENCH_STORE_HITS cache hits per run (default below)
//   BENCH_STORE_CALLS    budgeted chat calls per run with 64 in flight (1 in flight: a quarter)
//   REDIS_SERVER_BIN     the redis-server binary of the store part (default: redis-server on the PATH)
//   BENCH_EMBED_ROUNDS   default min(BENCH_ROUNDS, 3); BENCH_EMBED_TEXTS default 50000
//   BENCH_CHAT_CALLS, BENCH_STREAMS, BENCH_GATEWAY_CALLS   per-run counts (defaults below)
//   BENCH_OUT            the JSON file (default dist/bench-results.json, out of git)
//   BENCH_FAULT=chat|stream|embed   self-test: the upstream errs now and then; every contender hit
//                        must come out BROKEN, never measured
// Results: a table on stdout, everything (every round of every contender) as JSON in BENCH_OUT.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASELINE, CONTENDERS, EMBED_BATCHING, LABELS } from './bench/contenders.mjs';
import { measureGateway } from './bench/gateway-client.mjs';
import { STREAM_CHUNKS } from './bench/shape.mjs';
import { buildReport, formatReport } from './bench/report.mjs';
import { measureStore, STORE_LABELS } from './bench/store.mjs';
import { measureTelemetry, TELEMETRY_LABELS } from './bench/telemetry.mjs';
import { forkChild, log, median, stopChild } from './bench/util.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const startedAt = new Date();
const loadAvgAtStart = os.loadavg();
const t0 = performance.now();

if (typeof globalThis.gc !== 'function') throw new Error('bench: run it as `npm run bench` (node --expose-gc scripts/bench.mjs): rounds start with a GC');

// --- knobs ------------------------------------------------------------------------------------
const QUICK = process.env.BENCH_QUICK === '1';
const positive = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number above 0; got "${raw}"`);
  return n;
};
const ROUNDS = positive('BENCH_ROUNDS', QUICK ? 2 : 5);
const EMBED_ROUNDS = positive('BENCH_EMBED_ROUNDS', QUICK ? 1 : Math.min(ROUNDS, 3));
const EMBED_TEXTS = positive('BENCH_EMBED_TEXTS', QUICK ? 5_000 : 50_000);
// The AI SDK (float JSON checked by a schema, ~3× slower) and LangChain, context only, run one smaller
// job per run, against an openai-client job of the same size.
const EMBED_SMALL_TEXTS = positive('BENCH_EMBED_SMALL_TEXTS', QUICK ? 1_000 : 5_000);
const SECTIONS = ['chat', 'stream', 'embed', 'gateway', 'import', 'telemetry', 'store'];
const ONLY = (process.env.BENCH_ONLY ?? SECTIONS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of ONLY) if (!SECTIONS.includes(s)) throw new Error(`BENCH_ONLY: unknown part "${s}"; the parts are ${SECTIONS.join(', ')}`);
// Per run, the same for every contender: calls (64 in flight; 1 in flight), streams (64 in flight),
// gateway calls (64 in flight); latency pairs in all; fresh processes for import and boot.
const COUNTS = QUICK
  ? { chat64: 300, chat1: 100, stream: 64, gatewayCalls: 300, latencyPairs: 200, gatewayWarmup: 300, importSamples: 3, bootSamples: 2 }
  : { chat64: 1000, chat1: 400, stream: 192, gatewayCalls: 6000, latencyPairs: 2000, gatewayWarmup: 2000, importSamples: 7, bootSamples: 7 };
COUNTS.chat64 = positive('BENCH_CHAT_CALLS', COUNTS.chat64);
COUNTS.stream = positive('BENCH_STREAMS', COUNTS.stream);
COUNTS.gatewayCalls = positive('BENCH_GATEWAY_CALLS', COUNTS.gatewayCalls);
// Telemetry: several thousand calls per run, so that 2% is more than a run's own jitter; at least 5 rounds.
const TELEMETRY_ROUNDS = positive('BENCH_TELEMETRY_ROUNDS', QUICK ? 2 : Math.max(ROUNDS, 5));
const telemetryCalls = positive('BENCH_TELEMETRY_CALLS', QUICK ? 600 : 4000);
const TELEMETRY_COUNTS = { chat64: telemetryCalls, chat1: Math.ceil(telemetryCalls / 2) };
const TELEMETRY_CONTROL = process.env.BENCH_TELEMETRY_CONTROL === '1';
// Store: cache hits (1 in flight) and budgeted chat calls per run, in each process.
const STORE_ROUNDS = positive('BENCH_STORE_ROUNDS', ROUNDS);
const storeHits = positive('BENCH_STORE_HITS', QUICK ? 300 : 2000);
const storeCalls = positive('BENCH_STORE_CALLS', QUICK ? 400 : 1500);
const STORE_COUNTS = { embedHit: storeHits, chatHit: storeHits, budget64: storeCalls, budget1: Math.ceil(storeCalls / 4) };
const OUT = resolve(root, process.env.BENCH_OUT ?? 'dist/bench-results.json');
const BOOT_INSTANCES = 100;

// Everything stops by itself: children exit when this process goes, and this one has a deadline.
const DEADLINE_MS = positive('BENCH_DEADLINE_MS', 20 * 60_000);
const children = new Set();
const track = (handle) => {
  children.add(handle.child);
  handle.child.once('exit', () => children.delete(handle.child));
  return handle;
};
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
setTimeout(() => {
  log(`bench: deadline of ${DEADLINE_MS} ms passed; stopping`);
  process.exit(2);
}, DEADLINE_MS).unref();

const appPath = resolve(root, 'dist/gateway/app.js');
for (const [what, path] of [
  ['the library (npm run build:lib)', resolve(root, 'libs/providers/dist/index.js')],
  ['the gateway (npm run build)', appPath],
]) {
  if (!existsSync(path)) throw new Error(`bench: ${what} is not built (${path} is missing); npm run bench builds it first`);
}

log(
  `bench: ${QUICK ? 'QUICK, ' : ''}${ROUNDS} rounds (embed ${EMBED_ROUNDS}), parts ${ONLY.join(', ')}; ` +
    `node ${process.version}, ${os.cpus().length} cpus, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);

// --- the upstream ---------------------------------------------------------------------------------
const upstream = track(forkChild('upstream.mjs', [], { execArgv: [], timeoutMs: 30_000 }));
const { port } = await upstream.first;
const baseURL = `http://127.0.0.1:${port}/v1`;
log(`bench: fake upstream on ${baseURL} (pid ${upstream.child.pid})`);

const raw = { chat: undefined, embed: undefined, gateway: undefined, import: undefined, telemetry: undefined, store: undefined };
const broken = {};
const timings = {};
let mark = performance.now();
const lap = (part) => {
  const now = performance.now();
  timings[part] = (now - mark) / 1000;
  mark = now;
  log(`  (${part}: ${timings[part].toFixed(1)} s)`);
};

// --- import and boot: fresh processes, alternated -------------------------------------------------
if (ONLY.includes('import')) {
  log('bench: import and boot');
  const samples = { library: [], openai: [], boot100: [], boot0: [] };
  const probe = async (file, arg) => (await track(forkChild(file, [arg], { execArgv: [], timeoutMs: 60_000 })).first).result;
  // The library's probes every time; the context ones (openai alone, an empty context) every other time.
  for (let i = 0; i < Math.max(COUNTS.importSamples, COUNTS.bootSamples); i++) {
    try {
      if (i < COUNTS.importSamples) {
        for (const mode of i % 2 ? ['openai', 'library'] : ['library', 'openai']) {
          if (mode === 'library' || i % 2 === 0) samples[mode].push(await probe('import-probe.mjs', mode));
        }
      }
      if (i < COUNTS.bootSamples) {
        for (const instances of i % 2 ? [0, BOOT_INSTANCES] : [BOOT_INSTANCES, 0]) {
          if (instances || i % 2 === 0) samples[instances ? 'boot100' : 'boot0'].push(await probe('boot-probe.mjs', JSON.stringify({ baseURL, instances })));
        }
      }
    } catch (err) {
      broken.import = String(err?.message ?? err);
      log(`  import/boot: BROKEN: ${err?.message ?? err}`);
      break;
    }
  }
  raw.import = samples;
  const m = (xs, k) => median(xs.map((x) => x[k])).toFixed(1);
  if (!broken.import) {
    log(
      `  import: Nest ${m(samples.library, 'nestMs')} ms, @hush/providers own part ${m(samples.library, 'ownMs')} ms (openai alone ${m(samples.openai, 'ownMs')} ms); ` +
        `boot ${BOOT_INSTANCES} instances ${m(samples.boot100, 'bootMs')} ms (empty context ${m(samples.boot0, 'bootMs')} ms)`,
    );
  }
  lap('import');
}

// --- chat and stream: one process, all contenders --------------------------------------------------
const clientSections = ['chat', 'stream'].filter((s) => ONLY.includes(s));
if (clientSections.length) {
  log(`bench: ${clientSections.join(' and ')} (${ROUNDS} rounds, contenders ${CONTENDERS.join(', ')}; ai-sdk and langchain in odd rounds only)`);
  const spec = { baseURL, sections: clientSections, rounds: ROUNDS, counts: COUNTS, everyOtherRound: ['ai-sdk', 'langchain'] };
  const worker = track(forkChild('client-worker.mjs', [JSON.stringify(spec)], { timeoutMs: 15 * 60_000 }));
  try {
    const { result } = await worker.first;
    raw.chat = result.results;
    Object.assign(broken, Object.fromEntries(Object.entries(result.broken).filter(([, v]) => Object.keys(v).length)));
  } catch (err) {
    for (const s of clientSections.flatMap((s) => (s === 'chat' ? ['chat64', 'chat1'] : [s]))) broken[s] = { all: String(err?.message ?? err) };
    log(`  ${clientSections.join('/')}: BROKEN: ${err?.message ?? err}`);
  }
  lap(clientSections.join('+'));
}

// --- telemetry: three processes of the library, run in turn ------------------------------------------
// A process found not to be what it says (the API resolvable where it must be hidden, ...) fails the
// bench: its figures would compare nothing.
const fatal = [];
if (ONLY.includes('telemetry')) {
  log(
    `bench: telemetry (${TELEMETRY_ROUNDS} rounds of ${TELEMETRY_COUNTS.chat64} calls 64 in flight and ${TELEMETRY_COUNTS.chat1} calls 1 in flight per process, half in the SDK one; ` +
      `the library with no instrumentation, ${TELEMETRY_CONTROL ? 'CONTROL: no instrumentation again' : 'the API without an SDK'}, an SDK with an in-memory exporter)`,
  );
  try {
    const t = await measureTelemetry({ baseURL, rounds: TELEMETRY_ROUNDS, counts: TELEMETRY_COUNTS, track, stopChild, control: TELEMETRY_CONTROL });
    raw.telemetry = t;
    if (Object.keys(t.broken).length) broken.telemetry = t.broken;
    fatal.push(...t.fatal.map((f) => `telemetry ${f}`));
  } catch (err) {
    broken.telemetry = { all: String(err?.message ?? err) };
    log(`  telemetry: BROKEN: ${err?.stack ?? err}`);
  }
  lap('telemetry');
}

// --- store: memory against Redis, two processes of the library and a redis-server ------------------------
if (ONLY.includes('store')) {
  log(
    `bench: store (${STORE_ROUNDS} rounds of ${STORE_COUNTS.embedHit} cache hits 1 in flight, embed and generate, and ` +
      `${STORE_COUNTS.budget64} chat calls 64 in flight, ${STORE_COUNTS.budget1} 1 in flight, on an llm with rpm+tpm; memory and redis processes in turn)`,
  );
  try {
    const s = await measureStore({ baseURL, rounds: STORE_ROUNDS, counts: STORE_COUNTS, track, stopChild });
    raw.store = s;
    if (Object.keys(s.broken).length) broken.store = s.broken;
  } catch (err) {
    broken.store = { all: String(err?.message ?? err) };
    log(`  store: BROKEN: ${err?.stack ?? err}`);
  }
  lap('store');
}

// --- the gateway: its own process, measured from this one --------------------------------------------
if (ONLY.includes('gateway')) {
  log('bench: gateway');
  const gw = track(forkChild('gateway-server.mjs', [JSON.stringify({ baseURL, appPath })], { execArgv: [], timeoutMs: 120_000 }));
  try {
    const { url } = await gw.first;
    log(`  gateway on ${url} (pid ${gw.child.pid})`);
    raw.gateway = await measureGateway({
      gatewayURL: url,
      baseURL,
      rounds: ROUNDS,
      latencyPairs: COUNTS.latencyPairs,
      warmup: COUNTS.gatewayWarmup,
      calls: COUNTS.gatewayCalls,
    });
  } catch (err) {
    broken.gateway = String(err?.message ?? err);
    log(`  gateway: BROKEN: ${err?.stack ?? err}`);
  } finally {
    await stopChild(gw.child);
  }
  lap('gateway');
}

// --- embeddings: each job alone in a fresh process --------------------------------------------------
// Every round: the library and the openai client (order alternating). The middle round also has
// undici, the floor (one job: a 50k job takes 10-30 s here). The AI SDK (float JSON through a schema,
// ~3x slower) and LangChain run once on EMBED_SMALL_TEXTS, beside an openai-client job of that size.
if (ONLY.includes('embed')) {
  const main = ['library', 'openai'];
  const extra = ['undici'];
  const small = ['openai', 'ai-sdk', 'langchain'];
  const mid = Math.floor((EMBED_ROUNDS - 1) / 2);
  log(
    `bench: embed ${EMBED_TEXTS} texts (${EMBED_ROUNDS} rounds of ${main.join(', ')}; ${extra.join(', ')} in round ${mid + 1}; ${small.slice(1).join(', ')} on ${EMBED_SMALL_TEXTS} texts beside the openai client)`,
  );
  const jobs = [];
  const failed = (broken.embed = {});
  const mb = (x) => (x / 2 ** 20).toFixed(0);
  const runJob = async (round, contender, texts) => {
    try {
      const handle = track(forkChild('embed-job.mjs', [JSON.stringify({ baseURL, contender, texts })], { timeoutMs: 5 * 60_000 }));
      const job = { round, ...(await handle.first).result };
      jobs.push(job);
      return `${contender} ${(job.ms / 1000).toFixed(2)} s (cpu ${(job.cpuMs / 1000).toFixed(2)} s), peak rss ${mb(job.maxRss)} MB`;
    } catch (err) {
      failed[texts === EMBED_TEXTS ? contender : `${contender} (${texts} texts)`] = `round ${round + 1}: ${err?.message ?? err}`;
      log(`  embed ${contender} (${texts} texts): BROKEN: ${err?.message ?? err}`);
      return `${contender} BROKEN`;
    }
  };
  for (let r = 0; r < EMBED_ROUNDS; r++) {
    const order = [...main, ...(r === mid ? extra : [])].filter((c) => !failed[c]);
    const line = [];
    for (const contender of order.map((_, i) => order[(i + r) % order.length])) line.push(await runJob(r, contender, EMBED_TEXTS));
    log(`  embed round ${r + 1}/${EMBED_ROUNDS}: ${line.join(', ')}`);
  }
  const line = [];
  for (const contender of small) line.push(await runJob(-1, contender, EMBED_SMALL_TEXTS));
  log(`  embed ${EMBED_SMALL_TEXTS} texts: ${line.join(', ')}`);
  // A contender that broke in any round is left out of every round's figures.
  raw.embed = jobs.filter((j) => !failed[j.texts === EMBED_TEXTS ? j.contender : `${j.contender} (${j.texts} texts)`]);
  if (!Object.keys(failed).length) delete broken.embed;
  lap('embed');
}

await stopChild(upstream.child);

// --- figures and output -------------------------------------------------------------------------------
const durationS = (performance.now() - t0) / 1000;
const settings = {
  quick: QUICK,
  rounds: ROUNDS,
  embedRounds: EMBED_ROUNDS,
  embedTexts: EMBED_TEXTS,
  embedSmallTexts: EMBED_SMALL_TEXTS,
  parts: ONLY,
  counts: COUNTS,
  streamChunks: STREAM_CHUNKS,
  bootInstances: BOOT_INSTANCES,
  telemetryRounds: TELEMETRY_ROUNDS,
  telemetryCounts: TELEMETRY_COUNTS,
  telemetryControl: TELEMETRY_CONTROL,
  telemetryModes: TELEMETRY_LABELS,
  storeRounds: STORE_ROUNDS,
  storeCounts: STORE_COUNTS,
  storeVariants: STORE_LABELS,
};
const { figures, context } = buildReport({ raw, broken, settings });
console.log('');
console.log(
  `@hush/providers bench, ${startedAt.toISOString()}, node ${process.version}, ${os.cpus().length} cpus; ${QUICK ? 'QUICK; ' : ''}` +
    `median of ${ROUNDS} rounds (embed ${EMBED_ROUNDS}${ONLY.includes('telemetry') ? `, telemetry ${TELEMETRY_ROUNDS}` : ''}${ONLY.includes('store') ? `, store ${STORE_ROUNDS}` : ''}) [min–max of the rounds]`,
);
console.log(
  'A ratio is @hush/providers ÷ the openai client, taken within each round: higher is better for /s, lower for ms and MB. ' +
    '"baseline spread" is (max − min) ÷ median of the baseline over the rounds: how noisy the machine was; (k/n) after a verdict: ' +
    "the rounds that met the target on their own. CPU rows are the measuring process's own CPU time: on a busy machine, steadier than wall time." +
    (ONLY.includes('telemetry')
      ? ' Telemetry rows are the library ÷ the library: with @opentelemetry/api and no SDK (or an SDK with an in-memory exporter) ÷ with the API ' +
        'not resolvable ("no OTel"), each in a process of its own, run in turn within each round.'
      : '') +
    (ONLY.includes('store')
      ? ' Store rows: the library with store type redis (a local redis-server) ÷ the library with no store (memory), each in a process of ' +
        'its own, run in turn within each round; the budget rows are stated figures (no target), beside the same llm without rpm/tpm.'
      : '') +
    '\n',
);
console.log(formatReport({ figures, context }));
const brokenList = Object.entries(broken).flatMap(([part, v]) =>
  typeof v === 'string' ? [`${part}: ${v}`] : Object.entries(v).map(([c, why]) => `${part} ${c}: ${why}`),
);
if (raw.store?.skipped) console.log(`\nstore: the Redis rows are ${raw.store.skipped}`);
if (brokenList.length) console.log(`\nBROKEN (left out of the figures):\n  ${brokenList.map((l) => l.split('\n')[0]).join('\n  ')}`);
const count = (v) => figures.filter((f) => f.verdict.split(' ')[0] === v).length;
console.log(
  `\n${count('PASS')} PASS, ${count('FAIL')} FAIL, ${count('INVALID')} INVALID; ${durationS.toFixed(0)} s ` +
    `(${Object.entries(timings)
      .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
      .join(', ')}); load average now ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);

mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(
  OUT,
  JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      durationS,
      timingsS: timings,
      machine: {
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        loadAvgAtStart,
        loadAvgAtEnd: os.loadavg(),
        platform: `${os.platform()} ${os.release()}`,
      },
      settings,
      baseline: BASELINE,
      contenders: LABELS,
      embedBatching: EMBED_BATCHING,
      figures,
      context,
      broken,
      raw,
    },
    null,
    2,
  ),
);
console.log(`results: ${OUT}`);
if (fatal.length) {
  console.log(`\nBENCH FAILED: a process is not what it is measured as:\n  ${fatal.join('\n  ')}`);
  process.exitCode = 1;
}
