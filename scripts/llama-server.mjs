#!/usr/bin/env node
// @ts-check
/**
 * llama.cpp's own OpenAI-compatible server, built from the llama.cpp source that node-llama-cpp carries,
 * into a cache outside the repository (reused by every later run and every clone on this machine):
 *
 *   ~/.cache/hush-providers/llama-server-<release>-<commit>/llama-server
 *
 *   node scripts/llama-server.mjs build     build it when missing (about 5 minutes on 2 cores), print its path
 *   node scripts/llama-server.mjs build --force   rebuild
 *   node scripts/llama-server.mjs path      print its path, exit 1 when not built
 *   node scripts/llama-server.mjs check     exit 0 when cmake, a C++ compiler and git are there
 *
 * Needs cmake, make, a C++17 compiler and git; nothing is downloaded (the web UI, which would be, is off).
 * HUSH_PROVIDERS_CACHE moves the cache; LLAMA_SERVER_JOBS sets the build's parallelism.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, llamaSource, nodeLlamaCppPackage } from './llama-source.mjs';

/** The CMake cache entries of the build: CPU only, static, server only, nothing fetched. */
export const CMAKE_FLAGS = [
  '-DCMAKE_BUILD_TYPE=Release',
  '-DBUILD_SHARED_LIBS=OFF',
  '-DLLAMA_OPENSSL=OFF',
  '-DLLAMA_BUILD_TESTS=OFF',
  '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DLLAMA_BUILD_TOOLS=ON',
  '-DLLAMA_BUILD_SERVER=ON',
  '-DLLAMA_BUILD_APP=OFF',
  // The web UI is either built with npm or downloaded from Hugging Face at build time: neither.
  '-DLLAMA_BUILD_UI=OFF',
  '-DLLAMA_USE_PREBUILT_UI=OFF',
  // Portable code: the cached binary must not die of an illegal instruction on another CPU.
  '-DGGML_NATIVE=OFF',
];

function bundleCommit(bundle) {
  return execFileSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' }).trim().split(/\s+/)[0] ?? 'unknown';
}

/** Where the binary lives (whether or not it is built yet). */
export function llamaServerLocation() {
  const pkg = nodeLlamaCppPackage();
  const dir = join(cacheRoot(), `llama-server-${pkg.release}-${bundleCommit(pkg.bundle).slice(0, 8)}`);
  return { dir, binary: join(dir, 'llama-server'), release: pkg.release };
}

/** The binary's path when it is built, else undefined. */
export function findLlamaServer() {
  const { binary } = llamaServerLocation();
  return existsSync(binary) ? binary : undefined;
}

/** The build tools that are missing, by name. */
export function missingBuildTools() {
  const missing = [];
  const has = (cmd, args) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('cmake', ['--version'])) missing.push('cmake');
  const cxx = process.env.CXX ?? 'c++';
  if (!has(cxx, ['--version']) && !has('g++', ['--version']) && !has('clang++', ['--version'])) missing.push('a C++ compiler (g++)');
  if (!has('make', ['--version']) && !has('ninja', ['--version'])) missing.push('make');
  if (!has('git', ['--version'])) missing.push('git');
  return missing;
}

function run(cmd, args, log) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk) => {
      tail = (tail + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      for (const line of chunk.toString().split('\n')) if (/^\[\s*\d+%\]/.test(line) && /Linking|Built target/.test(line)) log(`  ${line.trim()}`);
    });
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(undefined) : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail}`))));
  });
}

/**
 * Builds llama-server into the cache unless it is there already. Concurrent callers wait for one
 * build (a lock directory); a failed or interrupted build leaves nothing that looks finished.
 * @param {{ force?: boolean, log?: (line: string) => void, jobs?: number }} [options]
 * @returns {Promise<string>} the binary's path
 */
export async function buildLlamaServer(options = {}) {
  const log = options.log ?? ((line) => console.error(line));
  const where = llamaServerLocation();
  if (!options.force && existsSync(where.binary)) return where.binary;
  const missing = missingBuildTools();
  if (missing.length > 0) {
    throw new Error(`building llama-server needs ${missing.join(', ')}: on Debian/Ubuntu, apt-get install -y cmake g++ make git`);
  }
  mkdirSync(cacheRoot(), { recursive: true });
  const lock = `${where.dir}.lock`;
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = Number(readFileSafe(join(lock, 'pid')));
      const stale = Number.isInteger(owner) && owner > 0 && !alive(owner);
      const old = Date.now() - mtimeOf(lock) > 60 * 60_000;
      if (stale || old) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > 30 * 60_000) throw new Error(`gave up waiting for another llama-server build (lock ${lock})`);
      if (Date.now() - started < 1000) log(`another process is building llama-server (lock ${lock}); waiting for it`);
      await new Promise((r) => setTimeout(r, 2000));
      if (!options.force && existsSync(where.binary)) return where.binary;
    }
  }
  try {
    if (!options.force && existsSync(where.binary)) return where.binary;
    const source = llamaSource({ log });
    const build = `${where.dir}.build`;
    rmSync(build, { recursive: true, force: true });
    const jobs = options.jobs ?? (Number(process.env.LLAMA_SERVER_JOBS) || availableParallelism());
    log(`building llama-server ${source.release} from ${source.dir} (${jobs} jobs; about 5 minutes on 2 cores, once)`);
    const t0 = Date.now();
    await run('cmake', ['-S', source.dir, '-B', build, ...CMAKE_FLAGS], log);
    await run('cmake', ['--build', build, '--target', 'llama-server', '--parallel', String(jobs)], log);
    const built = join(build, 'bin', 'llama-server');
    if (!existsSync(built)) throw new Error(`the build finished without ${built}`);
    const seconds = Math.round((Date.now() - t0) / 1000);
    const tmp = `${where.dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    copyFileSync(built, join(tmp, 'llama-server'));
    chmodSync(join(tmp, 'llama-server'), 0o755);
    writeFileSync(
      join(tmp, 'build-info.json'),
      JSON.stringify(
        {
          release: source.release,
          commit: source.commit,
          nodeLlamaCpp: source.nodeLlamaCpp.version,
          flags: CMAKE_FLAGS,
          seconds,
          builtAt: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    );
    rmSync(where.dir, { recursive: true, force: true });
    renameSync(tmp, where.dir);
    rmSync(build, { recursive: true, force: true });
    log(`llama-server built in ${seconds} s: ${where.binary}`);
    return where.binary;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readFileSafe(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [command = 'build', ...flags] = process.argv.slice(2);
  try {
    if (command === 'build') {
      console.log(await buildLlamaServer({ force: flags.includes('--force') }));
    } else if (command === 'path') {
      const found = findLlamaServer();
      if (!found) {
        console.error(`llama-server is not built yet (expected at ${llamaServerLocation().binary}); run: node scripts/llama-server.mjs build`);
        process.exit(1);
      }
      console.log(found);
    } else if (command === 'check') {
      const missing = missingBuildTools();
      if (missing.length > 0) {
        console.error(`missing: ${missing.join(', ')}`);
        process.exit(1);
      }
      console.log('cmake, make, a C++ compiler and git are there');
    } else {
      console.error('usage: node scripts/llama-server.mjs build [--force] | path | check');
      process.exit(2);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
