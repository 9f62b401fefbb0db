/**
 * Lets `ProvidersTestingModule` name a fake after its key without a public setter. A registered
 * symbol, so every module copy (ESM and CommonJS) agrees on it.
 */
export const ADOPT_NAME: unique symbol = Symbol.for('hush.providers.testing.adoptName');

/** What every fake's options share. */
export interface FakeInstanceOptions {
  /** Default 'fake'; `ProvidersTestingModule` sets it to the key it is registered under when left out. */
  name?: string;
  /** Wait before answering. Default 0. */
  delayMs?: number;
}

/** What the three fakes share: a name, the recorded calls, scripted failures, a delay. */
export abstract class FakeInstance<Call> {
  readonly type = 'fake';
  /** Every call made, in order. */
  readonly calls: Call[] = [];
  protected failures: Error[] = [];
  protected readonly delayMs: number;
  private currentName: string;
  private readonly nameGiven: boolean;

  protected constructor(label: string, options: FakeInstanceOptions) {
    this.currentName = options.name ?? 'fake';
    this.nameGiven = options.name !== undefined;
    this.delayMs = options.delayMs ?? 0;
    if (!Number.isFinite(this.delayMs) || this.delayMs < 0) {
      throw new RangeError(`${label}: delayMs must be a non-negative number, got ${options.delayMs}`);
    }
  }

  get name(): string {
    return this.currentName;
  }

  /** The most recent call, if any. */
  get lastCall(): Call | undefined {
    return this.calls.at(-1);
  }

  /** Makes the next calls reject with these errors, one per call. Chainable. */
  failNext(...errors: Error[]): this {
    this.failures.push(...errors);
    return this;
  }

  /** Forgets the recorded calls and any pending `failNext` errors. */
  reset(): void {
    this.calls.length = 0;
    this.failures = [];
  }

  /** @internal Used by `ProvidersTestingModule` to name an unnamed fake after its key. */
  [ADOPT_NAME](name: string): void {
    if (!this.nameGiven) this.currentName = name;
  }
}
