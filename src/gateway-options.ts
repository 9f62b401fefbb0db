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
  /** Largest accepted JSON body; default '20mb' (`npm start`: `GATEWAY_BODY_LIMIT`). */
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
