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
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until the next action would be allowed (0 if it is now). */
  retryAfterMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * this.windowMs) / this.capacity);
  }

  #refill(): void {
    const t = this.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((t - this.#last) * this.capacity) / this.windowMs);
    this.#last = t;
  }
}
