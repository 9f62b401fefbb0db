import type { ProviderKind } from '../core/provider-kind.js';

/**
 * Where the state that several processes may share lives: the rpm/tpm budgets, the deployments'
 * cooldowns and the instances' caches. `memory` (the default) keeps it in this process; `redis`
 * shares it with every process on the same server and key prefix.
 */
export interface SharedStore {
  readonly type: 'memory' | 'redis';
  /** The sliding one-minute budget of one instance's requests (`rpm`) or tokens (`tpm`). */
  budget(owner: BudgetOwner, perMinute: number): RateBudget;
  /** Which deployments are cooling down after repeated failures. */
  readonly cooldowns: CooldownBoard;
  /** Cached answers, by key (the key is made by the caller from everything the answer depends on). */
  readonly cache: ResultCache;
  /** Stops its timers and connections; budgets and caches fall silent afterwards. */
  close(): Promise<void>;
}

export interface BudgetOwner {
  kind: ProviderKind;
  instance: string;
  unit: 'rpm' | 'tpm';
}

/** Units spent at one moment; an estimate's entry is corrected in place when it settles. */
export interface BudgetEntry {
  readonly at: number;
  units: number;
  /** Out of the window: a correction no longer changes what is spent. */
  expired?: boolean;
  /** `take` had to wait for room before it could record the units. */
  readonly waited: boolean;
}

/**
 * A sliding 60-second window of spent units. `take` waits until the window has room (or gives up
 * with `BudgetExceededError` when it cannot come in time), then records the spending; `settle`
 * replaces a token estimate with the real count and wakes waiting callers.
 */
export interface RateBudget {
  readonly perMinute: number;
  take(units: number, signal: AbortSignal, maxWaitMs: number, estimate?: boolean): Promise<BudgetEntry>;
  settle(entry: BudgetEntry, actual?: number): void;
}

/** Deployments out of rotation until a moment; read at every pick, so reads are synchronous. */
export interface CooldownBoard {
  /** When the deployment comes back (ms since the epoch); 0 or a past moment when it is in rotation. */
  coolUntil(kind: ProviderKind, instance: string, deployment: number): number;
  /** Takes the deployment out until `untilMs`, for every process on the store. */
  cool(kind: ProviderKind, instance: string, deployment: number, untilMs: number): void;
}

/** Cached values by key, each with its own time to live. A miss and a store failure both read as undefined. */
export interface ResultCache {
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  setMany(entries: ReadonlyArray<readonly [key: string, value: string]>, ttlMs: number): Promise<void>;
}
