// Helpers shared by the bench's processes: statistics, the upstream's counters, bounded loops.
import { fork } from 'node:child_process';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs) {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
/** The q-quantile by nearest rank: always an actual sample (latency percentiles). */
export function quantile(xs, q) {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export const min = (xs) => xs.reduce((a, b) => Math.min(a, b), Infinity);
export const max = (xs) => xs.reduce((a, b) => Math.max(a, b), -Infinity);
/** { median, min, max, n } of a series of rounds. */
export function summary(xs) {
  return { median: median(xs), min: min(xs), max: max(xs), n: xs.length, rounds: xs };
}

/** Runs fn `total` times with `inFlight` calls at once; stops early (and rethrows) at the first failure. */
export async function pool(total, inFlight, fn) {
  let next = 0;
  let failure;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total && !failure) {
        next++;
        try {
          await fn();
        } catch (err) {
          failure ??= err;
        }
      }
    }),
  );
  if (failure) throw failure;
}

/** GET on the fake upstream's counters (a connection of its own: the contenders' pools are left alone). */
export function upstreamStats(baseURL, reset = true) {
  const url = new URL(`/__stats${reset ? '?reset=1' : ''}`, baseURL);
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('upstream stats: no answer in 10 s')));
    req.on('error', reject);
  });
}

export const gc = () => {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  globalThis.gc();
};
export const settle = () => new Promise((resolve) => setImmediate(resolve));

const here = (file) => fileURLToPath(new URL(file, import.meta.url));

/**
 * Forks scripts/bench/<file> with IPC; resolves with the first message that has `ready` or `result`
 * (or rejects if the child dies first, or after timeoutMs, when the child is killed). The child is
 * killed if still there when its deadline passes; every child also exits by itself.
 */
export function forkChild(file, args = [], { execArgv = ['--expose-gc'], env, timeoutMs = 300_000, onMessage } = {}) {
  const child = fork(here(file), args, {
    execArgv,
    env: { ...process.env, LANGCHAIN_TRACING_V2: 'false', LANGSMITH_TRACING: 'false', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const first = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file}: no answer within ${timeoutMs} ms (killed)`));
    }, timeoutMs);
    child.on('message', (m) => {
      onMessage?.(m);
      if (m && (m.ready || m.result || m.error)) {
        clearTimeout(timer);
        if (m.error) reject(Object.assign(new Error(m.error), { childError: true }));
        else resolve(m);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited (${signal ?? code}) before answering`));
    });
  });
  return { child, first };
}

/** Waits for a child to exit; kills it after graceMs. */
export function stopChild(child, graceMs = 5_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.disconnect();
    else child.kill('SIGTERM');
  });
}

/** A child's side: exit when the parent goes away, and after lifetimeMs whatever happens. */
export function childLifetime(lifetimeMs) {
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => {
    console.error(`${process.argv[1]}: lifetime of ${lifetimeMs} ms over; exiting`);
    process.exit(3);
  }, lifetimeMs).unref();
}

export function log(...parts) {
  process.stderr.write(parts.join(' ') + '\n');
}
