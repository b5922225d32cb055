/**
 * Speaker simulation: the publishers of a room take turns at speaking. Each one marks its
 * audio packets with an RFC 6464 level, speech in its turn and silence otherwise, which is
 * all the server's active-speaker detection reads. Turns follow the wall clock, so that
 * publishers in different processes agree without talking to each other.
 */

export interface SpeakingTurn {
  /** This publisher's turn among its room's publishers, and their number. */
  slot: number;
  of: number;
  turnMs: number;
}

/** Voice activity flag + a level of -30 dBov: speech, as a browser would mark it. */
export const SPEECH_LEVEL = Buffer.from([0x80 | 30]);
/** No voice activity, -127 dBov: a muted or silent microphone. */
export const SILENCE_LEVEL = Buffer.from([127]);
/** A syllable's peak and the pause between syllables (-25 and -55 dBov). */
const SYLLABLE_LEVEL = Buffer.from([0x80 | 25]);
const PAUSE_LEVEL = Buffer.from([55]);
/**
 * Syllables of 150 ms every 250 ms. The detection measures speech against each speaker's
 * own floor, the lowest level it has seen: a level that never moves is that floor, i.e.
 * background noise, and never takes the floor from anyone.
 */
const SYLLABLE_MS = 250;
const SYLLABLE_PEAK_MS = 150;

/** The slot whose turn it is at epoch time `at`. */
export function slotSpeakingAt(turnMs: number, of: number, at: number): number {
  return Math.floor(at / turnMs) % of;
}

/** The level a publisher marks a packet sent at epoch time `at` with. */
export function levelAt(turn: SpeakingTurn | undefined, at: number): Buffer {
  if (!turn) return SPEECH_LEVEL;
  if (slotSpeakingAt(turn.turnMs, turn.of, at) !== turn.slot) return SILENCE_LEVEL;
  return at % SYLLABLE_MS < SYLLABLE_PEAK_MS ? SYLLABLE_LEVEL : PAUSE_LEVEL;
}
