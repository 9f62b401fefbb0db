import type { DriverContext } from '../../core/provider-definition.js';
import { linkedController, throwIfAborted } from '../../core/abort.js';
import { closedError, toLlamaCppError, type LlamaCppSite } from './llama-cpp-config.js';
import type { ModelLease } from './llama-cpp-runtime.js';
import { SlotPool } from './slot-pool.js';

/**
 * What the three llama-cpp drivers share: a leased model, a pool of slots (sequences or contexts)
 * that calls take turns on, the work in flight, and a close() that stops it all and frees the model.
 */
export abstract class LlamaCppDriver<Slot> {
  protected readonly site: LlamaCppSite;
  protected readonly pool: SlotPool<Slot>;
  /** Aborted by close(): stops what is still running. */
  protected readonly shutdown = new AbortController();
  private readonly running = new Set<Promise<unknown>>();
  private closing?: Promise<void>;

  protected constructor(
    context: DriverContext,
    protected readonly lease: ModelLease,
    slots: Slot[],
  ) {
    this.site = { name: context.name, kind: context.kind, type: context.type };
    this.pool = new SlotPool(slots);
  }

  protected ensureOpen(): void {
    if (this.closing) throw closedError(this.site);
  }

  /** In process: usable as long as the model is loaded and not closed. */
  async ping(): Promise<void> {
    this.ensureOpen();
  }

  /** Counts `work` among what close() waits for. */
  protected track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    return work;
  }

  /**
   * One task per item, each on a free slot, under the caller's signal and the shutdown. The first
   * failure aborts the others; close() waits for every task, not only until that failure.
   */
  protected async runEach<T, R>(items: readonly T[], callerSignal: AbortSignal, task: (slot: Slot, item: T, index: number) => Promise<R>): Promise<R[]> {
    this.ensureOpen();
    const { controller, unlink } = linkedController(callerSignal, this.shutdown.signal);
    const signal = controller.signal;
    const tasks = items.map((item, index) =>
      this.pool.use(signal, async (slot) => {
        throwIfAborted(signal);
        return task(slot, item, index);
      }),
    );
    const all = this.track(Promise.allSettled(tasks));
    try {
      return await Promise.all(tasks);
    } catch (err) {
      controller.abort();
      throw toLlamaCppError(err, this.site, signal);
    } finally {
      void all.finally(unlink);
    }
  }

  /** Stops taking calls, stops the running ones, waits for them, frees the slots, then the model (when no other instance shares it). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const error = closedError(this.site);
      this.pool.close(error);
      this.shutdown.abort(error);
      await Promise.allSettled([...this.running]);
      await this.disposeSlots().catch(() => undefined);
      await this.lease.release();
    })();
    return this.closing;
  }

  protected abstract disposeSlots(): Promise<unknown>;
}
