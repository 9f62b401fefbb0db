import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executable, freePort } from './local-process.js';

/**
 * A real Redis server for a test: Debian's `redis-server` binary (`$REDIS_SERVER_BIN`, else on the
 * PATH; scripts/ci-prepare.sh installs it in CI) on 127.0.0.1 at a free port, without persistence,
 * in a temporary directory. Only the binary is used: the package's service is never needed.
 */

/** Set to skip the Redis suites on a machine without redis-server; otherwise a missing binary fails them. */
export const SKIP_REDIS = process.env.HUSH_SKIP_REDIS === '1';

export const REDIS_MISSING =
  'redis-server is not installed (no $REDIS_SERVER_BIN, no `redis-server` on the PATH): install it with ' +
  '`apt-get install -y --no-install-recommends redis-server` (scripts/ci-prepare.sh does it when root), or set HUSH_SKIP_REDIS=1 to skip the Redis suites.';

/** The redis-server binary to run, or undefined when there is none. */
export function redisServerBinary(): string | undefined {
  return executable('REDIS_SERVER_BIN', 'redis-server');
}

export interface StartRedisOptions {
  /** `--requirepass`: clients must AUTH with it. */
  password?: string;
  /** Bounded wait for the first PING answer, ms; default 10 s. */
  readyTimeoutMs?: number;
}

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string;
  /** The last lines the server printed. */
  log(): string;
  /** SIGTERM, SIGKILL after 5 s. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once: a crash, as the clients see it. */
  kill(): Promise<void>;
  /** SIGSTOP: the connections stay open, and nothing answers (a stalled server). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Starts it again on the same port (after `stop` or `kill`; stops it first if it runs), empty. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/** One PING over a raw socket: true when the server answers (PONG, or NOAUTH when it wants a password). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 1000);
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => finish(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
}

/** Starts redis-server and waits (bounded) until it answers PING; fails with the tail of its log. */
export async function startRedis(binary: string, options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hush-redis-'));
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  let tail = '';
  let port = 0;
  let running: Running | undefined;

  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    if (options.password !== undefined) args.push('--requirepass', options.password);
    const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    // Never outlive the test process, whatever happens to it.
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-8000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let done = false;
    const exited = new Promise<void>((resolve) => {
      const finish = () => {
        done = true;
        process.removeListener('exit', onExit);
        resolve();
      };
      child.once('exit', finish);
      child.once('error', (err) => {
        tail += `\nspawn error: ${err.message}`;
        finish();
      });
    });
    running = { child, exited, hasExited: () => done };
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (done) throw new Error(`redis-server exited before it answered:\n${tail}`);
      if (await answersPing(port)) return;
      if (Date.now() > deadline) {
        await halt('SIGKILL');
        throw new Error(`redis-server did not answer PING within ${readyTimeoutMs} ms:\n${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const current = running;
    if (!current || current.hasExited()) return;
    // A paused server takes no SIGTERM until it runs again.
    current.child.kill('SIGCONT');
    current.child.kill(signal);
    const killer = setTimeout(() => current.child.kill('SIGKILL'), 5000);
    await current.exited;
    clearTimeout(killer);
  };

  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      // Someone took the port between our probe and the bind: try another one.
      if (attempt < 3 && /address already in use/i.test(String(err))) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  const auth = options.password !== undefined ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    host: '127.0.0.1',
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    log: () => tail,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    pause: () => void running?.child.kill('SIGSTOP'),
    resume: () => void running?.child.kill('SIGCONT'),
    restart: async () => {
      await halt('SIGTERM');
      await launch();
    },
    dispose: async () => {
      await halt('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
