import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorFunction, type HealthIndicatorResult } from '@nestjs/terminus';
import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import { ProvidersRegistry, type InstanceOfKind } from '../registry/providers-registry.js';
import { describeFailure } from './failure.js';

/** What a probe is told about the instance it checks. */
export interface ProvidersProbeContext {
  readonly kind: ProviderKind;
  readonly name: string;
  /** Aborted when the probe's `timeoutMs` runs out (or the check is cancelled). */
  readonly signal: AbortSignal;
}

/**
 * A cheap reachability check for one instance. It must not spend money: never `generate`, `embed` or
 * `rerank` against a paid API (a `GET /models`, a TCP connect or a local `ping` is the idea). Resolve
 * (optionally with extra data for the report) when the instance is usable, throw when it is not.
 * Return `undefined` from a probe chosen per kind to skip an instance (it is then reported unprobed).
 */
export type ProvidersProbe = (
  instance: InstanceOfKind[ProviderKind],
  context: ProvidersProbeContext,
) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;

export interface ProvidersHealthOptions {
  /** The kinds to report; default every kind (`llm`, `embedding`, `reranker`). */
  kinds?: readonly ProviderKind[];
  /**
   * A reachability check per instance, in place of the built-in one. Without it, instances whose
   * type has a free check (`ping`: `GET /models`, `/health`, ...) are pinged, and the others are
   * reported from their configuration.
   */
  probe?: ProvidersProbe;
  /** Use the types' own free checks when no `probe` is given; default true. */
  ping?: boolean;
  /** The longest a probe may take before the instance is reported down; default 3000 ms. */
  timeoutMs?: number;
  /** Reuse a probe's outcome for this long (per instance), so frequent readiness polls stay cheap; default 0 (no cache). */
  cacheTtlMs?: number;
  /**
   * Put the full error message (secrets redacted, but naming the upstream's URL, host and port) in
   * each down entry's `message`, in place of the public summary. Only for a report that stays
   * internal; default false. The full message is logged either way.
   */
  detailedErrors?: boolean;
}

/** Default options for every check of the indicator (`ProvidersHealthModule.forRoot(options)` binds them). */
export const PROVIDERS_HEALTH_OPTIONS = Symbol.for('hush.providers.healthOptions');

const DEFAULT_PROBE_TIMEOUT_MS = 3000;

/** What each entry of the report says about its instance: never a key, a header or a URL. */
export type ProviderHealthDetails = {
  kind: ProviderKind;
  name: string;
  type?: string;
  model?: string;
  /** Configured (or last observed) vector length of an embedder. */
  dimensions?: number;
  /** Whether this instance is its kind's default. */
  default?: boolean;
  /** The fallback names, in the order they are tried. */
  fallbacks?: string[];
  /** Whether a probe ran (false: the entry reports the configuration only). */
  probed: boolean;
  /**
   * The kind of failure of a down instance: `connection`, `timeout`, `http 401`, `bad-response`, ...
   * (the ProviderError's `code`, `http <status>` for an upstream status), `error` for a probe's own error.
   */
  error?: string;
  /** Why the instance is down, without the upstream's address (unless `detailedErrors`). */
  message?: string;
  /** How long the probe took, ms. */
  responseTime?: number;
  /** True when the probe outcome came from the cache. */
  cachedResponse?: boolean;
};

interface ProbeOutcome {
  up: boolean;
  data: Record<string, unknown>;
  responseTime: number;
  /** Why it is down: the public kind and summary, and the full (redacted) message for the log. */
  failure?: { error: string; summary: string; detail: string };
}

interface CachedOutcome {
  promise: Promise<ProbeOutcome>;
  expiresAt: number;
}

/**
 * A `@nestjs/terminus` health indicator with one entry per configured instance, keyed
 * `<kind>:<name>` (`llm:chat`, `embedding:docs`, `reranker:default`).
 *
 * ```ts
 * @Get('ready') @HealthCheck()
 * ready() {
 *   return this.health.check(this.providers.indicators());
 * }
 * ```
 *
 * Each entry is `up` only when its check resolves within `timeoutMs`: the given `probe`, else the
 * instance's own free check (`ping`: `GET /models`, `/health`, a loaded model). An instance with no
 * such check is `up` when it was created from the config (bootstrap validated and built it). Every
 * entry reports its kind, type and model; never a secret.
 *
 * A down entry says what kind of failure it was (`error: 'connection'`, `'timeout'`, `'http 401'`, ...)
 * and a `message` without the upstream's URL, host or port (`cannot reach the upstream
 * (ECONNREFUSED)`): readiness endpoints are usually open to anyone who can reach the port, and the
 * library's messages name the upstream. The full message (secrets redacted with
 * `ProvidersRegistry.redact`) is logged through Nest's Logger (context `ProvidersHealth`) when an
 * instance goes down or its reason changes, and once when it is back up. `detailedErrors: true` puts the
 * full message in the report instead, for an internal endpoint.
 */
@Injectable()
export class ProvidersHealthIndicator {
  private readonly cache = new Map<string, CachedOutcome>();
  private readonly logger = new Logger('ProvidersHealth');
  /** The last failure logged per entry, so a polled instance that stays down is logged once. */
  private readonly logged = new Map<string, string>();

  constructor(
    private readonly registry: ProvidersRegistry,
    private readonly health: HealthIndicatorService,
    @Optional() @Inject(PROVIDERS_HEALTH_OPTIONS) private readonly defaults: ProvidersHealthOptions = {},
  ) {}

  /** The entry key of an instance: `<kind>:<name>`. */
  static key(kind: ProviderKind, name: string): string {
    return `${kind}:${name}`;
  }

  /** One terminus indicator function per configured instance, for `HealthCheckService.check([...])`. */
  indicators(options: ProvidersHealthOptions = {}): HealthIndicatorFunction[] {
    const merged = { ...this.defaults, ...options };
    return this.instances(merged.kinds).map(
      ({ kind, name }) =>
        () =>
          this.checkInstance(kind, name, merged),
    );
  }

  /** Every configured instance in one result, one key per instance. */
  async check(options: ProvidersHealthOptions = {}): Promise<HealthIndicatorResult> {
    const merged = { ...this.defaults, ...options };
    const results = await Promise.all(this.instances(merged.kinds).map(({ kind, name }) => this.checkInstance(kind, name, merged)));
    return Object.assign({}, ...results) as HealthIndicatorResult;
  }

  /** One instance. A name that is not configured is reported `down`. */
  async checkInstance(kind: ProviderKind, name: string, options: ProvidersHealthOptions = {}): Promise<HealthIndicatorResult> {
    const merged = { ...this.defaults, ...options };
    const session = this.health.check(ProvidersHealthIndicator.key(kind, name));
    if (!this.registry.has(kind, name)) {
      return session.down({ kind, name, probed: false, error: 'not-configured', message: `No ${kind} named "${name}" is configured.` });
    }
    const instance = this.registry.get(kind, name);
    const details = this.describe(kind, name, instance);
    const probe = merged.probe ?? (merged.ping !== false && canPing(instance) ? pingProbe : undefined);
    if (!probe) return session.up(details);

    const outcome = await this.probe(kind, name, instance, { ...merged, probe });
    // The probe adds to the entry; it cannot rename it (kind, name, type and model stay the registry's).
    const data: Record<string, unknown> = { ...outcome.data, ...details, probed: true, responseTime: outcome.responseTime };
    if (outcome.up || !outcome.failure) return session.up(data);
    data.error = outcome.failure.error;
    data.message = merged.detailedErrors ? outcome.failure.detail : outcome.failure.summary;
    return session.down(data);
  }

  private instances(kinds: readonly ProviderKind[] = PROVIDER_KINDS): Array<{ kind: ProviderKind; name: string }> {
    return kinds.flatMap((kind) => this.registry.names(kind).map((name) => ({ kind, name })));
  }

  private describe(kind: ProviderKind, name: string, instance: InstanceOfKind[ProviderKind]): ProviderHealthDetails {
    const details: ProviderHealthDetails = { kind, name, type: instance.type, model: instance.model, probed: false };
    if (instance.kind === 'embedding' && instance.dimensions !== undefined) details.dimensions = instance.dimensions;
    details.default = this.registry.defaultName(kind) === name;
    // Managed instances have their fallback chain; other instances (fakes, custom ones) may not.
    if (instance.fallbacks) details.fallbacks = instance.fallbacks.map((f) => f.name);
    return details;
  }

  private probe(kind: ProviderKind, name: string, instance: InstanceOfKind[ProviderKind], options: ProvidersHealthOptions): Promise<ProbeOutcome> {
    const ttl = options.cacheTtlMs ?? 0;
    const key = ProvidersHealthIndicator.key(kind, name);
    const now = Date.now();
    const hit = ttl > 0 ? this.cache.get(key) : undefined;
    if (hit && hit.expiresAt > now) {
      return hit.promise.then((o) => ({ ...o, data: { ...o.data, cachedResponse: true } }));
    }
    const promise = runProbe(options.probe!, instance, kind, name, options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, (text) => this.registry.redact(text));
    void promise.then((outcome) => this.logChange(key, outcome));
    if (ttl > 0) {
      const entry: CachedOutcome = { promise, expiresAt: Number.POSITIVE_INFINITY };
      this.cache.set(key, entry);
      // The time to live starts when the probe has answered; concurrent checks share the run.
      void promise.then(() => (entry.expiresAt = Date.now() + ttl));
    }
    return promise;
  }

  /** Logs the full reason when an entry goes down (or its reason changes), and its recovery. */
  private logChange(key: string, outcome: ProbeOutcome): void {
    const before = this.logged.get(key);
    if (outcome.up || !outcome.failure) {
      if (before !== undefined) this.logger.log(`${key} is up again.`);
      this.logged.delete(key);
      return;
    }
    const line = `${key} is down (${outcome.failure.error}): ${outcome.failure.detail}`;
    if (line !== before) this.logger.warn(line);
    this.logged.set(key, line);
  }
}

/** The built-in probe: the instance's own free check, with how many deployments answered. */
const pingProbe: ProvidersProbe = async (instance, { signal }) => {
  const result = await instance.ping!({ signal });
  return result ? { deployments: result.deployments, reachableDeployments: result.reachable } : {};
};

function canPing(instance: InstanceOfKind[ProviderKind]): boolean {
  return typeof instance.ping === 'function' && instance.pingable !== false;
}

/** The probe's own deadline ran out. */
class ProbeTimeoutError extends Error {}

async function runProbe(
  probe: ProvidersProbe,
  instance: InstanceOfKind[ProviderKind],
  kind: ProviderKind,
  name: string,
  timeoutMs: number,
  redact: (text: string) => string,
): Promise<ProbeOutcome> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new ProbeTimeoutError(`the probe did not answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(() => probe(instance, { kind, name, signal: controller.signal })), timedOut]);
    const data = result && typeof result === 'object' && !Array.isArray(result) ? withoutReserved(result) : {};
    return { up: true, data, responseTime: Math.round(performance.now() - started) };
  } catch (err) {
    // A probe's own error never went through the library's redaction: every configured secret is removed.
    const detail = redact(err instanceof Error ? err.message : String(err));
    const { failure, summary } = err instanceof ProbeTimeoutError ? { failure: 'timeout', summary: err.message } : describeFailure(err);
    return { up: false, data: {}, responseTime: Math.round(performance.now() - started), failure: { error: failure, summary, detail } };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function withoutReserved(data: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, responseTime: _responseTime, cachedResponse: _cached, ...rest } = data;
  return rest;
}
