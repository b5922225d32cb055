/**
 * SIGINT and SIGTERM, as Noom's own: read one at a time with `next()`. The first asks for a
 * graceful stop, a second for an immediate one. A signal less than `sameWithinMs` after the
 * previous one counts as the same: a terminal's Ctrl-C reaches the whole foreground process
 * group, so `npm run serve` gets it from the terminal and again from npm, which forwards it.
 */
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof SIGNALS)[number];

export class StopSignals {
  readonly #queue: StopSignal[] = [];
  #waiter: ((signal: StopSignal) => void) | undefined;
  #lastAt = -Infinity;
  readonly #sameWithinMs: number;
  readonly #listener = (signal: NodeJS.Signals) => this.#receive(signal as StopSignal);

  /** Listening from now on: before this, the signals end the process as Node's default does. */
  constructor(sameWithinMs = 1000) {
    this.#sameWithinMs = sameWithinMs;
    for (const signal of SIGNALS) process.on(signal, this.#listener);
  }

  /** The next signal (at once if one came and was not read yet). */
  next(): Promise<StopSignal> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  dispose(): void {
    for (const signal of SIGNALS) process.off(signal, this.#listener);
  }

  #receive(signal: StopSignal): void {
    const now = Date.now();
    if (now - this.#lastAt < this.#sameWithinMs) return;
    this.#lastAt = now;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter(signal);
    else this.#queue.push(signal);
  }
}

/** The exit code of a process ended by `signal`, as shells report it (128 + its number). */
export function signalExitCode(signal: StopSignal): number {
  return signal === 'SIGINT' ? 130 : 143;
}
