import type { LoggerService } from '@nestjs/common';
import type { InstanceConfig } from '../config/instance-config.js';
import { ProviderError } from '../errors/provider-error.js';
import type { ProviderKind } from '../registry/provider-kind.js';
import { CallScope, describeSite, policyOf, withRetries, type CallPolicy, type CallSite } from './call-policy.js';

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

/**
 * What the three kinds share around their drivers: the call policy, the choice of deployment,
 * retries, and the fallback chain. The kinds add their own call shapes on top.
 */
export abstract class ManagedInstance<D, Self extends ManagedInstance<D, Self>> implements CallSite {
  readonly kind: ProviderKind;
  readonly name: string;
  readonly type: string;
  protected readonly policy: CallPolicy;
  protected readonly logger: LoggerService;
  private readonly deployments: ReadonlyArray<WeightedDriver<D>>;
  private readonly totalWeight: number;
  /** The instances tried after this one, in order, set once every instance exists. */
  private fallbackChain: Self[] = [];

  protected constructor(init: ManagedInstanceInit<D>) {
    this.kind = init.kind;
    this.name = init.name;
    this.type = init.type;
    this.policy = policyOf(init.kind, init.config);
    this.logger = init.logger;
    this.deployments = init.deployments;
    this.totalWeight = init.deployments.reduce((sum, d) => sum + d.weight, 0);
  }

  /** Wires the fallback chain (already flattened and free of cycles by the config check). */
  setFallbacks(chain: Self[]): void {
    this.fallbackChain = chain;
  }

  get fallbacks(): readonly Self[] {
    return this.fallbackChain;
  }

  protected get primaryDriver(): D {
    return this.deployments[0]!.driver;
  }

  protected get drivers(): D[] {
    return this.deployments.map((d) => d.driver);
  }

  /** Weighted random choice among deployments, made afresh for every attempt. */
  protected pickDriver(): D {
    if (this.deployments.length === 1) return this.deployments[0]!.driver;
    let point = Math.random() * this.totalWeight;
    for (const d of this.deployments) {
      point -= d.weight;
      if (point < 0) return d.driver;
    }
    return this.deployments[this.deployments.length - 1]!.driver;
  }

  protected openScope(timeoutMs: number | undefined, signal: AbortSignal | undefined): CallScope {
    return new CallScope(this, timeoutMs ?? this.policy.timeoutMs, signal);
  }

  /** One attempt loop on this instance's own drivers, under the caller's scope. */
  protected attempt<T>(scope: CallScope, run: (driver: D, signal: AbortSignal) => Promise<T>): Promise<T> {
    return withRetries(scope, this, this.policy, (signal) => run(this.pickDriver(), signal));
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
        if (!next || !(err instanceof ProviderError) || !err.retryable || err.code === 'timeout' || scope.signal.aborted) throw err;
        this.logger.warn(`${describeSite(target)} failed (${err.code ?? 'error'}${err.status ? ` ${err.status}` : ''}); falling back to "${next.name}".`);
      }
    }
  }

  /** Frees every deployment's driver. */
  async close(): Promise<void> {
    await Promise.allSettled(this.deployments.map((d) => (d.driver as { close?: () => unknown }).close?.()));
  }
}
