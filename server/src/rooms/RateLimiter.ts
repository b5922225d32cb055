/** Token bucket: `capacity` actions, refilled evenly over `windowMs`. */
export class RateLimiter {
  #tokens: number;
  #last: number;

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = capacity;
    this.#last = now();
  }

  tryTake(): boolean {
    const t = this.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((t - this.#last) * this.capacity) / this.windowMs);
    this.#last = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
