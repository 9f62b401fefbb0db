// @ts-check
/**
 * The llama.cpp source that the node-llama-cpp package carries (llama/gitRelease.bundle), unpacked
 * once into a cache outside the repository and reused: the tiny-model script reads its vocabulary-only
 * GGUF files, the llama-server script builds from it. Needs `git` (no network: the bundle is local).
 *
 * Cache root: $HUSH_PROVIDERS_CACHE, else $XDG_CACHE_HOME/hush-providers, else ~/.cache/hush-providers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);

export function cacheRoot() {
  if (process.env.HUSH_PROVIDERS_CACHE) return resolve(process.env.HUSH_PROVIDERS_CACHE);
  const base = process.env.XDG_CACHE_HOME ? resolve(process.env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'hush-providers');
}

/** node-llama-cpp's package directory, its version and the llama.cpp release it carries. */
export function nodeLlamaCppPackage() {
  let entry;
  try {
    entry = require.resolve('node-llama-cpp');
  } catch {
    throw new Error('node-llama-cpp is not installed: run `npm install` first (it carries the llama.cpp source and vocabularies).');
  }
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== 'node-llama-cpp') {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find node-llama-cpp's package.json above ${entry}`);
    dir = up;
  }
  const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  const info = JSON.parse(readFileSync(join(dir, 'llama', 'llama.cpp.info.json'), 'utf8'));
  const bundle = join(dir, 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`node-llama-cpp ${version} carries no llama.cpp source bundle at ${bundle}`);
  return { dir, version, release: String(info.tag), bundle };
}

function git(args, options = {}) {
  try {
    return execFileSync('git', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT')
      throw new Error('git is needed to unpack the llama.cpp source bundle (apt-get install git).', { cause: err });
    throw err;
  }
}

/**
 * The unpacked source tree, e.g. ~/.cache/hush-providers/llama.cpp-v0.5.0-de3ff815/. Unpacked on
 * first use (a few seconds), atomically, so a concurrent or interrupted run never sees half a tree.
 * @param {{ log?: (line: string) => void }} [options]
 */
export function llamaSource(options = {}) {
  const pkg = nodeLlamaCppPackage();
  const head = git(['bundle', 'list-heads', pkg.bundle]).trim().split(/\s+/)[0] ?? 'unknown';
  const name = `llama.cpp-${pkg.release}-${head.slice(0, 8)}`;
  const dir = join(cacheRoot(), name);
  if (!existsSync(join(dir, 'CMakeLists.txt'))) {
    options.log?.(`unpacking the llama.cpp source (${pkg.release}) from node-llama-cpp ${pkg.version} into ${dir}`);
    mkdirSync(cacheRoot(), { recursive: true });
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    git(['clone', '--quiet', '--no-hardlinks', pkg.bundle, tmp]);
    rmSync(join(tmp, '.git'), { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(join(dir, 'CMakeLists.txt'))) throw err;
    }
  }
  return { dir, release: pkg.release, commit: head, nodeLlamaCpp: pkg };
}
