/**
 * One rule for room ids, shared by the lobby (what a typed name becomes), the link handler
 * (what `/r/<x>` means) and the server (what `room:join` accepts), so that the same words
 * always reach the same room however they were typed or linked.
 *
 * The canonical form is Unicode NFKC (full-width and other compatibility forms fold into
 * plain letters and digits), in lower case (people say "Standup" and "standup" for the same
 * meeting), with each run of white space turned into one dash and no dash repeated or at
 * either end. What remains must be letters of any script, combining marks, digits and
 * `_ . ~ -`: anything else is refused and named, never dropped, so a user sees what the
 * link will be before it exists. Ids made only of dots are path segments and are refused;
 * so are ids that mix Latin, Greek and Cyrillic letters, whose look-alikes ("dеmo" with a
 * Cyrillic "е") would otherwise open a second room that reads like the first.
 */

/** Longest room id, in UTF-16 code units of its canonical form. */
export const ROOM_ID_MAX = 64;
/** Longest text accepted before it is put into canonical form; beyond this no rule is run. */
export const ROOM_INPUT_MAX = 256;

export type RoomIdProblem =
  | { code: 'empty' }
  | { code: 'too_long'; length: number }
  | { code: 'characters'; characters: string[] }
  | { code: 'dots' }
  | { code: 'mixed_scripts'; scripts: string[] };

const ALLOWED = /^[\p{L}\p{M}\p{N}_.~-]$/u;
/** Scripts whose letters pass for each other; other scripts mix freely (e.g. kanji and kana). */
const CONFUSABLE_SCRIPTS: readonly [string, RegExp][] = [
  ['Latin', /\p{Script=Latin}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
];

/** The canonical form of what was typed or linked; not yet checked (see `roomIdProblem`). */
export function canonicalRoomId(input: string): string {
  return input
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFKC')
    .trim()
    .replace(/\s+/gu, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** What makes a canonical id unusable, or null if it is a valid room id. */
export function roomIdProblem(id: string): RoomIdProblem | null {
  if (id.length === 0) return { code: 'empty' };
  const bad = new Set<string>();
  for (const { segment } of graphemes(id)) {
    if (![...segment].every((c) => ALLOWED.test(c))) bad.add(segment);
  }
  if (bad.size > 0) return { code: 'characters', characters: [...bad] };
  if (/^\.+$/.test(id)) return { code: 'dots' };
  const scripts = CONFUSABLE_SCRIPTS.filter(([, re]) => re.test(id)).map(([name]) => name);
  if (scripts.length > 1) return { code: 'mixed_scripts', scripts };
  if (id.length > ROOM_ID_MAX) return { code: 'too_long', length: id.length };
  return null;
}

export type RoomIdResult = { ok: true; id: string } | { ok: false; id: string; problem: RoomIdProblem };

/** Canonical form and verdict in one step. */
export function parseRoomId(input: string): RoomIdResult {
  const id = canonicalRoomId(input.slice(0, ROOM_INPUT_MAX + 1));
  const problem = input.length > ROOM_INPUT_MAX ? { code: 'too_long' as const, length: input.length } : roomIdProblem(id);
  return problem ? { ok: false, id, problem } : { ok: true, id };
}

/** The problem in one sentence, for people. */
export function describeRoomIdProblem(problem: RoomIdProblem): string {
  switch (problem.code) {
    case 'empty':
      return 'Type a room name.';
    case 'too_long':
      return `Room names can be at most ${ROOM_ID_MAX} characters (this one has ${problem.length}).`;
    case 'characters': {
      const shown = problem.characters.slice(0, 5).map(showCharacter).join(' ');
      return `Room names use letters, digits, spaces and _ . ~ - only; remove ${shown}.`;
    }
    case 'dots':
      return 'A room name needs more than dots.';
    case 'mixed_scripts':
      return `Room names cannot mix ${problem.scripts.join(' and ')} letters, which look alike.`;
  }
}

/** Invisible characters by code point, the others as they look. */
function showCharacter(c: string): string {
  if (/^[\p{C}\p{Z}]+$/u.test(c)) {
    return [...c].map((cp) => `U+${(cp.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
  }
  return `“${c}”`;
}

function graphemes(text: string): Iterable<{ segment: string }> {
  return new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text);
}
