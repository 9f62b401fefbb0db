import { abortErrorOf } from '../../core/abort.js';

/**
 * A fixed set of slots (context sequences, embedding or ranking contexts) handed out one caller at a
 * time; the others wait in order. A waiter whose signal aborts leaves the queue at once. After
 * `close()`, waiting and new callers are refused.
 */
export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiters: Array<{ resolve: (slot: T) => void; reject: (err: unknown) => void }> = [];
  private closedError?: Error;

  constructor(slots: T[]) {
    this.free = [...slots];
  }

  /** Runs `work` with a slot; the slot returns to the pool when `work` settles, not before. */
  async use<R>(signal: AbortSignal, work: (slot: T) => Promise<R>): Promise<R> {
    const slot = await this.acquire(signal);
    try {
      return await work(slot);
    } finally {
      this.release(slot);
    }
  }

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(signal: AbortSignal): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (signal.aborted) return Promise.reject(abortErrorOf(signal));
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (s: T) => {
          signal.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject: (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortErrorOf(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(slot: T): void {
    const next = this.waiters.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
  }

  /** Refuses every waiter and every later caller with `error`. */
  close(error: Error): void {
    this.closedError = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
