import { abortErrorOf } from '../core/abort.js';
import type { BudgetEntry, RateBudget } from './shared-store.js';

const WINDOW_MS = 60_000;

/**
 * A sliding one-minute window of spent units (requests, or tokens). `take` waits until the window
 * has room, then records the spending. Token counts are estimates until the call reports its usage:
 * `settle` replaces an estimate with the real count, and wakes the callers waiting for room.
 */
export class SlidingWindowBudget implements RateBudget {
  private readonly entries: BudgetEntry[] = [];
  private spent = 0;
  /** Estimates taken and not settled yet: while any is out, room may come before the window moves. */
  private unsettled = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Units spent in the last minute. */
  used(): number {
    this.expire();
    return this.spent;
  }

  /**
   * Waits until the window has room for `units`, for up to `maxWaitMs`, then records them (a
   * request larger than the whole budget waits for an empty window, so it is never refused
   * forever). Gives up at once when neither the window nor an unsettled estimate can make room in
   * time. `estimate: true` marks the units as an estimate: the entry returned goes to `settle`.
   */
  async take(units: number, signal: AbortSignal, maxWaitMs: number, estimate = false): Promise<BudgetEntry> {
    const amount = finiteUnits(units);
    const giveUpAt = this.now() + Math.max(0, maxWaitMs);
    for (let waited = false; ; waited = true) {
      this.expire();
      if (this.spent === 0 || this.spent + amount <= this.perMinute) {
        const entry = { at: this.now(), units: amount, waited };
        this.entries.push(entry);
        this.spent += amount;
        if (estimate) this.unsettled++;
        return entry;
      }
      const windowWait = this.waitForRoom(amount);
      const left = giveUpAt - this.now();
      if (left <= 0 || (windowWait > left && this.unsettled === 0)) throw new BudgetExceededError(windowWait);
      await this.wakeAfter(Math.max(1, Math.min(windowWait, left)), signal);
    }
  }

  /**
   * An estimate taken with `take(…, true)` is over: `actual` replaces it when the call reported its
   * usage; without it the estimate stays spent. Either way, waiting callers look again.
   */
  settle(entry: BudgetEntry, actual?: number): void {
    this.unsettled = Math.max(0, this.unsettled - 1);
    if (actual !== undefined && Number.isFinite(actual)) {
      const units = finiteUnits(actual);
      // An entry that has left the window already counts for nothing.
      if (!entry.expired) this.spent += units - entry.units;
      entry.units = units;
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** How long until enough old spending leaves the window. */
  private waitForRoom(units: number): number {
    let freed = 0;
    const need = this.spent + Math.min(units, this.perMinute) - this.perMinute;
    for (const entry of this.entries) {
      freed += entry.units;
      if (freed >= need) return entry.at + WINDOW_MS - this.now();
    }
    return WINDOW_MS;
  }

  private expire(): void {
    const cutoff = this.now() - WINDOW_MS;
    while (this.entries.length && this.entries[0]!.at <= cutoff) {
      const entry = this.entries.shift()!;
      entry.expired = true;
      this.spent -= entry.units;
    }
  }

  /** Resolves after `ms`, or as soon as an estimate settles; rejects when `signal` aborts. */
  private wakeAfter(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortErrorOf(signal));
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(wake);
      };
      const wake = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(abortErrorOf(signal));
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A count fit for a budget: a finite number ≥ 0 (a NaN or a negative count from upstream is no spending). */
function finiteUnits(units: number): number {
  return Number.isFinite(units) && units > 0 ? units : 0;
}

/** The budget has no room before the call's deadline. */
export class BudgetExceededError extends Error {
  constructor(readonly waitMs: number) {
    super(`the budget frees up in ${Math.ceil(waitMs)} ms`);
  }
}
