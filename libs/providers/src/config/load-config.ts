import { existsSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import type { ConfigIssue } from '../core/config-error.js';
import { interpolate } from './interpolate.js';
import { formatPath, pathKey, type KeyPath } from './key-path.js';
import { readYamlLayer, type ConfigLayer } from './yaml-source.js';

export const DEFAULT_CONFIG_PATH = 'config/providers.yaml';
export const INLINE_ORIGIN = 'inline config';

export interface ConfigSourceOptions {
  /** Base YAML file(s); default `PROVIDERS_CONFIG`, else `config/providers.yaml`, relative to `cwd`. */
  configPath?: string | string[];
  /** Picks the overlay `<base>.<environment>.yaml`; default `NODE_ENV`, else `development`. */
  environment?: string;
  /** Inline config, merged over all files; valid alone. Its strings are interpolated like the YAML's. */
  config?: object;
  /** Where `${VAR}` is looked up; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where relative paths start; default `process.cwd()`. */
  cwd?: string;
}

export interface LoadedLayers {
  /** The merged config: files in order, each followed by its overlay, then the inline config. */
  value: unknown;
  layers: ConfigLayer[];
  environment: string;
  /** The files that were read, as shown in errors. */
  files: string[];
  /** Absolute paths whose change changes the config: each base file and its overlay, present or not. */
  watched: string[];
}

const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Finds, reads and merges the config layers. Problems are pushed to `issues`. */
export function loadConfigLayers(options: ConfigSourceOptions, issues: ConfigIssue[]): LoadedLayers {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const environment = options.environment ?? (env.NODE_ENV || 'development');
  if (!ENVIRONMENT_NAME.test(environment)) {
    issues.push({
      message: `The environment name "${environment}" cannot name an overlay file.`,
      hint: 'Use letters, digits, "-", "_" or "." (e.g. "staging").',
    });
  }

  const explicit = options.configPath ?? (env.PROVIDERS_CONFIG ? [env.PROVIDERS_CONFIG] : undefined);
  const bases = explicit === undefined ? [DEFAULT_CONFIG_PATH] : Array.isArray(explicit) ? explicit : [explicit];
  const layers: ConfigLayer[] = [];
  const files: string[] = [];
  const watched: string[] = [];
  const show = (abs: string) => (isAbsolute(abs) && abs.startsWith(cwd) ? relative(cwd, abs) : abs);

  for (const base of bases) {
    const abs = resolve(cwd, base);
    if (!existsSync(abs)) {
      if (explicit !== undefined || options.config === undefined) watched.push(abs);
      // The default file may be absent when the config is inline; a path the user named must exist.
      if (explicit === undefined && options.config !== undefined) continue;
      issues.push({
        file: show(abs),
        message: 'does not exist.',
        hint:
          explicit === undefined
            ? `Create ${DEFAULT_CONFIG_PATH}, point PROVIDERS_CONFIG or forRoot({ configPath }) at your file, or pass forRoot({ config }).`
            : options.configPath !== undefined
              ? 'Check forRoot({ configPath }): relative paths start at the working directory.'
              : 'Check PROVIDERS_CONFIG: relative paths start at the working directory.',
      });
      continue;
    }
    for (const file of [abs, ...(ENVIRONMENT_NAME.test(environment) ? [overlayPath(abs, environment)] : [])]) {
      watched.push(file);
      if (file !== abs && !existsSync(file)) continue;
      const layer = readYamlLayer(file, show(file), env, issues);
      files.push(show(file));
      if (layer) layers.push(layer);
    }
  }
  if (options.config !== undefined) {
    layers.push({ origin: INLINE_ORIGIN, value: interpolateTree(options.config, [], env, issues), positions: new Map() });
  }
  let value: unknown = {};
  for (const layer of layers) value = mergeLayer(value, layer.value);
  return { value: stripNulls(value), layers, environment, files, watched };
}

/** Interpolates every string of a plain value (the inline config), reporting problems by key path. */
function interpolateTree(value: unknown, path: KeyPath, env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    const result = interpolate(value, env);
    for (const problem of result.problems) issues.push({ file: INLINE_ORIGIN, path: formatPath(path), message: problem.message, hint: problem.hint });
    return result.value;
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateTree(item, [...path, index], env, issues));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, interpolateTree(v, [...path, key], env, issues)]));
  return value;
}

/** `config/providers.yaml` + `staging` → `config/providers.staging.yaml`. */
export function overlayPath(file: string, environment: string): string {
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.${environment}${ext}`);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Maps merge key by key; scalars and lists replace; `null` removes (applied by stripNulls). */
export function mergeLayer(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = key in out ? mergeLayer(out[key], value) : value;
  return out;
}

function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== null && v !== undefined) out[key] = stripNulls(v);
  return out;
}

/** Where a key path was written: the last layer that has it (or its nearest parent) wins. */
export function locate(layers: readonly ConfigLayer[], path: KeyPath): Pick<ConfigIssue, 'file' | 'line' | 'column'> {
  for (let depth = path.length; depth > 0; depth--) {
    const key = pathKey(path.slice(0, depth));
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const pos = layer.positions.get(key);
      if (pos) return { file: layer.origin, ...pos };
      if (layer.origin === INLINE_ORIGIN && hasPath(layer.value, path.slice(0, depth))) return { file: INLINE_ORIGIN };
    }
  }
  const last = layers[layers.length - 1];
  return last ? { file: last.origin } : {};
}

function hasPath(value: unknown, path: KeyPath): boolean {
  let cur: unknown = value;
  for (const segment of path) {
    if (cur === null || typeof cur !== 'object' || !(String(segment) in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[segment as string];
  }
  return true;
}
