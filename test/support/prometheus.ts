import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executable, freePort } from './local-process.js';

/**
 * A real Prometheus server for a test: started on 127.0.0.1 at a free port, with a TSDB and a config
 * of its own in a temporary directory, stopped (and the directory removed) by `stop()`.
 *
 * The binary is `$PROMETHEUS_BIN`, else `prometheus` on the PATH (Debian's package: /usr/bin/prometheus;
 * scripts/ci-prepare.sh installs it in CI). Only the binary is used: the Debian package's service
 * (`/etc/init.d/prometheus`, or its systemd unit) is never started nor needed, and its port 9090 is not ours.
 */

/** Set to skip the Prometheus suite on a machine without Prometheus; otherwise a missing binary fails it. */
export const SKIP_PROMETHEUS = process.env.HUSH_SKIP_PROMETHEUS === '1';

export const PROMETHEUS_MISSING =
  'prometheus is not installed (no $PROMETHEUS_BIN, no `prometheus` on the PATH): install it with `apt-get install -y --no-install-recommends prometheus` ' +
  '(scripts/ci-prepare.sh does it when root), or set HUSH_SKIP_PROMETHEUS=1 to skip this suite.';

/** The Prometheus binary to run, or undefined when there is none. */
export function prometheusBinary(): string | undefined {
  return executable('PROMETHEUS_BIN', 'prometheus');
}

export interface ScrapeTarget {
  /** `host:port` of the server to scrape. */
  target: string;
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Sent as `Authorization: Bearer <token>` (written to a file of the temporary directory, read with `credentials_file`). */
  bearerToken?: string;
  /** Default `hush-gateway`. */
  jobName?: string;
}

export interface StartPrometheusOptions {
  binary: string;
  scrape: ScrapeTarget;
  /** Seconds between scrapes (and the scrape timeout); default 1. */
  scrapeIntervalSeconds?: number;
  /** Bounded wait for /-/ready, ms; default 20 s. */
  readyTimeoutMs?: number;
}

/** One series of an instant query's answer. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The temporary directory: config, credentials, TSDB. */
  readonly dir: string;
  readonly process: ChildProcess;
  /** The last lines Prometheus printed. */
  log(): string;
  /** `GET /api/v1/query`: the instant vector of `expr`, evaluated now (a scalar comes back as one sample without labels). */
  query(expr: string): Promise<PromSample[]>;
  /**
   * Polls `expr` (every 250 ms, at most `timeoutMs`, default 20 s) until `accept` takes its answer,
   * and returns that answer; else fails with the last answer, the scrape targets' state and the log's tail.
   */
  waitFor(expr: string, accept: (samples: PromSample[]) => boolean, options?: { timeoutMs?: number; what?: string }): Promise<PromSample[]>;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); then removes the temporary directory. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/** The config file: one job scraping `scrape` every `interval` seconds. */
export function prometheusConfig(scrape: ScrapeTarget, interval: number, credentialsFile?: string): string {
  const lines = [
    'global:',
    `  scrape_interval: ${interval}s`,
    `  scrape_timeout: ${interval}s`,
    `  evaluation_interval: ${interval}s`,
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(scrape.jobName ?? 'hush-gateway')}`,
    `    metrics_path: ${JSON.stringify(scrape.metricsPath ?? '/metrics')}`,
    '    scheme: http',
  ];
  if (credentialsFile !== undefined) lines.push('    authorization:', '      type: Bearer', `      credentials_file: ${JSON.stringify(credentialsFile)}`);
  lines.push('    static_configs:', `      - targets: [${JSON.stringify(scrape.target)}]`);
  return lines.join('\n') + '\n';
}

/**
 * Starts Prometheus and waits (bounded) until `/-/ready` answers 200. A Prometheus that exits, or is
 * not ready in time, fails with the tail of its log (and is stopped, its directory removed).
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<Prometheus> {
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOnce(options, port, deadline);
    } catch (err) {
      // Someone took the port between our probe and Prometheus' bind: try another one.
      if (attempt < 3 && /address already in use/i.test(String(err)) && Date.now() < deadline) continue;
      throw err;
    }
  }
}

async function startOnce(options: StartPrometheusOptions, port: number, deadline: number): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'hush-prometheus-'));
  const interval = options.scrapeIntervalSeconds ?? 1;
  let credentialsFile: string | undefined;
  if (options.scrape.bearerToken !== undefined) {
    credentialsFile = join(dir, 'scrape.token');
    await writeFile(credentialsFile, options.scrape.bearerToken, { mode: 0o600 });
  }
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(options.scrape, interval, credentialsFile));

  const args = [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'];
  const child = spawn(options.binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // Never outlive the test process, whatever happens to it.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      process.removeListener('exit', onExit);
      resolve();
    });
    child.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      exited = { code: -1, signal: null };
      process.removeListener('exit', onExit);
      resolve();
    });
  });

  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 5000) =>
    (stopped ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    })());

  const url = `http://127.0.0.1:${port}`;
  try {
    for (;;) {
      if (exited) throw new Error(`prometheus exited (${exited.code ?? exited.signal}) before it was ready:\n${tail}`);
      if (Date.now() > deadline) throw new Error(`prometheus was not ready within the time allowed:\n${tail}`);
      try {
        const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await response.body?.cancel();
        if (response.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const query = async (expr: string): Promise<PromSample[]> => {
    const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: unknown };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`query ${expr} failed (${response.status}): ${body.error ?? JSON.stringify(body)}`);
    const { resultType, result } = body.data;
    if (resultType === 'scalar') return [{ metric: {}, value: Number((result as [number, string])[1]) }];
    if (resultType !== 'vector') throw new Error(`query ${expr}: expected a vector, got a ${resultType}`);
    return (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  };

  /** The scrape targets' health and last error, for failure messages. */
  const targets = async (): Promise<string> => {
    try {
      const response = await fetch(`${url}/api/v1/targets`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { data?: { activeTargets?: Array<{ scrapeUrl: string; health: string; lastError: string }> } };
      return (body.data?.activeTargets ?? []).map((t) => `${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join('; ') || 'none';
    } catch (err) {
      return `unknown (${String(err)})`;
    }
  };

  const waitFor: Prometheus['waitFor'] = async (expr, accept, waitOptions = {}) => {
    const timeoutMs = waitOptions.timeoutMs ?? 20_000;
    const until = Date.now() + timeoutMs;
    let last: PromSample[] | string;
    for (;;) {
      try {
        const samples = await query(expr);
        last = samples;
        if (accept(samples)) return samples;
      } catch (err) {
        last = String(err);
      }
      if (exited) throw new Error(`prometheus exited (${exited.code ?? exited.signal}) while waiting for ${expr}:\n${tail}`);
      if (Date.now() >= until) {
        throw new Error(
          `${waitOptions.what ?? expr}: not there after ${timeoutMs / 1000} s.\n` +
            `query: ${expr}\nlast answer: ${typeof last === 'string' ? last : JSON.stringify(last)}\n` +
            `scrape targets: ${await targets()}\nprometheus log (tail):\n${tail.slice(-3000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  return { url, port, dir, process: child, log: () => tail, query, waitFor, stop };
}
