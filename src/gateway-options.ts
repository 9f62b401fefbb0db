import type { ProvidersModuleOptions } from '@hush/providers';
import type { ProvidersHealthOptions } from '@hush/providers/health';

/** How the gateway is set up; every field has an environment default (see `resolveGatewayOptions`). */
export interface GatewayOptions {
  /**
   * Passed to `ProvidersModule.forRoot`. Default `{}`: the config is `PROVIDERS_CONFIG` if set, else
   * `config/providers.yaml`, with its `<base>.<NODE_ENV>.yaml` overlay.
   */
  providers?: ProvidersModuleOptions;
  /**
   * Client keys: when any are set, every route but /health needs `Authorization: Bearer <key>`.
   * Default: `GATEWAY_API_KEYS`, comma-separated. An empty list turns authentication off.
   */
  apiKeys?: readonly string[];
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

export interface ResolvedGatewayOptions {
  apiKeys: readonly string[];
  health: ProvidersHealthOptions;
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

export function resolveGatewayOptions(options: GatewayOptions, env: Readonly<Record<string, string | undefined>> = process.env): ResolvedGatewayOptions {
  const apiKeys = (options.apiKeys ?? apiKeysFromEnv(env)).map((k) => k.trim()).filter((k) => k.length > 0);
  return { apiKeys, health: { cacheTtlMs: DEFAULT_READINESS_CACHE_MS, ...options.health } };
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
