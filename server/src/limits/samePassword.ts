/**
 * Password comparison in constant time: both sides are hashed first, so neither the length
 * nor the first differing character shows in how long a wrong guess takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function samePassword(given: string | undefined, expected: string): boolean {
  return timingSafeEqual(digest(given ?? ''), digest(expected)) && given !== undefined;
}
