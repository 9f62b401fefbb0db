// The store part of `npm run bench`, driven from scripts/bench.mjs: what Redis as the shared store
// (issue 12) costs against the in-memory default. It starts its own redis-server (the Debian binary:
// $REDIS_SERVER_BIN, else on the PATH) on a free 127.0.0.1 port, without persistence, in a temporary
// directory, and stops it at the end; the bench's exit kills it whatever happens (it is tracked like
// the other children). Two processes of the library (store-worker.mjs), one per store, are alive at
// once and run in turn, one at a time; each round runs every section in both, the order alternating
// from round to round:
//   embedHit, chatHit   cache hits, 1 in flight: p50 and p99 latency
//   budget64, budget1   chat calls on an llm with rpm+tpm that never bind, 64 / 1 in flight: calls/s
//                       and CPU per call; beside them, in the memory process, the same calls on an llm
//                       without rpm/tpm (plain64, plain1: the floor)
// Without redis-server, the Redis rows are skipped (said so) and the memory ones still measured.
import { spawn } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { forkChild, log } from './util.mjs';

export const STORE_MODES = ['memory', 'redis'];
export const STORE_SECTIONS = ['embedHit', 'chatHit', 'budget64', 'budget1'];
/** The floor of each budget section: the same calls on the llm without rpm/tpm, in the memory process. */
const FLOOR = { budget64: 'plain64', budget1: 'plain1' };
export const STORE_LABELS = {
  memory: 'no store: (in memory, the default)',
  redis: 'store: { type: redis, url: redis://127.0.0.1:<port>, keyPrefix: bench-<pid> } on a local redis-server (loopback, no persistence)',
  floor: 'the same llm without rpm/tpm, memory process',
};

/** The redis-server binary, or undefined. */
function redisServerBinary() {
  const candidates = process.env.REDIS_SERVER_BIN
    ? [process.env.REDIS_SERVER_BIN]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'redis-server'));
  for (const file of candidates) {
    try {
      if (file) {
        accessSync(file, constants.X_OK);
        return file;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const answersPing = (port) =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 1000);
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => finish(d.toString().startsWith('+PONG')));
  });

/** Starts redis-server on a free port; { child, port, dir, log() }, or throws with the tail of its log. */
async function startRedis(binary, track) {
  const dir = await mkdtemp(join(tmpdir(), 'hush-bench-redis-'));
  // The bench's deadline exits at once: the server is killed with the other children, its directory goes here.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    track({ child });
    let tail = '';
    const keep = (chunk) => (tail = (tail + chunk.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      exited = true;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) break;
      if (await answersPing(port)) return { child, port, dir, removeDir, log: () => tail };
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING within 10 s:\n${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (attempt < 3 && /address already in use/i.test(tail)) continue;
    throw new Error(`redis-server exited before it answered:\n${tail}`);
  }
}

/** A forked store-worker, asked one run at a time. */
function worker(mode, spec, track) {
  let next = 0;
  const waiting = new Map();
  const handle = track(
    forkChild('store-worker.mjs', [JSON.stringify({ ...spec, store: mode })], {
      timeoutMs: 120_000,
      onMessage: (m) => {
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
    child: handle.child,
    ready: handle.first,
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
          else reject(new Error(m.failure));
        });
        handle.child.send({ id, section, count });
      });
    },
    close() {
      if (handle.child.connected) handle.child.send({ close: true });
    },
  };
}

/** Round r's runs of `section`, as [variant, process, section]: memory and redis (and the floor), order alternating. */
function schedule(section, r) {
  const runs = [
    ['memory', 'memory', section],
    ['redis', 'redis', section],
  ];
  if (FLOOR[section]) runs.push(['floor', 'memory', FLOOR[section]]);
  return r % 2 ? runs.reverse() : runs;
}

const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
function describe(section, f) {
  if (section.endsWith('Hit')) return `p50 ${us(f.p50Ms)} p99 ${us(f.p99Ms)}`;
  return `${f.callsPerS.toFixed(0)}/s ${us(f.cpuMsPerCall)} cpu${f.redis ? ` (redis-server ${us(f.redis.cpuMsPerCall)})` : ''}`;
}

/**
 * Measures the stores: { info, results: { embedHit: { memory: [...], redis }, chatHit, budget64: {
 * memory, redis, floor }, budget1 }, broken: { 'variant section' or variant: why }, skipped }; `skipped`
 * says why Redis was not measured at all (no redis-server).
 */
export async function measureStore({ baseURL, rounds, counts, track, stopChild }) {
  const info = {};
  const broken = {};
  const results = Object.fromEntries(STORE_SECTIONS.map((s) => [s, {}]));
  const workers = {};
  let skipped;
  let redis;
  // A run that fails a check leaves its variant's section out from then on (`broken['redis chatHit']`);
  // a process that cannot start leaves the variant out altogether (`broken.redis`).
  const fail = (variant, section, when, err) => {
    const key = section ? `${variant} ${section}` : variant;
    broken[key] = `${when}: ${err?.message ?? err}`;
    for (const [s, r] of Object.entries(results)) if (!section || s === section) delete r[variant];
    log(`  store ${key}: BROKEN (${when}): ${err?.message ?? err}`);
  };
  try {
    const binary = redisServerBinary();
    if (!binary) {
      skipped = 'skipped: redis-server is not installed (no $REDIS_SERVER_BIN, none on the PATH); apt-get install -y --no-install-recommends redis-server';
      log(`  store: Redis ${skipped}`);
    } else {
      try {
        redis = await startRedis(binary, track);
        info.redisServer = { binary, port: redis.port, pid: redis.child.pid };
        log(`  store: redis-server on 127.0.0.1:${redis.port} (pid ${redis.child.pid})`);
      } catch (err) {
        fail('redis', undefined, 'start', err);
      }
    }
    const spec = { baseURL, redisPort: redis?.port, keyPrefix: `bench-${process.pid}` };
    // One at a time: the set-ups (Nest, the Redis connections) do not overlap.
    for (const mode of STORE_MODES) {
      if (mode === 'redis' && !redis) continue;
      workers[mode] = worker(mode, spec, track);
      try {
        info[mode] = (await workers[mode].ready).info;
      } catch (err) {
        fail(mode, undefined, 'set-up', err);
        if (mode === 'memory') fail('floor', undefined, 'set-up', err);
      }
    }
    const live = (variant, mode, section) => workers[mode] && !broken[variant] && !broken[mode] && !broken[`${variant} ${section}`];
    // Warm-up, checked like the rest: half a run of each section in each process (JIT, pools, scripts loaded).
    for (const section of STORE_SECTIONS) {
      for (const [variant, mode, s] of schedule(section, 0)) {
        if (!live(variant, mode, section)) continue;
        try {
          await workers[mode].run(s, Math.ceil(counts[section] / 2));
        } catch (err) {
          fail(variant, section, `warm-up ${s}`, err);
        }
      }
    }
    for (let r = 0; r < rounds && (workers.memory || workers.redis); r++) {
      const line = [];
      for (const section of STORE_SECTIONS) {
        const parts = [];
        for (const [variant, mode, s] of schedule(section, r)) {
          if (!live(variant, mode, section)) continue;
          try {
            const f = { round: r, ...(await workers[mode].run(s, counts[section])) };
            (results[section][variant] ??= []).push(f);
            parts.push(`${variant} ${describe(section, f)}`);
          } catch (err) {
            fail(variant, section, `round ${r + 1} ${s}`, err);
          }
        }
        line.push(`${section}: ${parts.join(', ')}`);
      }
      log(`  store round ${r + 1}/${rounds}: ${line.join('; ')}`);
    }
  } finally {
    for (const w of Object.values(workers)) w.close();
    await Promise.all(Object.values(workers).map((w) => stopChild(w.child)));
    if (redis) {
      await stopChild(redis.child);
      await rm(redis.dir, { recursive: true, force: true });
      process.removeListener('exit', redis.removeDir);
    }
  }
  return { info, results, broken, skipped };
}
