import type { InstanceConfig } from '../core/instance-config.js';
import { describeSite, type CallSite } from '../core/call-site.js';
import { callContext } from '../core/call-context.js';
import { publishRetry } from '../core/diagnostics.js';
import type { CallObservation } from '../telemetry/telemetry.js';
import { isAbortError, ProviderAbortError, ProviderError } from '../core/provider-error.js';
import type { ProviderKind } from '../core/provider-kind.js';
import { redactSecrets } from '../core/redact.js';
import { abortErrorOf, linkedController, raceAbort, sleep } from '../core/abort.js';

/** How one instance's calls behave when things go wrong. Built from YAML, with the defaults below. */
export interface CallPolicy {
  timeoutMs: number;
  maxRetries: number;
  idleTimeoutMs: number;
  /** Backoff before retry n (from 0): a random wait in [0, min(max, base · 2ⁿ)] ("full jitter"). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** The longest Retry-After we honour; a longer one fails the attempt at once (or goes to a fallback). */
  retryAfterMaxMs: number;
  /** The longest one attempt may take before it is abandoned and retried (or a fallback tried); none by default. */
  attemptTimeoutMs?: number;
}

/** Defaults per kind; docs/reliability.md explains them. */
export const DEFAULT_POLICIES: Record<ProviderKind, CallPolicy> = {
  llm: { timeoutMs: 300_000, maxRetries: 2, idleTimeoutMs: 60_000, backoffBaseMs: 500, backoffMaxMs: 8_000, retryAfterMaxMs: 60_000 },
  embedding: { timeoutMs: 60_000, maxRetries: 2, idleTimeoutMs: 60_000, backoffBaseMs: 500, backoffMaxMs: 8_000, retryAfterMaxMs: 60_000 },
  reranker: { timeoutMs: 60_000, maxRetries: 2, idleTimeoutMs: 60_000, backoffBaseMs: 500, backoffMaxMs: 8_000, retryAfterMaxMs: 60_000 },
};

export function policyOf(kind: ProviderKind, config: InstanceConfig): CallPolicy {
  const base = DEFAULT_POLICIES[kind];
  return {
    ...base,
    timeoutMs: config.timeoutMs ?? base.timeoutMs,
    maxRetries: config.maxRetries ?? base.maxRetries,
    idleTimeoutMs: config.idleTimeoutMs ?? base.idleTimeoutMs,
    retryAfterMaxMs: config.retryAfterMaxMs ?? base.retryAfterMaxMs,
    backoffBaseMs: config.backoffBaseMs ?? base.backoffBaseMs,
    backoffMaxMs: config.backoffMaxMs ?? base.backoffMaxMs,
    attemptTimeoutMs: config.attemptTimeoutMs,
  };
}

// The reason work left running under a finished call is aborted with; nobody is waiting for it, so
// one shared instance spares an error (and its stack) per call.
const CALL_ENDED = new ProviderAbortError('the call has ended');

/**
 * One logical call: the caller's signal and the deadline merged into one signal that every attempt,
 * wait and fallback runs under. `dispose()` frees the timer and listeners.
 */
export class CallScope {
  readonly signal: AbortSignal;
  /** The call's span, clock and usage, when the instance observes its calls. */
  observation?: CallObservation;
  /** Extra headers for every request of the call. */
  headers?: Readonly<Record<string, string>>;
  private readonly controller: AbortController;
  private readonly unlink: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private timeoutError?: ProviderError;
  private endedBy?: ProviderError;
  attempts = 0;

  constructor(
    private readonly site: CallSite,
    private readonly timeoutMs: number,
    private readonly callerSignal?: AbortSignal,
  ) {
    const linked = linkedController(callerSignal);
    this.controller = linked.controller;
    this.unlink = linked.unlink;
    this.signal = linked.controller.signal;
    this.timer = setTimeout(() => {
      this.timeoutError = new ProviderError(
        `${describeSite(site)}: no answer within timeoutMs ${timeoutMs} ms (${this.attempts} attempt${this.attempts === 1 ? '' : 's'}, retries and fallbacks included). Raise timeoutMs, or look at the upstream's health.`,
        { instance: site.name, type: site.type, kind: site.kind, retryable: true, code: 'timeout' },
      );
      this.controller.abort(this.timeoutError);
    }, timeoutMs);
  }

  remainingMs(): number {
    return this.timeoutMs - (Date.now() - this.startedAt);
  }

  /** Ends the call from outside (shutdown): every attempt under it is aborted with `reason`. */
  abort(reason: ProviderError): void {
    this.endedBy ??= reason;
    this.controller.abort(reason);
  }

  /** What a failure means for the caller: their abort, our deadline, a shutdown, or the error itself. */
  failure(err: unknown, site: CallSite = this.site): Error {
    if (this.callerSignal?.aborted) return abortErrorOf(this.callerSignal);
    if (this.timeoutError) return this.timeoutError;
    if (this.endedBy) return this.endedBy;
    return normalizeError(err, site);
  }

  /** Runs `fn` as part of this call: its span active, its headers where the transport finds them. */
  run<T>(fn: () => T): T {
    const observed = this.observation ? () => this.observation!.run(fn) : fn;
    return this.headers ? callContext.run({ headers: this.headers }, observed) : observed();
  }

  /** Ends the call: whatever still runs under it (a batch's siblings after one failed) is aborted. */
  dispose(): void {
    clearTimeout(this.timer);
    if (!this.controller.signal.aborted) this.controller.abort(CALL_ENDED);
    this.unlink();
  }
}

/** Anything a driver throws becomes a ProviderError (or stays an AbortError), with secrets removed. */
export function normalizeError(err: unknown, site: CallSite): Error {
  if (err instanceof ProviderError || isAbortError(err)) return err as Error;
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(`${describeSite(site)}: ${site.redact ? site.redact(message) : redactSecrets(message, [])}`, {
    instance: site.name,
    type: site.type,
    kind: site.kind,
    retryable: false,
    code: 'internal',
  });
}

/** The wait before retry `n` (0-based): Retry-After when the upstream said, else full-jitter backoff. */
export function backoffMs(n: number, error: ProviderError, policy: CallPolicy, random: () => number = Math.random): number {
  if (error.retryAfterMs !== undefined) return Math.max(0, error.retryAfterMs);
  return Math.floor(random() * Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** n));
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the scope ends: retries retryable failures
 * up to `maxRetries` times with backoff, never waits past the deadline or a Retry-After cap.
 * Each attempt runs on a signal aborted when the scope ends (and when it outlives attemptTimeoutMs).
 */
export async function withRetries<T>(scope: CallScope, site: CallSite, policy: CallPolicy, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    scope.attempts++;
    const own = policy.attemptTimeoutMs === undefined ? undefined : attemptDeadline(scope, site, policy.attemptTimeoutMs);
    const signal = own?.controller.signal ?? scope.signal;
    try {
      return await raceAbort(attempt(signal), signal);
    } catch (err) {
      own?.controller.abort();
      const reason: unknown = own?.controller.signal.reason;
      // An attempt that ran out of its own time is retryable; anything else is what it is.
      const error = !scope.signal.aborted && reason instanceof ProviderError && reason.code === 'attempt-timeout' ? reason : scope.failure(err, site);
      // A local budget already waited as long as it may: another attempt here would only wait again.
      if (!(error instanceof ProviderError) || !error.retryable || error.code === 'rate-limited' || scope.signal.aborted || n >= policy.maxRetries) {
        throw error;
      }
      const wait = backoffMs(n, error, policy);
      if (wait > policy.retryAfterMaxMs || wait >= scope.remainingMs()) throw error;
      publishRetry({ kind: site.kind, instance: site.name, type: site.type, attempt: n + 1, waitMs: wait, error });
      scope.observation?.retry();
      try {
        await sleep(wait, scope.signal);
      } catch (sleepErr) {
        throw scope.failure(sleepErr, site);
      }
    } finally {
      own?.dispose();
    }
  }
}

/**
 * An attempt's own signal under `attemptTimeoutMs`: aborted when the call's scope ends, or when the
 * attempt runs out of its time. Without an attempt timeout, attempts run on the scope's signal
 * (one controller and listener less per call).
 */
function attemptDeadline(scope: CallScope, site: CallSite, timeoutMs: number): { controller: AbortController; dispose: () => void } {
  const { controller, unlink } = linkedController(scope.signal);
  const timer = setTimeout(() => {
    controller.abort(
      new ProviderError(`${describeSite(site)}: the attempt took longer than attemptTimeoutMs ${timeoutMs} ms.`, {
        instance: site.name,
        type: site.type,
        kind: site.kind,
        retryable: true,
        code: 'attempt-timeout',
      }),
    );
  }, timeoutMs);
  return {
    controller,
    dispose: () => {
      clearTimeout(timer);
      unlink();
    },
  };
}
