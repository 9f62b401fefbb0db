import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
// Packing rebuilds libs/providers/dist from scratch: two test files packing at once would each
// delete what the other is packing. One pack at a time, across the worker processes.
const LOCK = join(root, 'node_modules', '.cache', 'hush-pack.lock');
// Not the test run's NODE_ENV: npm leaves devDependencies out under production.
const NPM_ENV = { ...process.env, NODE_ENV: 'development' };

/** This repository's installed version of a package, for a fresh project to use the same. */
export const versionOf = (pkg: string) => (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/** `npm pack -w @hush/providers` into `dir`; returns the tarball's file name. */
export function packLibrary(dir: string): string {
  withLock(() =>
    execFileSync('npm', ['pack', '-w', '@hush/providers', '--pack-destination', dir, '--silent'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: NPM_ENV,
    }),
  );
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
  return tarball;
}

/**
 * A fresh ESM project in `dir` depending on the packed library (and Nest, as a user's would), at
 * this repository's versions, installed.
 */
export function installFreshProject(dir: string, tarball: string, extra: { devDependencies?: Record<string, string> } = {}): void {
  const nest = versionOf('@nestjs/core');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'fresh-nest-app',
      private: true,
      type: 'module',
      dependencies: {
        '@hush/providers': `file:./${tarball}`,
        '@nestjs/common': nest,
        '@nestjs/core': nest,
        'reflect-metadata': versionOf('reflect-metadata'),
        rxjs: versionOf('rxjs'),
      },
      devDependencies: extra.devDependencies ?? {},
    }),
  );
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: NPM_ENV });
}

function withLock(fn: () => void): void {
  mkdirSync(join(LOCK, '..'), { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!holderAlive()) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK} is still held after 5 minutes`, { cause: err });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    writeFileSync(join(LOCK, 'pid'), String(process.pid));
    fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** False when the process that took the lock is gone (killed mid-pack): its lock is stale. */
function holderAlive(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    // Taken a moment ago and the pid not written yet; or its taker died in between.
    return Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
