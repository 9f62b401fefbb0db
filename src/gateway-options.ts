import { createHash } from 'node:crypto';
import type { ProvidersModuleOptions } from '@hush/providers';
import type { ProvidersHealthOptions } from '@hush/providers/health';
import type { GatewayLogOptions } from './observability/logging.js';
import type { GatewayTelemetryOptions } from './observability/telemetry.js';

/** How the gateway is set up; every field has an environment default (see `resolveGatewayOptions`). */
export interface GatewayOptions {
  /**
   * Passed to `ProvidersModule.forRoot`. Default `{}`: the config is `PROVIDERS_CONFIG` if set, else
   * `config/providers.yaml`, with its `<base>.<NODE_ENV>.yaml` overlay.
   */
  providers?: ProvidersModuleOptions;
  /**
   * Client keys: when any are set, every route but /health (and /metrics, when `metricsPublic`)
   * needs `Authorization: Bearer <key>`. Each entry is `key`, or `name:key` to name the client in
   * metrics and logs (else it is `key-<first 8 hex digits of the key's SHA-256>`); see `parseClientKeys`.
   * Default: `GATEWAY_API_KEYS`, comma-separated. An empty list turns authentication off.
   */
  apiKeys?: readonly string[];
  /**
   * Whether `GET /metrics` is open to anyone when client keys are set (it always is without them).
   * Default: `GATEWAY_METRICS_PUBLIC` (`true`/`false`), else false: /metrics needs a client key.
   */
  metricsPublic?: boolean;
  /**
   * Reload the providers config when its files change (`forRoot({ watch: true })`). Default:
   * `GATEWAY_WATCH_CONFIG` (`true`/`false`), else false. SIGHUP reloads it either way.
   */
  watchConfig?: boolean;
  /** Reload the providers config on SIGHUP; default true (`createApp` for tests may turn it off). */
  reloadOnSighup?: boolean;
  /** Logs: `format: 'text'` (Nest's logger, the default) or `'json'` (pino); default `GATEWAY_LOG_FORMAT`. */
  log?: GatewayLogOptions;
  /**
   * The OpenTelemetry SDK the gateway starts before Nest builds the app: always a meter provider with
   * the Prometheus reader behind `GET /metrics`; traces only where `OTEL_TRACES_EXPORTER` names an
   * exporter, or where `spanProcessors` are given (tests pass in-memory ones here).
   */
  telemetry?: GatewayTelemetryOptions;
  /**
   * Readiness (`GET /health/ready`) options: each instance's free check (or a `probe` of your own),
   * its timeout, and how long an outcome is reused (default 5 s, so frequent polls stay cheap).
   */
  health?: ProvidersHealthOptions;
  /** Largest accepted JSON body (inflated): '20mb', '512kb', a number of bytes; default '20mb' (`npm start`: `GATEWAY_BODY_LIMIT`). */
  bodyLimit?: string;
  /** Serve the OpenAPI docs at /docs; default true. */
  docs?: boolean;
}

/** A client key and the name it is known by in metrics and logs (never the key itself). */
export interface ClientKey {
  name: string;
  key: string;
}

export interface ResolvedGatewayOptions {
  apiKeys: readonly ClientKey[];
  health: ProvidersHealthOptions;
  metricsPublic: boolean;
  watchConfig: boolean;
  reloadOnSighup: boolean;
}

/** Readiness polls (a load balancer's, every second or so) reuse an instance's outcome this long. */
const DEFAULT_READINESS_CACHE_MS = 5_000;

/** Injection token of the resolved options. */
export const GATEWAY_OPTIONS = Symbol('gateway.options');

/** `GATEWAY_API_KEYS=key1,key2` → ['key1', 'key2'] (spaces trimmed, empty entries dropped). */
export function apiKeysFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  return (env.GATEWAY_API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The label of a key given without a name: `key-` and the first 8 hex digits of its SHA-256 (not the key). */
export function unnamedKeyLabel(key: string): string {
  return `key-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 8)}`;
}

/**
 * Client key entries → keys with their names. `team-a:sk-...` is the key `sk-...` named `team-a`
 * (split at the first `:`; a name is 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit);
 * an entry without `:` is a key alone, named `key-<8 hex digits of its SHA-256>`. Several keys may
 * share a name (key rotation). A malformed entry stops the bootstrap, without printing it.
 */
export function parseClientKeys(entries: readonly string[]): ClientKey[] {
  const keys: ClientKey[] = [];
  for (const [i, raw] of entries.entries()) {
    const entry = raw.trim();
    if (entry.length === 0) continue;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      keys.push({ name: unnamedKeyLabel(entry), key: entry });
      continue;
    }
    const name = entry.slice(0, colon).trim();
    const key = entry.slice(colon + 1).trim();
    if (!CLIENT_NAME.test(name) || key.length === 0) {
      throw new Error(
        `GATEWAY_API_KEYS (apiKeys): entry ${i + 1} has a ':' but is not name:key (a name of 1 to 64 letters, digits, '.', '_' or '-', then the key). ` +
          'A key that contains a colon must be given a name.',
      );
    }
    keys.push({ name, key });
  }
  return keys;
}

/** `true`/`false` (or 1/0, yes/no) from an environment variable; unset or empty: `fallback`. */
export function parseBooleanEnv(name: string, value: string | undefined, fallback: boolean): boolean {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '') return fallback;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new Error(`${name} must be true or false; got "${value}".`);
}

export function resolveGatewayOptions(options: GatewayOptions, env: Readonly<Record<string, string | undefined>> = process.env): ResolvedGatewayOptions {
  const apiKeys = parseClientKeys(options.apiKeys ?? apiKeysFromEnv(env));
  const metricsPublic = options.metricsPublic ?? parseBooleanEnv('GATEWAY_METRICS_PUBLIC', env.GATEWAY_METRICS_PUBLIC, false);
  const watchConfig = options.watchConfig ?? parseBooleanEnv('GATEWAY_WATCH_CONFIG', env.GATEWAY_WATCH_CONFIG, false);
  return {
    apiKeys,
    health: { cacheTtlMs: DEFAULT_READINESS_CACHE_MS, ...options.health },
    metricsPublic,
    watchConfig,
    reloadOnSighup: options.reloadOnSighup ?? true,
  };
}

const SIZE = /^((-|\+)?(\d+(?:\.\d+)?)) *(kb|mb|gb|tb|pb)$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4, pb: 1024 ** 5 };

/**
 * `GATEWAY_BODY_LIMIT` / `bodyLimit` in bytes, read as body-parser read it ('20mb', '512kb', '1.5mb',
 * '1048576'; units of 1024, any case). A value that is not a size stops the bootstrap.
 */
export function parseBodyLimit(value: string | number): number {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else {
    const match = SIZE.exec(value.trim());
    bytes = match ? Math.floor(UNITS[match[4]!.toLowerCase()]! * Number.parseFloat(match[1]!)) : Number.parseInt(value, 10);
  }
  if (!Number.isFinite(bytes) || bytes < 0) {
    throw new Error(`GATEWAY_BODY_LIMIT (bodyLimit) must be a size such as 20mb, 512kb or a number of bytes; got "${String(value)}".`);
  }
  return bytes;
}
