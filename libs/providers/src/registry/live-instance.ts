/**
 * The object an app holds for a name (injected, or from the registry), which a reload points at a
 * new instance without the app noticing: a Proxy that forwards every property to the instance of
 * the moment. Methods are bound to that instance, so a call started before a reload runs to its end
 * on the instance it started on, while the next call goes to the new one.
 */
export class LiveInstance<T extends object> {
  readonly proxy: T;
  #target: T;
  /** Bound methods of the current target, made once per method and target. */
  #bound = new Map<PropertyKey, Function>();

  constructor(target: T) {
    this.#target = target;
    const forward: ProxyHandler<T> = {
      get: (_, prop) => {
        const target = this.#target;
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        let bound = this.#bound.get(prop);
        if (!bound) this.#bound.set(prop, (bound = (value as Function).bind(target)));
        return bound;
      },
      has: (_, prop) => Reflect.has(this.#target, prop),
      getPrototypeOf: () => Reflect.getPrototypeOf(this.#target),
      ownKeys: () => Reflect.ownKeys(this.#target),
      getOwnPropertyDescriptor: (_, prop) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(this.#target, prop);
        // A proxy may not report a property as non-configurable that its own (empty) target lacks.
        return descriptor ? { ...descriptor, configurable: true } : undefined;
      },
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    };
    // The proxy's own target only anchors it: every trap reads the instance of the moment.
    this.proxy = new Proxy(Object.create(null) as T, forward);
  }

  get target(): T {
    return this.#target;
  }

  /** From now on, property reads and calls go to `next`. */
  swap(next: T): void {
    this.#target = next;
    this.#bound = new Map();
  }
}
