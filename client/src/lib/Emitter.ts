/**
 * A small typed event emitter. Events are declared as tuple maps, e.g.
 * `{ change: [Participant]; closed: [] }`. A listener that throws is reported and does
 * not stop the others from running.
 */
export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;
type AnyListener = (...args: unknown[]) => void;

export class Emitter<E extends EventMap> {
  readonly #listeners = new Map<keyof E, Set<AnyListener>>();

  /** Subscribes and returns the matching unsubscribe function. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    const stored = listener as unknown as AnyListener;
    set.add(stored);
    return () => set.delete(stored);
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        console.error(`listener of "${String(event)}" failed`, error);
      }
    }
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}

/** Collects unsubscribe functions so that a component can drop them all at once. */
export class Subscriptions {
  #offs: (() => void)[] = [];

  add(...offs: (() => void)[]): void {
    this.#offs.push(...offs);
  }

  clear(): void {
    for (const off of this.#offs.splice(0)) off();
  }
}
