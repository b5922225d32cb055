/**
 * Who was removed from which room, until when: a removed identity (a token's subject, or an
 * address with the name it asked for) cannot rejoin that room before its time is up. Kept
 * beside the rooms rather than in one, so that a room that empties and is created again
 * still remembers. Entries expire on their own; the map is bounded.
 */
export class KickBans {
  readonly #until = new Map<string, number>();
  readonly #seconds: number;
  readonly #max: number;

  constructor(seconds: number, max = 100_000) {
    this.#seconds = seconds;
    this.#max = max;
  }

  get seconds(): number {
    return this.#seconds;
  }

  add(roomId: string, identity: string, now = Date.now()): void {
    if (this.#seconds === 0) return;
    this.#prune(now);
    // Full of live entries: the oldest gives way (Map keeps insertion order).
    if (this.#until.size >= this.#max) this.#until.delete(this.#until.keys().next().value!);
    const key = `${roomId}\u0000${identity}`;
    this.#until.delete(key);
    this.#until.set(key, now + this.#seconds * 1000);
  }

  /** Seconds until `identity` may join `roomId` again; 0 when it may now. */
  retryAfterS(roomId: string, identity: string, now = Date.now()): number {
    const until = this.#until.get(`${roomId}\u0000${identity}`);
    if (until === undefined) return 0;
    if (until <= now) {
      this.#until.delete(`${roomId}\u0000${identity}`);
      return 0;
    }
    return Math.ceil((until - now) / 1000);
  }

  #prune(now: number): void {
    for (const [key, until] of this.#until) {
      if (until > now) break;
      this.#until.delete(key);
    }
  }
}
