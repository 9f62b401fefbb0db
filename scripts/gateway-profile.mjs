// The gateway's own cost per call, for profiling it (not part of `npm run bench`): the built gateway
// (dist/gateway/app.js, `npm run build` first) in a process of its own, over a fake OpenAI upstream in
// another, driven from this process with undici (an Agent of its own):
//
//   - added latency: a chat call through the gateway and the same call straight to the upstream,
//     interleaved one at a time (the order flips every pair); p50 and p99 of each, and the difference;
//   - throughput: chat calls/s with 64 in flight through the gateway, rounds alternating with the same
//     load straight to the upstream; and the CPU time each server process spent per call meanwhile
//     (the steadiest figure on a shared machine; the upstream's own is beside it).
//
// Servers compared (GWP_TARGETS, comma-separated; `direct` is always measured):
//   gateway   the real gateway (createApp), `chat` an openai-compatible instance on the fake upstream
//   instant   the real gateway, `chat` an in-process LLM type that answers at once (no HTTP): the
//             gateway's and the managed wrapper's cost alone
//   bare      a bare node:http server calling the same library instance (ProvidersRegistry) with
//             JSON.parse / JSON.stringify: the library's cost plus the least any HTTP server costs
//   floor     `bare` over the in-process instant LLM: node:http and the managed wrapper, nothing else
//             (so instant - floor is the gateway's own cost: routing, auth, validation, answers)
//
// A target may be `kind:label`, its app then GWP_APP_<LABEL> (e.g. GWP_TARGETS=instant:a,instant:b with
// GWP_APP_A and GWP_APP_B, to compare two builds in one run).
//
// Environment:
//   GWP_TARGETS     servers besides `direct` (default gateway)
//   GWP_ROUNDS      rounds (4); each: GWP_PAIRS latency pairs (500), then GWP_CALLS calls at 64 in flight
//                   per target (4000); GWP_WARMUP calls first (2000)
//   GWP_APP         the app module (default dist/gateway/app.js); GWP_APP_<LABEL> for `kind:label`
//   GWP_PROFILE=1   profile each server after the warm-up (node:inspector): CPU, 100 µs sampling, or with
//                   GWP_PROFILE_KIND=heap the bytes allocated (sampled); files in GWP_PROFILE_DIR
//                   (/tmp/gwp-profiles), read them with `analyze`
//   GWP_HEAP=1      each round, each server's heap after a full GC (with GWP_NODE_ARGS=--expose-gc)
//   GWP_NODE_ARGS   flags for the servers' node (e.g. --trace-gc)
//   GWP_LIMIT       each child exits after this many seconds (600)
//
//   node scripts/gateway-profile.mjs                                   # gateway vs direct
//   GWP_TARGETS=gateway,instant,bare,floor node scripts/gateway-profile.mjs
//   GWP_PROFILE=1 GWP_TARGETS=gateway,bare node scripts/gateway-profile.mjs
//   node scripts/gateway-profile.mjs analyze /tmp/gwp-profiles/*.cpuprofile   # breakdown per call, top functions
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
const root = resolve(dirname(here), '..');
const role = process.argv[2] ?? 'main';

const CHAT_TEXT = 'Hello! How can I help you today?';
const USAGE = { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 };
const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Say hello.' },
];
const COMPLETION = {
  id: 'chatcmpl-prof',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'prof-model',
  system_fingerprint: 'fp_prof',
  choices: [{ index: 0, message: { role: 'assistant', content: CHAT_TEXT, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: USAGE,
};

function childLifetime() {
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(3), Number(process.env.GWP_LIMIT ?? 600) * 1000).unref();
  // The driver's questions: CPU used so far; start and stop a CPU profile (steady state only).
  let session;
  process.on('message', async (m) => {
    if (m?.cmd === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send({ reply: m.id, cpu: user + system });
    } else if (m?.cmd === 'heap') {
      // With GWP_NODE_ARGS=--expose-gc: the heap after a full collection (what the process keeps).
      globalThis.gc?.();
      process.send({ reply: m.id, heapUsed: process.memoryUsage().heapUsed });
    } else if (m?.cmd === 'prof-start') {
      const { Session } = await import('node:inspector/promises');
      session = new Session();
      session.connect();
      if (process.env.GWP_PROFILE_KIND === 'heap') {
        // Where the bytes are allocated (sampled every 16 KiB), instead of where the time goes.
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 16384,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      } else {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
        await session.post('Profiler.start');
      }
      process.send({ reply: m.id });
    } else if (m?.cmd === 'prof-stop') {
      const { profile } = process.env.GWP_PROFILE_KIND === 'heap' ? await session.post('HeapProfiler.stopSampling') : await session.post('Profiler.stop');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(m.file, JSON.stringify(profile));
      session.disconnect();
      process.send({ reply: m.id });
    }
  });
}

// --- the fake upstream -----------------------------------------------------------------------------
async function upstream() {
  childLifetime();
  const body = Buffer.from(JSON.stringify(COMPLETION));
  const models = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: 'prof-model', object: 'model', created: 0, owned_by: 'prof' }] }));
  let chat = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        chat++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      } else if (req.url === '/__stats') {
        const out = JSON.stringify({ chat });
        chat = 0;
        res.end(out);
      } else if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(models);
      } else {
        res.writeHead(404).end();
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  process.send({ ready: true, port: server.address().port });
}

// --- the servers under test ------------------------------------------------------------------------
async function server(target, baseURL) {
  childLifetime();
  // `kind` or `kind:label`: the label picks the app module GWP_APP_<LABEL> (two builds side by side).
  const [kind, label] = target.split(':');
  const appPath = resolve(root, (label && process.env[`GWP_APP_${label.toUpperCase()}`]) || process.env.GWP_APP || 'dist/gateway/app.js');
  // Every module as the app sees it (GWP_APP may be a build of its own, beside a copy of the library).
  const dep = (name) => import(pathToFileURL(createRequire(appPath).resolve(name)).href);
  const { defineLLMProvider, LLMInstanceConfig, ProvidersModule, ProvidersRegistry } = await dep('@hush/providers');
  const { IsString } = await dep('class-validator');
  class InstantConfig extends LLMInstanceConfig {}
  IsString()(InstantConfig.prototype, 'model');
  const instant = defineLLMProvider({
    type: 'instant',
    config: InstantConfig,
    create: (config) => ({
      model: config.model,
      async generate() {
        return structuredClone(COMPLETION);
      },
      async *stream() {},
    }),
  });
  const chat =
    kind === 'instant' || kind === 'floor'
      ? { type: 'instant', model: 'prof-model' }
      : { type: 'openai-compatible', baseUrl: baseURL, apiKey: 'sk-prof', model: 'prof-model', maxRetries: 0 };
  const providers = { configPath: [], env: {}, config: { llm: { chat } }, providers: [instant] };

  let url;
  let close;
  if (kind === 'bare' || kind === 'floor') {
    const { NestFactory } = await dep('@nestjs/core');
    const { Module } = await dep('@nestjs/common');
    class BareModule {}
    Module({ imports: [ProvidersModule.forRoot(providers)] })(BareModule);
    const ctx = await NestFactory.createApplicationContext(BareModule, { logger: false });
    const llm = ctx.get(ProvidersRegistry).get('llm', 'chat');
    const http = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const completion = await llm.generate(body.messages, {});
          const out = JSON.stringify({ ...completion, model: body.model });
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(out) });
          res.end(out);
        } catch (err) {
          res.writeHead(500).end(String(err));
        }
      });
    });
    http.keepAliveTimeout = 60_000;
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${http.address().port}`;
    close = async () => {
      http.close();
      await ctx.close();
    };
  } else {
    const { createApp } = await import(pathToFileURL(appPath).href);
    const app = await createApp({ providers, docs: false }, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    close = () => app.close();
  }
  process.removeAllListeners('disconnect');
  process.on('disconnect', () => {
    // Let --cpu-prof write its profile: exit normally.
    close().finally(() => process.exit(0));
  });
  process.send({ ready: true, url });
}

// --- the driver ------------------------------------------------------------------------------------
function forkRole(args, execArgv = []) {
  const child = fork(here, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    child.on('message', (m) => (m?.ready ? resolve(m) : undefined));
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready`)));
  });
  return { child, first };
}

let asked = 0;
/** Asks a child something over IPC; resolves with its reply. */
function ask(child, message) {
  const id = ++asked;
  return new Promise((resolve) => {
    const on = (m) => {
      if (m?.reply !== id) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send({ ...message, id });
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.disconnect();
  });
}

const quantile = (xs, q) => {
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const median = (xs) => quantile(xs, 0.5);

async function pool(total, inFlight, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) {
        next++;
        await fn();
      }
    }),
  );
}

async function main() {
  const { Agent, request } = await import('undici');
  const ROUNDS = Number(process.env.GWP_ROUNDS ?? 4);
  const PAIRS = Number(process.env.GWP_PAIRS ?? 500);
  const CALLS = Number(process.env.GWP_CALLS ?? 4000);
  const WARMUP = Number(process.env.GWP_WARMUP ?? 2000);
  const targets = (process.env.GWP_TARGETS ?? 'gateway')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const profileDir = process.env.GWP_PROFILE_DIR ?? '/tmp/gwp-profiles';
  const profile = process.env.GWP_PROFILE === '1';
  if (profile) mkdirSync(profileDir, { recursive: true });

  const up = forkRole(['upstream']);
  const { port } = await up.first;
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const servers = {};
  for (const t of targets) {
    const s = forkRole(['server', t, baseURL], (process.env.GWP_NODE_ARGS ?? '').split(' ').filter(Boolean));
    servers[t] = { child: s.child, url: (await s.first).url };
  }
  const children = { direct: up.child, ...Object.fromEntries(targets.map((t) => [t, servers[t].child])) };
  console.log(`upstream ${baseURL}; ${targets.map((t) => `${t} ${servers[t].url}`).join('; ')}; node ${process.version}`);

  const dispatcher = new Agent({ keepAliveTimeout: 60_000, connections: 128 });
  const urls = { direct: `${baseURL}/chat/completions` };
  for (const t of targets) urls[t] = `${servers[t].url}/v1/chat/completions`;
  const bodies = { direct: JSON.stringify({ model: 'prof-model', messages: MESSAGES }) };
  for (const t of targets) bodies[t] = JSON.stringify({ model: 'chat', messages: MESSAGES });
  const headers = { 'content-type': 'application/json' };
  async function call(target) {
    const r = await request(urls[target], { method: 'POST', headers, body: bodies[target], dispatcher });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`${target}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
    if (JSON.parse(text).choices?.[0]?.message?.content !== CHAT_TEXT) throw new Error(`${target}: wrong text`);
  }

  const all = ['direct', ...targets];
  for (const t of all) await pool(WARMUP, 64, () => call(t));
  for (let i = 0; i < WARMUP / 4; i++) for (const t of all) await call(t);

  const lat = Object.fromEntries(all.map((t) => [t, []]));
  const rps = Object.fromEntries(all.map((t) => [t, []]));
  // CPU per call at 64 in flight: the server's own process, and the upstream's.
  const cpu = Object.fromEntries(all.map((t) => [t, []]));
  const upCpu = Object.fromEntries(all.map((t) => [t, []]));
  const stamp = Date.now();
  if (profile) for (const t of targets) await ask(servers[t].child, { cmd: 'prof-start' });
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < PAIRS; i++) {
      const order = (i + r) % 2 ? all : [...all].reverse();
      for (const t of order) {
        const t0 = performance.now();
        await call(t);
        lat[t].push(performance.now() - t0);
      }
    }
    const line = [];
    for (const t of r % 2 ? [...all].reverse() : all) {
      const c0 = (await ask(children[t], { cmd: 'cpu' })).cpu;
      const u0 = (await ask(up.child, { cmd: 'cpu' })).cpu;
      const t0 = performance.now();
      await pool(CALLS, 64, () => call(t));
      const perS = (CALLS / (performance.now() - t0)) * 1000;
      cpu[t].push(((await ask(children[t], { cmd: 'cpu' })).cpu - c0) / CALLS);
      upCpu[t].push(((await ask(up.child, { cmd: 'cpu' })).cpu - u0) / CALLS);
      rps[t].push(perS);
      line.push(`${t} ${perS.toFixed(0)}/s (${cpu[t].at(-1).toFixed(0)} µs cpu/call)`);
    }
    if (process.env.GWP_HEAP === '1') {
      for (const t of targets) line.push(`${t} heap ${((await ask(servers[t].child, { cmd: 'heap' })).heapUsed / 2 ** 20).toFixed(1)} MB`);
    }
    console.log(`round ${r + 1}/${ROUNDS}: ${line.join(', ')}`);
  }
  await dispatcher.close();
  if (profile) {
    for (const t of targets) {
      const file = resolve(profileDir, `${t.replace(':', '-')}-${stamp}.${process.env.GWP_PROFILE_KIND === 'heap' ? 'heapprofile' : 'cpuprofile'}`);
      await ask(servers[t].child, { cmd: 'prof-stop', file });
      // The calls the profile covers, for `analyze` to give times per call.
      writeFileSync(`${file}.calls`, String(ROUNDS * (PAIRS + CALLS)));
      console.log(`profile: ${file}`);
    }
  }

  const d50 = quantile(lat.direct, 0.5);
  const d99 = quantile(lat.direct, 0.99);
  const w = Math.max(8, ...all.map((t) => t.length));
  console.log(
    `\n${'target'.padEnd(w)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'+p50'.padStart(8)} ${'+p99'.padStart(8)} ${'calls/s@64'.padStart(11)} ${'vs direct'.padStart(9)}` +
      ` ${'cpu µs/call'.padStart(12)} ${'(upstream)'.padStart(10)}`,
  );
  for (const t of all) {
    const p50 = quantile(lat[t], 0.5);
    const p99 = quantile(lat[t], 0.99);
    const ratios = rps[t].map((x, i) => x / rps.direct[i]);
    console.log(
      `${t.padEnd(w)} ${p50.toFixed(3).padStart(8)} ${p99.toFixed(3).padStart(8)} ${(p50 - d50).toFixed(3).padStart(8)} ${(p99 - d99).toFixed(3).padStart(8)} ` +
        `${median(rps[t]).toFixed(0).padStart(11)} ${median(ratios).toFixed(3).padStart(9)} ${median(cpu[t]).toFixed(0).padStart(12)} ${median(upCpu[t]).toFixed(0).padStart(10)}`,
    );
  }
  await Promise.all(Object.values(servers).map((s) => stop(s.child)));
  await stop(up.child);
}

// --- reading a .cpuprofile ------------------------------------------------------------------------
/** Where a frame's code lives: a package, the gateway, the library, or Node itself. */
function category(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (m) return m[1] === '@hush/providers' ? '@hush/providers (library)' : m[1];
  if (url.includes('/libs/providers/')) return '@hush/providers (library)';
  if (url.includes('/dist/gateway/') || url.includes('/src/')) return 'gateway (src/)';
  if (url.startsWith('node:'))
    return url
      .replace(/^node:internal\/(deps\/)?/, 'node:')
      .split('/')
      .slice(0, 2)
      .join('/');
  return url;
}

/**
 * Where a sample's time goes, for the breakdown: the first frame from the leaf up that a bucket
 * claims (so JSON.parse under the body reader counts as body reading, a socket write under the
 * answer as socket I/O).
 */
const BUCKETS = [
  [
    'socket writes (syscall; includes time preempted by the woken peer)',
    (f) => f.url === '' && /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(f.functionName),
  ],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  [
    'validation (Nest ValidationPipe, class-transformer, class-validator, the quick check)',
    (f) =>
      /node_modules\/(class-validator|class-transformer)\//.test(f.url) ||
      /validation\.pipe|strip-proto-keys|close-array-gaps/.test(f.url) ||
      /\/(fast-)?validation\.js$/.test(f.url) ||
      /\/chat\.dto\.js$/.test(f.url),
  ],
  [
    'request body reading + JSON.parse (body-parser / json-body)',
    (f) => /node_modules\/(body-parser|raw-body|iconv-lite|type-is|content-type|media-typer)\//.test(f.url) || /\/json-body\.js$/.test(f.url),
  ],
  [
    'upstream HTTP client (undici / openai / fetch)',
    (f) => /node_modules\/(undici|openai)\//.test(f.url) || f.url.startsWith('node:internal/deps/undici') || f.url.startsWith('wasm://'),
  ],
  ['library: managed wrapper and policy (@hush/providers)', (f) => /@hush\/providers|libs\/providers/.test(f.url)],
  ['instant LLM (the profile script)', (f) => f.url.endsWith('gateway-profile.mjs') && f.functionName === 'generate'],
  [
    'express + router',
    (f) =>
      /node_modules\/(express|router|parseurl|finalhandler|send|serve-static|on-finished|path-to-regexp|encodeurl|@nestjs\/platform-express)\//.test(f.url),
  ],
  [
    'fastify + find-my-way',
    (f) => /node_modules\/(fastify|find-my-way|@fastify\/[^/]+|avvio|light-my-request|toad-cache|@nestjs\/platform-fastify)\//.test(f.url),
  ],
  ['Nest core (router, guards, pipes consumer, handler)', (f) => /node_modules\/@nestjs\/(core|common)\//.test(f.url)],
  ['abort signals / event targets', (f) => /^node:internal\/(abort_controller|event_target)/.test(f.url)],
  ['gateway src/ (controllers, services, answers, JSON.stringify)', (f) => /\/dist\/gateway\/|\/src\//.test(f.url)],
  [
    'node http server + streams',
    (f) => /^node:(internal\/)?(_http|net|internal\/streams|stream|internal\/stream_base)/.test(f.url) || /^node:_http/.test(f.url),
  ],
];

/** A sampled heap profile (.heapprofile): bytes allocated per call, by bucket and by function. */
function analyzeHeap(file, prof, top) {
  const calls = existsSync(`${file}.calls`) ? Number(readFileSync(`${file}.calls`, 'utf8')) : 1;
  const buckets = new Map();
  const fns = new Map();
  let total = 0;
  const walk = (node, stack) => {
    const here = [node.callFrame, ...stack];
    const self = node.selfSize ?? 0;
    if (self > 0) {
      total += self;
      let name = 'other (node internals)';
      for (const f of here) {
        const hit = BUCKETS.find(([, match]) => match(f));
        if (hit) {
          name = hit[0];
          break;
        }
      }
      buckets.set(name, (buckets.get(name) ?? 0) + self);
      const f = node.callFrame;
      const key = `${f.functionName || '(anon)'} ${category(f.url, f.functionName)}:${f.lineNumber + 1}`;
      fns.set(key, (fns.get(key) ?? 0) + self);
    }
    for (const child of node.children ?? []) walk(child, here);
  };
  walk(prof.head, []);
  const kb = (b) => `${(b / calls / 1024).toFixed(2).padStart(7)} KiB`;
  console.log(`\n== ${file}: ${(total / 2 ** 20).toFixed(0)} MiB sampled over ${calls} calls (${kb(total)} per call)`);
  console.log('-- allocated per call, by bucket');
  for (const [name, b] of [...buckets].sort((a, b) => b[1] - a[1])) console.log(`${kb(b)}  ${name}`);
  console.log('-- allocated per call, top functions');
  for (const [name, b] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(b)}  ${name}`);
}

async function analyze(files) {
  const top = Number(process.env.GWP_TOP ?? 40);
  for (const file of files) {
    const prof = JSON.parse(readFileSync(file, 'utf8'));
    if (prof.head && !prof.nodes) {
      analyzeHeap(file, prof, top);
      continue;
    }
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const self = new Map();
    const dt = prof.timeDeltas;
    for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
    let total = 0;
    let idle = 0;
    const byCat = new Map();
    const fnSelf = new Map();
    const fnTotal = new Map();
    for (const [id, us] of self) {
      const n = byId.get(id);
      const { functionName, url, lineNumber } = n.callFrame;
      total += us;
      if (functionName === '(idle)') {
        idle += us;
        continue;
      }
      const cat = category(url, functionName);
      byCat.set(cat, (byCat.get(cat) ?? 0) + us);
      const key = `${functionName || '(anon)'} ${cat}:${lineNumber + 1}`;
      fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
      // Inclusive: every distinct function on the stack gets the sample once.
      const seen = new Set();
      for (let a = id; a !== undefined; a = parent.get(a)) {
        const f = byId.get(a).callFrame;
        const k = `${f.functionName || '(anon)'} ${category(f.url, f.functionName)}:${f.lineNumber + 1}`;
        if (seen.has(k)) continue;
        seen.add(k);
        fnTotal.set(k, (fnTotal.get(k) ?? 0) + us);
      }
    }
    const busy = total - idle;
    const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
    // The breakdown by bucket (leaf-first), per call where the call count is known.
    const calls = existsSync(`${file}.calls`) ? Number(readFileSync(`${file}.calls`, 'utf8')) : undefined;
    const buckets = new Map();
    for (const [id, us] of self) {
      if (byId.get(id).callFrame.functionName === '(idle)') continue;
      let name = 'other (node internals, microtasks, program)';
      for (let a = id; a !== undefined; a = parent.get(a)) {
        const hit = BUCKETS.find(([, match]) => match(byId.get(a).callFrame));
        if (hit) {
          name = hit[0];
          break;
        }
      }
      buckets.set(name, (buckets.get(name) ?? 0) + us);
    }
    console.log(`\n== ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (${((busy / total) * 100).toFixed(0)}%)`);
    console.log(`-- breakdown (share of busy time${calls ? `; µs per call over ${calls} calls, sampled wall time while busy` : ''})`);
    for (const [name, us] of [...buckets].sort((a, b) => b[1] - a[1]))
      console.log(`${pct(us)}  ${calls ? `${(us / calls).toFixed(1).padStart(7)} µs  ` : ''}${name}`);
    console.log('-- self time by where the code lives (share of busy time)');
    for (const [cat, us] of [...byCat].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${pct(us)}  ${cat}`);
    console.log('-- self time, top functions');
    for (const [k, us] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
    console.log('-- inclusive time, top functions');
    for (const [k, us] of [...fnTotal].sort((a, b) => b[1] - a[1]).slice(0, top * 2)) console.log(`${pct(us)}  ${k}`);
  }
}

if (role === 'upstream') await upstream();
else if (role === 'server') await server(process.argv[3], process.argv[4]);
else if (role === 'analyze') await analyze(process.argv.slice(3));
else await main();
