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
import { ProvidersRegistry, type ReloadResult } from '../registry/providers-registry.js';
import { LiveInstance } from '../registry/live-instance.js';
import { ProviderError } from '../core/provider-error.js';
import { publishReload } from '../core/diagnostics.js';
import { stableJson } from '../core/stable-json.js';
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';

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

/** What a reload reads: the config again, from the same files and options. */
export type ConfigReader = () => { resolved: ResolvedConfig; error?: ProvidersConfigError };

export interface ReloadOptions {
  /** Reads the config again; without it, `reload()` refuses. */
  reread?: ConfigReader;
  /** Files whose change triggers a reload (`forRoot({ watch: true })`). */
  watch?: readonly string[];
}

/** What every instance of a registry shares, whatever reloads happen. */
interface Shared {
  transport: HttpTransport;
  telemetry: Telemetry;
  store: SharedStore;
  options: RegistryOptions;
}

export async function createRegistry(resolved: ResolvedConfig, options: RegistryOptions & ReloadOptions = {}): Promise<ProvidersRegistry> {
  // One keep-alive pool per origin for every instance, closed after them (unless it is the caller's).
  const transport = options.transport ?? new UndiciTransport();
  const telemetry = new Telemetry(options.telemetry);
  const store = await openStore(resolved.store);
  const shared: Shared = { transport, telemetry, store, options };
  const closeShared = async () => {
    await store.close();
    if (!options.transport) await transport.close();
  };

  const built = await createInstances(
    resolved,
    PROVIDER_KINDS.flatMap((kind) => [...resolved.instances[kind].values()]),
    shared,
  );
  if (built.issues.length > 0) {
    await closeInstances(built.created, 0);
    await closeShared();
    throw new ProvidersConfigError(built.issues);
  }
  const live = new LiveRegistry(resolved, built.created, shared, options.reread);
  const watcher = options.watch && options.reread ? watchFiles(options.watch, () => live.reloadQuietly()) : undefined;
  return new ProvidersRegistry({
    instances: live.proxies,
    get defaults() {
      return live.config.defaults;
    },
    close: async () => {
      watcher?.close();
      await live.close(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      await closeShared();
    },
    usage: () => telemetry.usage(),
    secrets: () => live.secrets,
    reload: () => live.reload(),
  });
}

type Managed = Record<ProviderKind, Map<string, AnyManaged>>;

/**
 * The instances of the moment behind stable objects: each name's LiveInstance proxy is what the app
 * holds, and a reload points it at a new instance when the name's entry changed. Replaced and
 * removed instances stop taking calls and close once their calls in flight end.
 */
class LiveRegistry {
  readonly proxies: Record<ProviderKind, Map<string, any>> = { llm: new Map(), embedding: new Map(), reranker: new Map() };
  readonly #live: Record<ProviderKind, Map<string, LiveInstance<AnyManaged>>> = { llm: new Map(), embedding: new Map(), reranker: new Map() };
  /** Instances a reload replaced or removed, closing while their last calls end. */
  readonly #retiring = new Set<Promise<unknown>>();
  readonly #logger = new Logger('hush:providers');
  #managed: Managed;
  #reloading: Promise<unknown> = Promise.resolve();
  #closed = false;
  config: ResolvedConfig;
  secrets: readonly string[];

  constructor(
    resolved: ResolvedConfig,
    managed: Managed,
    private readonly shared: Shared,
    private readonly reread: ConfigReader | undefined,
  ) {
    this.config = resolved;
    this.#managed = managed;
    for (const kind of PROVIDER_KINDS) {
      for (const [name, instance] of managed[kind]) {
        const handle = new LiveInstance<AnyManaged>(instance);
        this.#live[kind].set(name, handle);
        this.proxies[kind].set(name, handle.proxy);
      }
    }
    this.#wireFallbacks();
    this.secrets = secretsOfConfig(resolved);
  }

  /** One reload at a time, in the order asked. */
  reload(): Promise<ReloadResult> {
    const next = this.#reloading.then(() => this.#reload());
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  /** For the file watcher: failures are logged and published, never thrown. */
  reloadQuietly(): void {
    this.reload().catch(() => undefined);
  }

  async #reload(): Promise<ReloadResult> {
    if (this.#closed) throw new Error('The providers registry is closed: nothing to reload.');
    if (!this.reread) throw new Error('This registry was not made from a config that can be read again.');
    const { resolved, error } = this.reread();
    if (error) return this.#refuse(error);
    const before = this.config;
    const result: ReloadResult = { added: [], removed: [], changed: [], ignored: [] };
    const fresh: ResolvedInstance[] = [];
    for (const kind of PROVIDER_KINDS) {
      for (const [name, instance] of resolved.instances[kind]) {
        const old = before.instances[kind].get(name);
        if (!old) {
          result.added.push({ kind, name });
          fresh.push(instance);
          continue;
        }
        const keys = changedKeys(old, instance);
        if (keys.length > 0) {
          result.changed.push({ kind, name, keys });
          fresh.push(instance);
        }
      }
      for (const name of before.instances[kind].keys()) if (!resolved.instances[kind].has(name)) result.removed.push({ kind, name });
    }
    if (stableJson(before.store) !== stableJson(resolved.store)) result.ignored.push('store (takes effect at the next start)');

    const built = await createInstances(resolved, fresh, this.shared);
    if (built.issues.length > 0) {
      await closeInstances(built.created, 0);
      return this.#refuse(new ProvidersConfigError(built.issues));
    }

    // From here on, nothing can fail: the new config takes over for new calls.
    const retired: AnyManaged[] = [];
    const managed: Managed = { llm: new Map(), embedding: new Map(), reranker: new Map() };
    for (const kind of PROVIDER_KINDS) {
      const proxies = new Map<string, any>();
      const live = new Map<string, LiveInstance<AnyManaged>>();
      // In the new config's order, as names() lists them.
      for (const name of resolved.instances[kind].keys()) {
        const replacement = built.created[kind].get(name);
        let handle = this.#live[kind].get(name);
        if (replacement && handle) {
          retired.push(handle.target);
          handle.swap(replacement);
        } else if (replacement) {
          handle = new LiveInstance<AnyManaged>(replacement);
        }
        managed[kind].set(name, handle!.target);
        live.set(name, handle!);
        proxies.set(name, handle!.proxy);
      }
      for (const [name, handle] of this.#live[kind]) {
        if (live.has(name)) continue;
        retired.push(handle.target);
        handle.swap(removedInstance(handle.target));
      }
      this.#live[kind] = live;
      this.proxies[kind].clear();
      for (const [name, proxy] of proxies) this.proxies[kind].set(name, proxy);
    }
    this.#managed = managed;
    this.config = resolved;
    this.secrets = [...new Set([...this.secrets, ...secretsOfConfig(resolved)])];
    this.#wireFallbacks();
    const grace = this.shared.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    for (const instance of retired) {
      const closing = instance.close(grace).catch(() => undefined);
      this.#retiring.add(closing);
      void closing.finally(() => this.#retiring.delete(closing));
    }
    publishReload({ ok: true, ...result });
    this.#logger.log(`Providers config reloaded: ${describeReload(result)}.`);
    for (const ignored of result.ignored) this.#logger.warn(`Providers config reload: ${ignored}.`);
    return result;
  }

  #refuse(error: ProvidersConfigError): never {
    publishReload({ ok: false, error: error.message });
    this.#logger.error(`Providers config reload refused; the running config stays.\n${error.message}`);
    throw error;
  }

  /** Every instance's chain, to the instances of the moment (a call in flight keeps the chain it started with). */
  #wireFallbacks(): void {
    for (const kind of PROVIDER_KINDS) {
      for (const [name, instance] of this.#managed[kind]) {
        instance.setFallbacks(fallbackChain(kind, name, this.config).map((n) => this.#managed[kind].get(n)!));
      }
    }
  }

  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    await this.#reloading;
    await Promise.allSettled([closeInstances(this.#managed, graceMs), ...this.#retiring]);
  }
}

/** Creates the instances of `entries` (of `resolved`); an instance that cannot be created is an issue. */
async function createInstances(
  resolved: ResolvedConfig,
  entries: readonly ResolvedInstance[],
  shared: Shared,
): Promise<{ created: Managed; issues: ConfigIssue[] }> {
  const created: Managed = { llm: new Map(), embedding: new Map(), reranker: new Map() };
  const issues: ConfigIssue[] = [];
  const { transport, telemetry, store, options } = shared;
  for (const instance of entries) {
    const kind = instance.kind;
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
  // In YAML order, whatever order the entries came in.
  for (const kind of PROVIDER_KINDS) {
    const ordered = [...resolved.instances[kind].keys()].filter((n) => created[kind].has(n)).map((n) => [n, created[kind].get(n)!] as const);
    created[kind] = new Map(ordered);
  }
  return { created, issues };
}

/** Every instance stops taking calls at once, then they drain side by side within one grace period. */
async function closeInstances(managed: Managed, graceMs: number): Promise<void> {
  await Promise.allSettled(PROVIDER_KINDS.flatMap((kind) => [...managed[kind].values()].map((m) => m.close(graceMs))));
}

/** The top-level keys of an entry that differ (a changed deployment shows as `deployments`). */
function changedKeys(before: ResolvedInstance, after: ResolvedInstance): string[] {
  const a = before.config as unknown as Record<string, unknown>;
  const b = after.config as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== 'deployments' && stableJson(a[k]) !== stableJson(b[k]));
  const deployments = (i: ResolvedInstance) => stableJson(i.deployments.map((d) => ({ type: d.definition.type, weight: d.weight, config: d.config })));
  // With one deployment, its config is the entry's: the keys above already say what changed.
  const several = before.deployments.length > 1 || after.deployments.length > 1;
  if (deployments(before) !== deployments(after) && (keys.length === 0 || several)) keys.push('deployments');
  return keys.sort();
}

function describeReload(result: ReloadResult): string {
  const names = (refs: ReadonlyArray<{ kind: string; name: string }>) => refs.map((r) => `${r.kind} "${r.name}"`).join(', ');
  const parts = [
    result.added.length ? `added ${names(result.added)}` : '',
    result.changed.length ? `changed ${result.changed.map((c) => `${c.kind} "${c.name}" (${c.keys.join(', ')})`).join(', ')}` : '',
    result.removed.length ? `removed ${names(result.removed)}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'nothing changed';
}

/**
 * What a removed name's object becomes: every call fails, saying why. Properties (name, kind, type,
 * model) still read as they were.
 */
function removedInstance(old: AnyManaged): AnyManaged {
  const error = () =>
    new ProviderError(
      `${old.kind} "${old.name}" was removed from the providers config by a reload: new calls fail. Put it back in the YAML, or stop using it.`,
      { instance: old.name, type: old.type, kind: old.kind, retryable: false, code: 'removed' },
    );
  return new Proxy(old, {
    get: (target, prop, receiver) => {
      if (prop === 'stream') {
        return () => ({
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error()), return: () => Promise.resolve({ done: true, value: undefined }) }),
        });
      }
      if (prop === 'inFlight') return 0;
      if (prop === 'fallbacks') return [];
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'redact' || prop === 'constructor') return value;
      return () => Promise.reject(error());
    },
  });
}

/** Every secret of a config: the deployments' and the store URL's password. */
function secretsOfConfig(resolved: ResolvedConfig): string[] {
  return [...PROVIDER_KINDS.flatMap((kind) => [...resolved.instances[kind].values()].flatMap(secretsOf)), ...storeSecrets(resolved.store)];
}

/**
 * Calls `onChange` (debounced) when one of `files` is written, replaced (editors write a new file and
 * rename it over the old one) or created. Watches their directories, so a file that appears later (an
 * overlay) counts too.
 */
function watchFiles(files: readonly string[], onChange: () => void): { close(): void } {
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const names = byDir.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    byDir.set(dirname(file), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 100);
    timer.unref();
  };
  const watchers = [...byDir].flatMap(([dir, names]) => {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) changed();
      });
      watcher.on('error', () => undefined);
      return [watcher];
    } catch {
      // A directory that does not exist: nothing there to change.
      return [];
    }
  });
  return {
    close: () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
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
