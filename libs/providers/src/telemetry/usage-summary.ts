import type { ProviderKind } from '../core/provider-kind.js';

/** What one instance's calls came to since the application started. */
export interface InstanceUsage {
  kind: ProviderKind;
  name: string;
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  /** US dollars, from `pricing`. */
  costUsd: number;
  /** Call durations over the last calls (at most 1,024 kept), ms. */
  latencyMs: { p50: number; p95: number; p99: number; max: number };
}

const KEPT_DURATIONS = 1_024;

/** The running totals of one instance, and its latest durations for the percentiles. */
export class UsageSummary {
  calls = 0;
  errors = 0;
  inputTokens = 0;
  outputTokens = 0;
  costUsd = 0;
  readonly #durations = new Float64Array(KEPT_DURATIONS);
  #next = 0;

  constructor(
    readonly kind: ProviderKind,
    readonly name: string,
  ) {}

  record(durationMs: number, ok: boolean, input: number, output: number, cost: number): void {
    this.calls++;
    if (!ok) this.errors++;
    this.inputTokens += input;
    this.outputTokens += output;
    this.costUsd += cost;
    this.#durations[this.#next % KEPT_DURATIONS] = durationMs;
    this.#next++;
  }

  snapshot(): InstanceUsage {
    const kept = this.#durations.slice(0, Math.min(this.#next, KEPT_DURATIONS)).sort();
    const at = (q: number) => (kept.length === 0 ? 0 : kept[Math.min(kept.length - 1, Math.floor(q * kept.length))]!);
    return {
      kind: this.kind,
      name: this.name,
      calls: this.calls,
      errors: this.errors,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      costUsd: this.costUsd,
      latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: kept.length ? kept[kept.length - 1]! : 0 },
    };
  }
}
