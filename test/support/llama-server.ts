import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './local-process.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The llama-server binary built by scripts/llama-server.mjs (cached outside the repository), or
 * undefined when it is not built yet. `npm test` builds it first (pretest); see scripts/llama-server.mjs.
 */
export function llamaServerBinary(): string | undefined {
  try {
    return execFileSync(process.execPath, ['scripts/llama-server.mjs', 'path'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export interface LlamaServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** The last lines the server printed (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  binary: string;
  model: string;
  /** The name the server answers to (`--alias`). */
  alias: string;
  /** Extra arguments: `--embedding`, `--rerank`, `-np 2`, ... */
  args?: string[];
  /** Bounded wait for /health, ms. */
  readyTimeoutMs?: number;
}

/**
 * Starts llama-server on 127.0.0.1 at a free port and waits (bounded) until /health answers 200.
 * A server that exits, or does not get ready in time, fails with the tail of its log.
 */
export async function startLlamaServer(options: StartOptions): Promise<LlamaServer> {
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOnce(options, port, deadline);
    } catch (err) {
      // Someone took the port between our probe and the server's bind: try another one.
      if (attempt < 3 && /address already in use|couldn't bind/i.test(String(err)) && Date.now() < deadline) continue;
      throw err;
    }
  }
}

async function startOnce(options: StartOptions, port: number, deadline: number): Promise<LlamaServer> {
  const args = [
    '-m',
    options.model,
    '--alias',
    options.alias,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '-t',
    '1',
    '--no-warmup',
    ...(options.args ?? []),
  ];
  const child = spawn(options.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-6000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      exited = { code: -1, signal: null };
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(killer);
  };

  for (;;) {
    if (exited) throw new Error(`llama-server exited (${exited.code ?? exited.signal}) before it was ready:\n${tail}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`llama-server was not ready within the time allowed:\n${tail}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, port, process: child, log: () => tail, stop };
}
