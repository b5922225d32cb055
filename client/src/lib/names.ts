/**
 * Display-name rules as people read them. The protocol's schema decides what is valid; this
 * module only puts its verdict into words.
 */
import { DISPLAY_NAME_MAX, DisplayName } from '../protocol.js';

export const NAME_MAX_LENGTH = DISPLAY_NAME_MAX;

/** Why `name` cannot be used as a display name, as a sentence; null if it can. */
export function nameProblem(name: string): string | null {
  const parsed = DisplayName.safeParse(name);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'too_big') return `Names can be at most ${NAME_MAX_LENGTH} characters (this one has ${name.trim().length}).`;
  if (issue?.code === 'too_small') return 'Names cannot be empty.';
  const kind = issue?.code === 'custom' ? (issue.params as { name?: string } | undefined)?.name : undefined;
  if (kind === 'bidi') return 'Names cannot contain characters that reverse the text direction.';
  if (kind === 'invisible') return 'Names need at least one visible letter, digit or sign.';
  return 'Names cannot contain control characters.';
}
