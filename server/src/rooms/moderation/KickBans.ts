/**
 * Who was removed from which room, until when: a removed identity (a token's subject, or an
 * address with the name it asked for) cannot rejoin that room before its time is up. Kept
 * beside the rooms rather than in one, so that a room that empties and is created again
 * still remembers. Entries expire on their own; the map is bounded.
 *
 * In a cluster the bans are also written to a store every node reads (Redis), so that a
 * removed identity cannot come back through another node; the local map still answers when
 * the store does not.
 */
export interface SharedBanStore {
  /** Records `key` for `ms` milliseconds. */
  put(key: string, ms: number): Promise<void>;
  /** Milliseconds `key` has left; 0 when it has none. */
  remainingMs(key: string): Promise<number>;
}

export class KickBans {
  readonly #until = new Map<string, number>();
  readonly #seconds: number;
  readonly #max: number;
  readonly #store: SharedBanStore | undefined;
  readonly #onStoreError: (error: unknown) => void;

  constructor(seconds: number, options: { max?: number; store?: SharedBanStore; onStoreError?: (error: unknown) => void } = {}) {
    this.#seconds = seconds;
    this.#max = options.max ?? 100_000;
    this.#store = options.store;
    this.#onStoreError = options.onStoreError ?? (() => undefined);
  }

  get seconds(): number {
    return this.#seconds;
  }

  async add(roomId: string, identity: string, now = Date.now()): Promise<void> {
    if (this.#seconds === 0) return;
    this.#prune(now);
    // Full of live entries: the oldest gives way (Map keeps insertion order).
    if (this.#until.size >= this.#max) this.#until.delete(this.#until.keys().next().value!);
    const key = `${roomId}\u0000${identity}`;
    this.#until.delete(key);
    this.#until.set(key, now + this.#seconds * 1000);
    await this.#store?.put(key, this.#seconds * 1000).catch(this.#onStoreError);
  }

  /** Seconds until `identity` may join `roomId` again, here or (cluster) anywhere; 0 when it may now. */
  async retryAfterS(roomId: string, identity: string): Promise<number> {
    const here = this.localRetryAfterS(roomId, identity);
    if (!this.#store) return here;
    const shared = await this.#store.remainingMs(`${roomId}\u0000${identity}`).catch((error: unknown) => {
      this.#onStoreError(error);
      return 0;
    });
    return Math.max(here, Math.ceil(shared / 1000));
  }

  /** Seconds until `identity` may join `roomId` again, as this node knows; 0 when it may now. */
  localRetryAfterS(roomId: string, identity: string, now = Date.now()): number {
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

/**
 * Removes a member from the room, wherever its socket is, and keeps its identity out for a
 * while: the node of the member's socket knows who it is and records the ban.
 */
export async function kickAndBan(
  room: { readonly id: string; kick(peerId: string, retryAfterS: number): string | undefined; kickRemote(peerId: string): Promise<boolean> },
  peerId: string,
  bans: KickBans,
): Promise<void> {
  if (await room.kickRemote(peerId)) return;
  const identity = room.kick(peerId, bans.seconds);
  if (identity) await bans.add(room.id, identity);
}
