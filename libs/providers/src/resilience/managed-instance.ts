import type { LoggerService } from '@nestjs/common';
import { describeSite, type CallSite } from '../core/call-site.js';
import type { PingResult } from '../core/provider-instance.js';
import type { InstanceConfig } from '../core/instance-config.js';
import { publishFallback } from '../core/diagnostics.js';
import { ProviderError } from '../core/provider-error.js';
import type { ProviderKind } from '../core/provider-kind.js';
import { chunk, mapConcurrent } from './concurrency.js';
import { redactSecrets } from '../core/redact.js';
import { abortErrorOf, raceAbort, sleep } from '../core/abort.js';
import { CallScope, policyOf, withRetries, type CallPolicy } from './call-policy.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { DeploymentPool, type Deployment } from './deployment-pool.js';
import { MemoryStore } from '../store/memory-store.js';
import { BudgetExceededError } from '../store/sliding-window-budget.js';
import type { BudgetEntry, RateBudget, SharedStore } from '../store/shared-store.js';
import { NO_ATTEMPT, Telemetry } from '../telemetry/telemetry.js';
import type { Pricing } from '../telemetry/pricing.js';

/** A driver with its share of the traffic, when one name spreads over several deployments. */
export interface WeightedDriver<D> {
  driver: D;
  weight: number;
}

export interface ManagedInstanceInit<D> {
  kind: ProviderKind;
  name: string;
  type: string;
  config: InstanceConfig;
  deployments: ReadonlyArray<WeightedDriver<D>>;
  logger: LoggerService;
  /** The values of the instance's secret fields (every deployment's), kept out of every message. */
  secrets?: readonly string[];
  /** The registry's telemetry (spans, metrics, call events, usage); a private one when absent. */
  telemetry?: Telemetry;
  /** Where budgets, cooldowns and the cache live (shared by processes with a `redis` store); a private memory one when absent. */
  store?: SharedStore;
}

const DEFAULT_PING_TIMEOUT_MS = 5_000;

/** Requests of one embed or rerank call that run at once, unless `maxConcurrency` says fewer. */
const DEFAULT_BATCH_CONCURRENCY = 4;

/** Defaults of the instance-level limits; docs/reliability.md explains them. */
export const DEFAULT_LIMITS = { maxQueue: 1_000, cooldownMs: 5_000, cooldownFailures: 3 } as const;

/**
 * What one attempt holds: its share of the rate budgets, a concurrency slot and a deployment's
 * in-flight count. Given back when the attempt ends, unless the attempt keeps them: a stream keeps
 * them until it ends.
 */
export interface Lease {
  keep(): AttemptHold;
}

/** What an attempt kept past its end; both methods may be called any number of times, the first call counts. */
export interface AttemptHold {
  /** The tokens the call really used (a stream's usage chunk), for `tpm`. */
  settleTokens(actual: number | undefined): void;
  /** Gives the slot and the deployment's count back (and settles the tokens if not yet). */
  release(): void;
}

/** How an attempt counts tokens for `tpm`: an estimate before, the real count after when known. */
export interface TokenCount<T> {
  estimate: number;
  actual?: (result: T) => number | undefined;
}

/**
 * What the three kinds share around their drivers: the call policy, deployment routing with
 * cooldowns, concurrency and rate limits, retries, the fallback chain, and a graceful close.
 * The kinds add their own call shapes on top.
 */
export abstract class ManagedInstance<D, Self extends ManagedInstance<D, Self>> implements CallSite {
  readonly kind: ProviderKind;
  readonly name: string;
  readonly type: string;
  protected readonly policy: CallPolicy;
  protected readonly logger: LoggerService;
  protected readonly telemetry: Telemetry;
  /** The instance's `pricing`, for the cost of its calls. */
  protected readonly pricing?: Pricing;
  private readonly pool: DeploymentPool<D>;
  private readonly limiter?: ConcurrencyLimiter;
  private readonly rpm?: RateBudget;
  private readonly tpm?: RateBudget;
  /** Budgets, cooldowns and cached answers: this process's, or shared through the config's `store`. */
  protected readonly store: SharedStore;
  private readonly active = new Set<CallScope>();
  /** Who waits for the last call in flight to end (a closing instance). */
  private readonly idleWaiters: Array<() => void> = [];
  private closing?: ProviderError;
  /** The instances tried after this one, in order, set once every instance exists. */
  private fallbackChain: Self[] = [];
  private readonly batchSize?: number;
  private readonly batchConcurrency: number;
  // A private field: util.inspect and JSON.stringify of an injected instance never show it.
  readonly #secrets: readonly string[];

  protected constructor(init: ManagedInstanceInit<D>) {
    const { config } = init;
    this.#secrets = init.secrets ?? [];
    this.kind = init.kind;
    this.name = init.name;
    this.type = init.type;
    this.policy = policyOf(init.kind, config);
    this.logger = init.logger;
    this.telemetry = init.telemetry ?? new Telemetry();
    this.pricing = (config as { pricing?: Pricing }).pricing;
    this.store = init.store ?? new MemoryStore();
    this.pool = new DeploymentPool(
      init.deployments,
      config.routing ?? 'weighted-random',
      {
        failures: config.cooldownFailures ?? DEFAULT_LIMITS.cooldownFailures,
        ms: config.cooldownMs ?? DEFAULT_LIMITS.cooldownMs,
      },
      { board: this.store.cooldowns, kind: init.kind, instance: init.name },
    );
    if (config.maxConcurrency !== undefined) {
      this.limiter = new ConcurrencyLimiter(config.maxConcurrency, config.maxQueue ?? DEFAULT_LIMITS.maxQueue, () =>
        this.error(
          `${config.maxConcurrency} calls are in flight (maxConcurrency) and ${config.maxQueue ?? DEFAULT_LIMITS.maxQueue} wait (maxQueue): this call is refused. Raise the limits, or send less at once.`,
          'queue-full',
          true,
        ),
      );
    }
    this.batchSize = (config as { batchSize?: number }).batchSize;
    this.batchConcurrency = Math.min(DEFAULT_BATCH_CONCURRENCY, config.maxConcurrency ?? DEFAULT_BATCH_CONCURRENCY);
    if (config.rpm !== undefined) this.rpm = this.store.budget({ kind: init.kind, instance: init.name, unit: 'rpm' }, config.rpm);
    if (config.tpm !== undefined) this.tpm = this.store.budget({ kind: init.kind, instance: init.name, unit: 'tpm' }, config.tpm);
  }

  /** `text` with this instance's secrets (and the key shapes services echo) replaced by `***`. */
  redact(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  /** Wires the fallback chain (already flattened and free of cycles by the config check). */
  setFallbacks(chain: Self[]): void {
    this.fallbackChain = chain;
  }

  get fallbacks(): readonly Self[] {
    return this.fallbackChain;
  }

  /** Calls running now (for health reports and shutdown). */
  get inFlight(): number {
    return this.active.size;
  }

  protected get primaryDriver(): D {
    return this.pool.deployments[0]!.driver;
  }

  protected get drivers(): D[] {
    return this.pool.deployments.map((d) => d.driver);
  }

  /** Starts a logical call: its deadline, and its place among the calls a shutdown waits for. */
  protected openScope(timeoutMs: number | undefined, signal: AbortSignal | undefined): CallScope {
    if (this.closing) throw this.closing;
    const scope = new CallScope(this, timeoutMs ?? this.policy.timeoutMs, signal);
    this.active.add(scope);
    const dispose = scope.dispose.bind(scope);
    scope.dispose = () => {
      dispose();
      this.active.delete(scope);
      if (this.active.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    };
    return scope;
  }

  /**
   * One attempt loop on this instance's own deployments, under the caller's scope. Each attempt
   * first waits for room in the rate budgets (holding nothing else, so a call over the app's own
   * budget neither blocks a slot nor counts against a deployment), then for a concurrency slot, then
   * picks a deployment and reports its outcome to the deployment's health. Whatever the attempt
   * holds is given back exactly once, on every path.
   */
  protected attempt<T>(scope: CallScope, run: (driver: D, signal: AbortSignal, lease: Lease) => Promise<T>, tokens?: TokenCount<T>): Promise<T> {
    const tried = new Set<Deployment<D>>();
    return withRetries(scope, this, this.policy, async (signal) => {
      const settleTokens = once(await this.spendBudgets(tokens?.estimate ?? 0, signal, scope));
      let releaseSlot: () => void;
      try {
        releaseSlot = this.limiter ? await this.limiter.acquire(signal) : () => undefined;
      } catch (err) {
        settleTokens(undefined);
        throw err;
      }
      const deployment = this.pool.pick(tried);
      tried.add(deployment);
      deployment.inFlight++;
      const driver = deployment.driver as { model?: string; serverUrl?: string };
      const observed =
        scope.observation?.attempt({
          instance: this.name,
          type: this.type,
          model: driver.model ?? '',
          deployment: deployment.index,
          serverUrl: driver.serverUrl,
          pricing: this.pricing,
        }) ?? NO_ATTEMPT;
      const release = once(() => {
        deployment.inFlight--;
        releaseSlot();
        settleTokens(undefined);
      });
      let kept = false;
      try {
        const result = await observed.run(() => run(deployment.driver, signal, { keep: () => ((kept = true), { settleTokens, release }) }));
        // The attempt was given up (attempt timeout, end of the call) while its result was on the
        // way: nobody takes it, so what it holds goes back now.
        if (signal.aborted) {
          kept = false;
          throw abortErrorOf(signal);
        }
        this.pool.succeeded(deployment);
        observed.end();
        if (!kept) settleTokens(tokens?.actual?.(result));
        return result;
      } catch (err) {
        // An attempt abandoned for its own slowness counts against the deployment like a failure.
        this.pool.failed(deployment, signal.aborted ? signal.reason : err);
        observed.end(signal.aborted ? signal.reason : err);
        throw err;
      } finally {
        if (!kept) release();
      }
    });
  }

  /**
   * Splits `items` into requests that every deployment takes (its `limitOf`, and `batchSize` where
   * set), runs them at most 4 (or `maxConcurrency`) at once, and gives the results in input order.
   */
  protected inBatches<T, R>(items: readonly T[], limitOf: (driver: D) => number, run: (batch: T[]) => Promise<R>): Promise<R[]> {
    // Any deployment may take any batch, so batches fit the smallest limit.
    const limit = Math.min(...this.drivers.map(limitOf));
    return mapConcurrent(chunk(items, Math.min(this.batchSize ?? limit, limit)), this.batchConcurrency, run);
  }

  /**
   * Waits for room in the rpm/tpm budgets: up to the deadline when this is the last resort, not at
   * all when a fallback can take the call now. Resolves to the function that settles the token
   * estimate once the real count is known.
   */
  private async spendBudgets(tokens: number, signal: AbortSignal, scope: CallScope): Promise<(actual: number | undefined) => void> {
    const maxWait = this.fallbackChain.length > 0 ? 0 : scope.remainingMs();
    const tpm = tokens > 0 ? this.tpm : undefined;
    let entry: BudgetEntry | undefined;
    try {
      entry = await tpm?.take(tokens, signal, maxWait, true);
      const request = await this.rpm?.take(1, signal, maxWait);
      // Room came at once, or only after a wait: a wait is what an operator wants counted.
      if (entry?.waited || request?.waited) scope.observation?.rateLimitWait();
      const taken = entry;
      return taken ? (actual) => tpm!.settle(taken, actual) : () => undefined;
    } catch (err) {
      // No request goes out: the tokens set aside for it come back.
      if (entry) tpm!.settle(entry, 0);
      if (!(err instanceof BudgetExceededError)) throw err;
      // Retryable for the fallbacks (their budgets are their own); final for this instance, which
      // has already waited as long as it could (see withRetries).
      const why = this.fallbackChain.length > 0 ? 'handing the call to a fallback' : 'before the deadline';
      throw this.error(`the rpm/tpm budget has no room (${err.message}); ${why}.`, 'rate-limited', true, err.waitMs);
    }
  }

  /**
   * Runs `run` on this instance, then on each fallback in order while the failure is retryable and
   * the deadline has time left. The last failure is the one thrown.
   */
  protected async withFallbacks<T>(scope: CallScope, run: (target: Self) => Promise<T>): Promise<T> {
    const chain = [this as unknown as Self, ...this.fallbackChain];
    for (let i = 0; ; i++) {
      const target = chain[i]!;
      try {
        return await run(target);
      } catch (err) {
        const next = chain[i + 1];
        if (!next || !(err instanceof ProviderError) || !err.retryable || scope.signal.aborted) throw err;
        this.logger.warn(`${describeSite(target)} failed (${err.code ?? 'error'}${err.status ? ` ${err.status}` : ''}); falling back to "${next.name}".`);
        publishFallback({ kind: this.kind, from: target.name, to: next.name, error: err });
        scope.observation?.fallback(next.name);
      }
    }
  }

  protected error(message: string, code: string, retryable: boolean, retryAfterMs?: number): ProviderError {
    return new ProviderError(`${describeSite(this)}: ${message}`, { instance: this.name, type: this.type, kind: this.kind, retryable, code, retryAfterMs });
  }

  /** Whether any deployment's driver has a free reachability check. */
  get pingable(): boolean {
    return this.pool.deployments.some((d) => typeof (d.driver as { ping?: unknown }).ping === 'function');
  }

  /**
   * Checks, for free, that the deployments answer (each driver's own `ping`: a `GET /models` or
   * `/health`, never a billed call). Resolves with how many answered when at least one did; rejects
   * with the last failure when none did; resolves undefined when no driver can be pinged.
   */
  async ping(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<PingResult | undefined> {
    const pingable = this.pool.deployments
      .map((d) => d.driver as { ping?: (signal: AbortSignal) => Promise<void> })
      .filter((driver) => typeof driver.ping === 'function');
    if (pingable.length === 0) return undefined;
    const scope = new CallScope(this, options.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS, options.signal);
    try {
      const outcomes = await Promise.allSettled(pingable.map((driver) => raceAbort(driver.ping!(scope.signal), scope.signal)));
      const reachable = outcomes.filter((o) => o.status === 'fulfilled').length;
      if (reachable === 0) throw scope.failure((outcomes.at(-1) as PromiseRejectedResult).reason, this);
      return { deployments: pingable.length, reachable };
    } finally {
      scope.dispose();
    }
  }

  /**
   * Stops taking calls, lets the ones in flight finish for up to `graceMs`, aborts the rest, then
   * frees every deployment's driver.
   */
  async close(graceMs = 0): Promise<void> {
    this.closing ??= this.error('the instance is shut down (application closing); no new calls are taken.', 'closed', false);
    if (this.active.size > 0 && graceMs > 0) {
      const grace = new AbortController();
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      await Promise.race([idle, sleep(graceMs, grace.signal).catch(() => undefined)]);
      // The grace timer must not keep the process alive once the calls are done.
      grace.abort();
    }
    for (const scope of this.active) scope.abort(this.error(`aborted by shutdown after ${graceMs} ms of grace.`, 'closed', false));
    await Promise.allSettled(this.pool.deployments.map((d) => (d.driver as { close?: () => unknown }).close?.()));
  }
}

/** `fn`, callable any number of times, running only the first time. */
function once<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  let done = false;
  return (...args: A) => {
    if (done) return;
    done = true;
    fn(...args);
  };
}
