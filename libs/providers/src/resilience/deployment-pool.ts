import { ProviderError } from '../core/provider-error.js';
import type { ProviderKind } from '../core/provider-kind.js';
import type { CooldownBoard } from '../store/shared-store.js';

export type RoutingStrategy = 'weighted-random' | 'least-in-flight';

export interface CooldownPolicy {
  /** Consecutive retryable failures that take a deployment out. */
  failures: number;
  /** How long it stays out, ms; 0 turns cooldowns off. */
  ms: number;
}

/** Where a pool's cooldowns are kept (the store's board: shared by processes on a `redis` store). */
export interface CooldownSite {
  board: CooldownBoard;
  kind: ProviderKind;
  instance: string;
}

/**
 * One deployment of a name, with what routing needs to know about it. The failure count and the
 * in-flight count are this process's; when it is cooling down is the store's.
 */
export class Deployment<D> {
  inFlight = 0;
  consecutiveFailures = 0;
  constructor(
    readonly driver: D,
    readonly weight: number,
    readonly index: number,
  ) {}
}

/**
 * Chooses a deployment for each attempt: weighted random or least in flight, among those not
 * cooling down after repeated failures, preferring one this call has not tried yet. When every
 * deployment cools down, the one that comes back first is used rather than failing the call.
 */
export class DeploymentPool<D> {
  readonly deployments: ReadonlyArray<Deployment<D>>;

  constructor(
    entries: ReadonlyArray<{ driver: D; weight: number }>,
    private readonly strategy: RoutingStrategy,
    private readonly cooldown: CooldownPolicy,
    private readonly cooldowns: CooldownSite,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.deployments = entries.map((e, i) => new Deployment(e.driver, e.weight, i));
  }

  /** When `deployment` comes back into rotation (0 or a past moment: it is in). */
  coolUntil(deployment: Deployment<D>): number {
    return this.cooldowns.board.coolUntil(this.cooldowns.kind, this.cooldowns.instance, deployment.index);
  }

  pick(tried: ReadonlySet<Deployment<D>> = new Set()): Deployment<D> {
    if (this.deployments.length === 1) return this.deployments[0]!;
    const now = this.now();
    const until = this.deployments.map((d) => this.coolUntil(d));
    const ready = this.deployments.filter((d) => until[d.index]! <= now);
    if (ready.length === 0) return this.deployments.reduce((a, b) => (until[b.index]! < until[a.index]! ? b : a));
    const fresh = ready.filter((d) => !tried.has(d));
    const candidates = fresh.length > 0 ? fresh : ready;
    if (this.strategy === 'least-in-flight') {
      const least = Math.min(...candidates.map((d) => d.inFlight));
      return this.weighted(candidates.filter((d) => d.inFlight === least));
    }
    return this.weighted(candidates);
  }

  succeeded(deployment: Deployment<D>): void {
    deployment.consecutiveFailures = 0;
  }

  /** Counts retryable failures only: a bad request says nothing about the deployment's health. */
  failed(deployment: Deployment<D>, error: unknown): void {
    if (!(error instanceof ProviderError) || !error.retryable) return;
    deployment.consecutiveFailures++;
    if (this.cooldown.ms > 0 && this.deployments.length > 1 && deployment.consecutiveFailures >= this.cooldown.failures) {
      this.cooldowns.board.cool(this.cooldowns.kind, this.cooldowns.instance, deployment.index, this.now() + this.cooldown.ms);
      deployment.consecutiveFailures = 0;
    }
  }

  private weighted(candidates: Array<Deployment<D>>): Deployment<D> {
    const total = candidates.reduce((sum, d) => sum + d.weight, 0);
    let point = this.random() * total;
    for (const d of candidates) {
      point -= d.weight;
      if (point < 0) return d;
    }
    return candidates[candidates.length - 1]!;
  }
}
