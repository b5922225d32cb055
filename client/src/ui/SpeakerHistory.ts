/**
 * Who spoke lately, most recent first. The grid ranks people by it rather than by the
 * current speaker alone, so that two people talking in turn keep their tiles instead of
 * swapping them on every change of speaker, and someone new to the conversation displaces
 * only the person who has been silent longest.
 */
export class SpeakerHistory {
  readonly #limit: number;
  #ids: string[] = [];

  /**
   * `limit` should be at least the number of video tiles: someone who drops off the end
   * then ranks below everyone in it and has lost their tile already, so forgetting them
   * moves nobody.
   */
  constructor(limit: number) {
    this.#limit = limit;
  }

  get ids(): readonly string[] {
    return this.#ids;
  }

  /** Records a new speaker; false if they already were the latest. */
  spoke(id: string): boolean {
    if (this.#ids[0] === id) return false;
    this.#ids = [id, ...this.#ids.filter((other) => other !== id)].slice(0, this.#limit);
    return true;
  }

  forget(id: string): void {
    this.#ids = this.#ids.filter((other) => other !== id);
  }
}
