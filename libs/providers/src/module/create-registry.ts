import { Logger } from '@nestjs/common';
import { ProvidersConfigError, type ConfigIssue } from '../core/config-error.js';
import { formatPath } from '../config/key-path.js';
import type { ResolvedConfig, ResolvedInstance } from '../config/validate-config.js';
import { ManagedEmbedder } from '../managed/managed-embedder.js';
import { ManagedLLM } from '../managed/managed-llm.js';
import { ManagedReranker } from '../managed/managed-reranker.js';
import type { ManagedInstance, ManagedInstanceInit } from '../resilience/managed-instance.js';
import { redactSecrets } from '../core/redact.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../http/response-limits.js';
import { UndiciTransport } from '../http/undici-transport.js';
import type { TokenProvider } from '../core/provider-definition.js';
import type { HttpTransport } from '../core/transport.js';
import { Telemetry, type TelemetryOptions } from '../telemetry/telemetry.js';
import { MemoryStore } from '../store/memory-store.js';
import type { SharedStore } from '../store/shared-store.js';
import type { StoreConfig } from '../config/store-config.js';
import { secretValuesOf } from '../core/config-fields.js';
import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import { ProvidersRegistry, type InstanceOfKind } from '../registry/providers-registry.js';

/** How long `app.close()` lets calls in flight finish before aborting them, ms. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

type AnyManaged = ManagedInstance<any, any>;

const MANAGED: Record<ProviderKind, new (init: ManagedInstanceInit<any>) => AnyManaged> = {
  llm: ManagedLLM,
  embedding: ManagedEmbedder,
  reranker: ManagedReranker,
};

/**
 * Creates every configured instance: one driver per deployment through its provider definition,
 * wrapped in the kind's managed class, with fallbacks wired. A driver that cannot be created is a
 * bootstrap error; whatever was already created is closed again.
 */
export interface RegistryOptions {
  /** On shutdown, how long calls in flight may finish before they are aborted, ms. */
  shutdownGraceMs?: number;
  /** Token providers by name, for types that take a bearer token instead of a key (Azure's Entra ID). */
  tokenProviders?: Readonly<Record<string, TokenProvider>>;
  /** A transport of the caller's in place of the library's (its owner closes it). */
  transport?: HttpTransport;
  /** What the instances record of their calls beyond spans and metrics. */
  telemetry?: TelemetryOptions;
}

export async function createRegistry(resolved: ResolvedConfig, options: RegistryOptions = {}): Promise<ProvidersRegistry> {
  const created: Record<ProviderKind, Map<string, AnyManaged>> = { llm: new Map(), embedding: new Map(), reranker: new Map() };
  const issues: ConfigIssue[] = [];
  // One keep-alive pool per origin for every instance, closed after them (unless it is the caller's).
  const transport = options.transport ?? new UndiciTransport();
  const telemetry = new Telemetry(options.telemetry);
  const store = await openStore(resolved.store);
  // Every instance stops taking calls at once, then they drain side by side within one grace period.
  const closeAll = async (graceMs = 0) => {
    await Promise.allSettled(PROVIDER_KINDS.flatMap((kind) => [...created[kind].values()].map((m) => m.close(graceMs))));
    await store.close();
    if (!options.transport) await transport.close();
  };

  for (const kind of PROVIDER_KINDS) {
    for (const instance of resolved.instances[kind].values()) {
      const logger = new Logger(`hush:${kind}:${instance.name}`);
      try {
        const deployments = await Promise.all(
          instance.deployments.map(async (d) => ({
            driver: await d.definition.create(d.config, {
              name: instance.name,
              kind,
              type: d.definition.type,
              logger,
              maxResponseBytes: d.config.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
              transport,
              tokenProviders: options.tokenProviders,
            }),
            weight: d.weight,
          })),
        );
        const secrets = secretsOf(instance);
        created[kind].set(
          instance.name,
          new MANAGED[kind]({ kind, name: instance.name, type: instance.type, config: instance.config, deployments, logger, secrets, telemetry, store }),
        );
      } catch (err) {
        issues.push({ path: formatPath([kind, instance.name]), message: `could not be created: ${safeMessage(err, instance)}` });
      }
    }
  }
  if (issues.length > 0) {
    await closeAll();
    throw new ProvidersConfigError(issues);
  }

  for (const kind of PROVIDER_KINDS) {
    for (const [name, managed] of created[kind]) managed.setFallbacks(fallbackChain(kind, name, resolved).map((n) => created[kind].get(n)!));
  }

  return new ProvidersRegistry({
    instances: created as unknown as { [K in ProviderKind]: Map<string, InstanceOfKind[K]> },
    defaults: resolved.defaults,
    close: () => closeAll(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS),
    usage: () => telemetry.usage(),
    secrets: [...PROVIDER_KINDS.flatMap((kind) => [...resolved.instances[kind].values()].flatMap(secretsOf)), ...storeSecrets(resolved.store)],
  });
}

/** The config's store: this process's memory, or Redis (its client loaded only then). */
async function openStore(config: StoreConfig): Promise<SharedStore> {
  if (config.type === 'memory') return new MemoryStore();
  const { RedisStore } = await import('../store/redis-store.js');
  return RedisStore.connect(config, new Logger('hush:store'));
}

/** Depth-first, in the order written, each name once: A → [B, C], B → [D] gives B, D, C. */
export function fallbackChain(kind: ProviderKind, name: string, resolved: ResolvedConfig): string[] {
  const chain: string[] = [];
  const seen = new Set([name]);
  const walk = (from: string) => {
    for (const next of resolved.instances[kind].get(from)?.config.fallbacks ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      chain.push(next);
      walk(next);
    }
  };
  walk(name);
  return chain;
}

/** The password in a Redis store's URL (as written and decoded), for `redact`. */
function storeSecrets(store: StoreConfig): string[] {
  if (store.type !== 'redis') return [];
  const password = new URL(store.url).password;
  return password ? [...new Set([password, decodeURIComponent(password)])] : [];
}

/** Every deployment's secret values. */
function secretsOf(instance: ResolvedInstance): string[] {
  return [...new Set(instance.deployments.flatMap((d) => secretValuesOf(d.definition.config, d.config)))];
}

function safeMessage(err: unknown, instance: ResolvedInstance): string {
  return redactSecrets(err instanceof Error ? err.message : String(err), secretsOf(instance));
}
