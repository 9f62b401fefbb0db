// The store part of `npm run bench`: the library in one process per store, forked by
// scripts/bench/store.mjs with --expose-gc, which runs them in turn (rounds alternating):
//   memory  no `store:` (the default: this process's LRU and budgets)
//   redis   store: { type: redis, url: redis://127.0.0.1:<port>, keyPrefix: bench-<n> }
// Each boots ProvidersModule.forRoot through the public API ('@hush/providers') with, on the fake upstream:
//   llm.cached      cache: { ttlMs: 600000 }
//   llm.budget      rpm 10 000 000, tpm 10 000 000 000 (shared budgets that never bind), no cache
//   llm.plain       neither (the floor of the budget rows)
//   embedding.docs  cache: { ttlMs: 600000 }
// and primes both caches (one call each, which must be a miss and reach the upstream). Sections:
//   embedHit   embed([one text]), already cached, 1 in flight: latency p50/p99
//   chatHit    cached.generate(messages), already cached, 1 in flight: latency p50/p99
//   budget64, budget1   budget.generate(messages), 64 / 1 in flight (runs.mjs: calls/s, CPU per call)
//   plain64, plain1     plain.generate(messages), the same
// Every run is checked: each answer (text, usage, vector), cacheStatus() of each (every hit a 'hit';
// no mark where there is no cache), the upstream's counters (no request at all during hit runs; one
// per call otherwise) and, on Redis, the server's own command counters: at least one MGET per hit,
// at least one script (EVALSHA/EVAL) per budgeted call, so a process quietly back on its own memory
// is caught, not measured; and the library's own word: no 'unavailable' event on its store channel
// (STORE_CHANNEL, 'hush.providers:store') before or during the run. A failed check is an error for the
// parent: the run is reported BROKEN.
//
// argv[2]: JSON { baseURL, store: 'memory' | 'redis', redisPort, keyPrefix }. Sends { ready, info } once
// set up; then answers every { id, section, count } with { reply: id, figures } or { reply: id, failure };
// exits on { close }.
import 'reflect-metadata';
import { subscribe } from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CHAT_MODEL, EMBED_MODEL, MESSAGES, bootProviders } from './contenders.mjs';
import { measureRun } from './runs.mjs';
import { CHAT_TEXT, DIMENSIONS, USAGE, checkVectors, embedTexts } from './shape.mjs';
import { childLifetime, gc, log, quantile, settle, upstreamStats } from './util.mjs';

childLifetime(Number(process.env.BENCH_CHILD_LIFETIME_MS ?? 20 * 60_000));
const { baseURL, store, redisPort, keyPrefix } = JSON.parse(process.argv[2]);
const TTL_MS = 600_000;
/** The one text of the embedding hits: "... doc 0", whose vector's first component is 0. */
const TEXT = embedTexts(1)[0];

/** Redis's INFO `section` as { field: value }, over a raw socket of its own (the library's connections are left alone). */
export function redisInfo(port, section) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error(`redis INFO ${section}: no answer in 5 s`)), 5_000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => socket.write(`INFO ${section}\r\n`));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      if (buf[0] !== 0x24) {
        clearTimeout(timer);
        socket.destroy();
        return reject(new Error(`redis INFO ${section}: ${buf.subarray(0, eol).toString()}`));
      }
      const length = Number(buf.subarray(1, eol).toString());
      if (buf.length < eol + 2 + length) return;
      clearTimeout(timer);
      socket.destroy();
      const fields = {};
      for (const line of buf
        .subarray(eol + 2, eol + 2 + length)
        .toString()
        .split('\r\n')) {
        const at = line.indexOf(':');
        if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
      }
      resolve(fields);
    });
  });
}

/** Calls of a command so far ("cmdstat_mget:calls=12,usec=...") and the server's CPU, ms. */
async function redisCounters() {
  const [stats, cpu] = await Promise.all([redisInfo(redisPort, 'commandstats'), redisInfo(redisPort, 'cpu')]);
  const calls = (cmd) => Number(/calls=(\d+)/.exec(stats[`cmdstat_${cmd}`] ?? '')?.[1] ?? 0);
  return { mget: calls('mget'), scripts: calls('evalsha') + calls('eval'), cpuMs: (Number(cpu.used_cpu_sys) + Number(cpu.used_cpu_user)) * 1000 };
}

function check(ok, what) {
  if (!ok) throw new Error(`store ${store}: ${what}`);
}

const config = {
  ...(store === 'redis' ? { store: { type: 'redis', url: `redis://127.0.0.1:${redisPort}`, keyPrefix } } : {}),
  llm: {
    cached: { type: 'openai-compatible', baseUrl: baseURL, model: CHAT_MODEL, cache: { ttlMs: TTL_MS } },
    budget: { type: 'openai-compatible', baseUrl: baseURL, model: CHAT_MODEL, rpm: 10_000_000, tpm: 10_000_000_000 },
    plain: { type: 'openai-compatible', baseUrl: baseURL, model: CHAT_MODEL },
  },
  embedding: { docs: { type: 'openai-compatible', baseUrl: baseURL, model: EMBED_MODEL, dimensions: DIMENSIONS, cache: { ttlMs: TTL_MS } } },
};

let app, cacheStatus, llms, embedder;
/** The library's store events (Redis lost, Redis back): the state now, and how many times it was lost. */
const storeWatch = { state: 'available', lost: 0, reason: undefined };
const onStoreEvent = (e) => {
  storeWatch.state = e?.state;
  if (e?.state === 'unavailable') {
    storeWatch.lost++;
    storeWatch.reason = e.reason;
  }
};
function checkStoreUp(since, what) {
  check(
    storeWatch.state !== 'unavailable' && storeWatch.lost === since,
    `${what}: the library lost Redis (${storeWatch.reason ?? storeWatch.state}) and used its own memory: not a Redis figure`,
  );
}

function checkCompletion(c, name) {
  check(c?.choices?.[0]?.message?.content === CHAT_TEXT, `${name}: wrong completion text`);
  check(c.usage?.total_tokens === USAGE.total_tokens, `${name}: usage total ${c.usage?.total_tokens}, expected ${USAGE.total_tokens}`);
}
async function embedOnce(expected) {
  const r = await embedder.embed([TEXT]);
  const bad = checkVectors(r.embeddings, 1);
  check(!bad, `embed: ${bad}`);
  const status = cacheStatus(r);
  check(status === expected, `embed: cacheStatus ${status}, expected ${expected}`);
}
async function generateCached(expected) {
  const c = await llms.cached.generate(MESSAGES);
  checkCompletion(c, 'cached');
  const status = cacheStatus(c);
  check(status === expected, `cached generate: cacheStatus ${status}, expected ${expected}`);
}

async function setup() {
  const library = await import('@hush/providers');
  cacheStatus = library.cacheStatus;
  // The channel's name is documented (docs/scale-out.md); the export may be missing from older builds.
  subscribe(library.STORE_CHANNEL ?? 'hush.providers:store', onStoreEvent);
  const booted = await bootProviders({ configPath: [], env: {}, config });
  app = booted.app;
  llms = { cached: booted.registry.llm('cached'), budget: booted.registry.llm('budget'), plain: booted.registry.llm('plain') };
  embedder = booted.registry.embedder('docs');
  // Prime the caches: a miss each (the store starts empty), which reaches the upstream; a hit after it.
  const before = store === 'redis' ? await redisCounters() : undefined;
  await upstreamStats(baseURL);
  await embedOnce('miss');
  await generateCached('miss');
  const primed = await upstreamStats(baseURL);
  check(primed.embeddings === 1 && primed.chat === 1 && primed.bad === 0, `priming: the upstream saw ${JSON.stringify(primed)}`);
  await embedOnce('hit');
  await generateCached('hit');
  const info = { store, pid: process.pid };
  if (store === 'redis') {
    const after = await redisCounters();
    check(after.mget - before.mget >= 4, `priming: Redis served ${after.mget - before.mget} MGETs for 4 cache look-ups: the store is not on Redis`);
    checkStoreUp(0, 'set-up');
    const server = await redisInfo(redisPort, 'server');
    info.redis = { version: server.redis_version, port: redisPort, keyPrefix };
  }
  return info;
}

const CHAT_SECTIONS = { budget64: ['budget', 'chat64'], budget1: ['budget', 'chat1'], plain64: ['plain', 'chat64'], plain1: ['plain', 'chat1'] };

/** One checked run; its figures. */
async function run(section, count) {
  const lost = storeWatch.lost;
  if (store === 'redis') checkStoreUp(lost, section);
  const before = store === 'redis' ? await redisCounters() : undefined;
  let figures;
  if (section === 'embedHit' || section === 'chatHit') {
    const call = section === 'embedHit' ? () => embedder.embed([TEXT]) : () => llms.cached.generate(MESSAGES);
    gc();
    await settle();
    await upstreamStats(baseURL); // reset the counters
    const lat = new Float64Array(count);
    let hits = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const s = performance.now();
      const r = await call();
      lat[i] = performance.now() - s;
      if (cacheStatus(r) === 'hit') hits++;
      if (section === 'embedHit') check(r.embeddings.length === 1 && r.embeddings[0][0] === 0, 'embed: wrong vector');
      else check(r.choices[0]?.message?.content === CHAT_TEXT, 'cached generate: wrong completion text');
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    check(hits === count, `${section}: ${hits} hits in ${count} calls`);
    const stats = await upstreamStats(baseURL);
    const requests = { chat: stats.chat, chatStream: stats.chatStream, embeddings: stats.embeddings, bad: stats.bad };
    check(
      Object.values(requests).every((n) => n === 0),
      `${section}: the upstream got requests during ${count} cache hits: ${JSON.stringify(requests)}`,
    );
    figures = {
      calls: count,
      ms,
      callsPerS: (count / ms) * 1000,
      p50Ms: quantile(lat, 0.5),
      p99Ms: quantile(lat, 0.99),
      cpuMsPerCall: (cpu.user + cpu.system) / 1000 / count,
    };
  } else if (CHAT_SECTIONS[section]) {
    const [name, kind] = CHAT_SECTIONS[section];
    const llm = llms[name];
    const contender = {
      async chat() {
        const c = await llm.generate(MESSAGES);
        checkCompletion(c, name);
        check(cacheStatus(c) === undefined, `${name}: cacheStatus ${cacheStatus(c)} on an instance without cache`);
      },
    };
    figures = await measureRun(kind, contender, count, baseURL);
  } else {
    throw new Error(`unknown section ${section}`);
  }
  if (before) {
    checkStoreUp(lost, section);
    const after = await redisCounters();
    const mget = after.mget - before.mget;
    const scripts = after.scripts - before.scripts;
    if (section.endsWith('Hit')) check(mget >= count, `${section}: Redis served ${mget} MGETs for ${count} hits: the cache was not read from Redis`);
    if (section.startsWith('budget'))
      check(scripts >= count, `${section}: Redis ran ${scripts} scripts for ${count} budgeted calls: the budgets were not on Redis`);
    figures.redis = { mget, scripts, cpuMs: after.cpuMs - before.cpuMs, cpuMsPerCall: (after.cpuMs - before.cpuMs) / count };
  }
  return figures;
}

let info;
try {
  info = await setup();
} catch (err) {
  log(`  store ${store}: set-up failed: ${err?.stack ?? err}`);
  process.send({ error: String(err?.message ?? err) }, () => process.exit(1));
}
if (info) {
  process.on('message', async (m) => {
    if (m?.close) {
      await app.close();
      process.exit(0);
    }
    if (m?.id === undefined) return;
    try {
      process.send({ reply: m.id, figures: await run(m.section, m.count) });
    } catch (err) {
      log(`  store ${store} ${m.section}: ${err?.stack ?? err}`);
      process.send({ reply: m.id, failure: String(err?.message ?? err) });
    }
  });
  process.send({ ready: true, info });
}
