import { execFile, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./scale-out-worker.mjs', import.meta.url));
/** Inside the repository, so that the compiled files find its node_modules. */
const LIB_OUT = `${root}node_modules/.cache/hush-test-lib`;

/**
 * The library's source compiled for child processes (which cannot load TypeScript): into a directory
 * of its own, from the source as it is now, whatever `dist/` holds. About 10 s.
 */
export async function compileLibrary(): Promise<string> {
  await promisify(execFile)(
    process.execPath,
    [
      `${root}node_modules/typescript/bin/tsc`,
      '-p',
      `${root}libs/providers/tsconfig.lib.json`,
      '--outDir',
      LIB_OUT,
      '--declaration',
      'false',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: root },
  );
  return LIB_OUT;
}

export interface CallOutcome {
  ok: boolean;
  code?: string;
  message?: string;
}

/** One replica in a child process (test/support/scale-out-worker.mjs), booted and waiting for `go`. */
export class Replica {
  readonly #child: ChildProcess;
  readonly #results: Promise<CallOutcome[]>;

  private constructor(child: ChildProcess, results: Promise<CallOutcome[]>) {
    this.#child = child;
    this.#results = results;
  }

  static async start(lib: string, config: object, job: object): Promise<Replica> {
    const child = fork(WORKER, [], {
      env: { ...process.env, HUSH_TEST_LIB: lib, HUSH_TEST_CONFIG: JSON.stringify(config), HUSH_TEST_JOB: JSON.stringify(job) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let ready!: () => void;
    const booted = new Promise<void>((resolve) => (ready = resolve));
    const results = new Promise<CallOutcome[]>((resolve, reject) => {
      child.on('message', (message: { ready?: boolean; results?: CallOutcome[] }) => {
        if (message.ready) ready();
        if (message.results) resolve(message.results);
      });
      child.on('exit', (code) => reject(new Error(`replica exited (${code}) before it reported`)));
    });
    await Promise.race([booted, results.then(() => undefined)]);
    return new Replica(child, results);
  }

  go(): void {
    this.#child.send('go');
  }

  results(): Promise<CallOutcome[]> {
    return this.#results;
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}
