import type { LoggerService } from '@nestjs/common';
import type { InstanceConfig } from '../config/instance-config.js';
import { publishFallback } from '../errors/diagnostics.js';
import { ProviderError } from '../errors/provider-error.js';
import type { ProviderKind } from '../registry/provider-kind.js';
import { chunk, mapConcurrent } from '../util/concurrency.js';
import { raceAbort, sleep } from './abort.js';
import { CallScope, describeSite, policyOf, withRetries, type CallPolicy, type CallSite } from './call-policy.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { DeploymentPool, type Deployment } from './deployment-pool.js';
import { BudgetExceededError, SlidingWindowBudget } from './rate-limiter.js';

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
}

/** What a ping found: how many deployments were checked, and how many answered. */
export interface PingResult {
  deployments: number;
  reachable: number;
}

const DEFAULT_PING_TIMEOUT_MS = 5_000;

/** Requests of one embed or rerank call that run at once, unless `maxConcurrency` says fewer. */
const DEFAULT_BATCH_CONCURRENCY = 4;

/** Defaults of the instance-level limits; docs/reliability.md explains them. */
export const DEFAULT_LIMITS = { maxQueue: 1_000, cooldownMs: 5_000, cooldownFailures: 3 } as const;

/**
 * What one attempt holds: a concurrency slot and a deployment's in-flight count. Released when the
 * attempt ends, unless the attempt keeps it (a stream keeps it until the stream ends).
 */
export interface Lease {
  keep(): () => void;
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
  private readonly pool: DeploymentPool<D>;
  private readonly limiter?: ConcurrencyLimiter;
  private readonly rpm?: SlidingWindowBudget;
  private readonly tpm?: SlidingWindowBudget;
  private readonly active = new Set<CallScope>();
  private closing?: ProviderError;
  /** The instances tried after this one, in order, set once every instance exists. */
  private fallbackChain: Self[] = [];
  private readonly batchSize?: number;
  private readonly batchConcurrency: number;

  protected constructor(init: ManagedInstanceInit<D>) {
    const { config } = init;
    this.kind = init.kind;
    this.name = init.name;
    this.type = init.type;
    this.policy = policyOf(init.kind, config);
    this.logger = init.logger;
    this.pool = new DeploymentPool(init.deployments, config.routing ?? 'weighted-random', {
      failures: config.cooldownFailures ?? DEFAULT_LIMITS.cooldownFailures,
      ms: config.cooldownMs ?? DEFAULT_LIMITS.cooldownMs,
    });
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
    if (config.rpm !== undefined) this.rpm = new SlidingWindowBudget(config.rpm);
    if (config.tpm !== undefined) this.tpm = new SlidingWindowBudget(config.tpm);
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
    };
    return scope;
  }

  /**
   * One attempt loop on this instance's own deployments, under the caller's scope: each attempt
   * waits for a concurrency slot and the rate budgets, picks a deployment, and reports its outcome
   * to the deployment's health.
   */
  protected attempt<T>(
    scope: CallScope,
    run: (driver: D, signal: AbortSignal, lease: Lease) => Promise<T>,
    tokens?: TokenCount<T>,
  ): Promise<T> {
    const tried = new Set<Deployment<D>>();
    return withRetries(scope, this, this.policy, async (signal) => {
      const releaseSlot = this.limiter ? await this.limiter.acquire(signal) : () => undefined;
      const deployment = this.pool.pick(tried);
      tried.add(deployment);
      deployment.inFlight++;
      let kept = false;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        deployment.inFlight--;
        releaseSlot();
      };
      try {
        await this.spendBudgets(tokens?.estimate ?? 0, signal, scope);
        const result = await run(deployment.driver, signal, { keep: () => ((kept = true), release) });
        this.pool.succeeded(deployment);
        const actual = tokens?.actual?.(result);
        if (this.tpm && actual !== undefined) this.tpm.record(actual - (tokens?.estimate ?? 0));
        return result;
      } catch (err) {
        this.pool.failed(deployment, err);
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
   * all when a fallback can take the call now.
   */
  private async spendBudgets(tokens: number, signal: AbortSignal, scope: CallScope): Promise<void> {
    const maxWait = this.fallbackChain.length > 0 ? 0 : scope.remainingMs();
    try {
      await this.rpm?.take(1, signal, maxWait);
      if (tokens > 0) await this.tpm?.take(tokens, signal, maxWait);
    } catch (err) {
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
      }
    }
  }

  protected error(message: string, code: string, retryable: boolean, retryAfterMs?: number): ProviderError {
    return new ProviderError(`${describeSite(this)}: ${message}`, { instance: this.name, type: this.type, kind: this.kind, retryable, code, retryAfterMs });
  }

  /** Tokens found out after the attempt ended (a stream's usage chunk), for `tpm`. */
  protected recordTokens(extra: number): void {
    if (extra !== 0) this.tpm?.record(extra);
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
      const idle = new AbortController();
      const drained = (async () => {
        while (this.active.size > 0 && !idle.signal.aborted) await sleep(10, idle.signal).catch(() => undefined);
      })();
      await Promise.race([drained, sleep(graceMs)]);
      idle.abort();
    }
    for (const scope of this.active) scope.abort(this.error(`aborted by shutdown after ${graceMs} ms of grace.`, 'closed', false));
    await Promise.allSettled(this.pool.deployments.map((d) => (d.driver as { close?: () => unknown }).close?.()));
  }
}
