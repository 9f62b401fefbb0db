import { sleep } from './abort.js';

const WINDOW_MS = 60_000;

/**
 * A sliding one-minute window of spent units (requests, or tokens). `take` waits until the window
 * has room, then records the spending; `record` adds spending found out afterwards (actual tokens).
 */
export class SlidingWindowBudget {
  private readonly entries: Array<{ at: number; units: number }> = [];
  private spent = 0;

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
   * Waits until the window has room for `units` (a request larger than the whole budget waits for
   * an empty window, so it is never refused forever), then records them.
   */
  async take(units: number, signal: AbortSignal, maxWaitMs: number): Promise<void> {
    for (;;) {
      this.expire();
      if (this.spent === 0 || this.spent + units <= this.perMinute) {
        this.record(units);
        return;
      }
      const wait = this.waitForRoom(units);
      if (wait > maxWaitMs) throw new BudgetExceededError(wait);
      await sleep(Math.max(1, wait), signal);
    }
  }

  /** Adds spending; a negative amount corrects an estimate that was too high. */
  record(units: number): void {
    if (units === 0) return;
    this.entries.push({ at: this.now(), units });
    this.spent += units;
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
    while (this.entries.length && this.entries[0]!.at <= cutoff) this.spent -= this.entries.shift()!.units;
  }
}

/** The budget has no room before the call's deadline. */
export class BudgetExceededError extends Error {
  constructor(readonly waitMs: number) {
    super(`the budget frees up in ${Math.ceil(waitMs)} ms`);
  }
}
