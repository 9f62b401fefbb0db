import { ProviderAbortError } from './provider-error.js';

/** The error a cancelled call rejects with: always a ProviderAbortError (name 'AbortError'), the signal's reason as its cause. */
export function abortErrorOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof ProviderAbortError) return reason;
  return new ProviderAbortError('The operation was aborted', reason === undefined ? undefined : { cause: reason });
}

/**
 * Settles with `promise`, or rejects as soon as `signal` aborts, whichever is first, so that a call
 * is cancelled at once even when the work underneath takes time to notice.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortErrorOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(abortErrorOf(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Throws the abort error when `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortErrorOf(signal);
}

/** Waits `ms`, or rejects at once when `signal` aborts; leaves no timer behind either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(abortErrorOf(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortErrorOf(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A controller that aborts when any parent aborts, and can be detached from them to free listeners. */
export function linkedController(...parents: Array<AbortSignal | undefined>): { controller: AbortController; unlink: () => void } {
  const controller = new AbortController();
  const links: Array<() => void> = [];
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) {
      controller.abort(parent.reason);
      break;
    }
    const onAbort = () => controller.abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    links.push(() => parent.removeEventListener('abort', onAbort));
  }
  return { controller, unlink: () => links.forEach((f) => f()) };
}
