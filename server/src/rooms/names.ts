import { randomInt } from 'node:crypto';
import { DISPLAY_NAME_MAX } from '../../../protocol/index.js';

const ADJECTIVES = [
  'Amber', 'Brave', 'Calm', 'Clever', 'Cosmic', 'Curious', 'Gentle', 'Golden', 'Happy', 'Jolly',
  'Kind', 'Lucky', 'Merry', 'Mellow', 'Nimble', 'Quiet', 'Rapid', 'Silver', 'Sunny', 'Swift',
];
const ANIMALS = [
  'Badger', 'Crane', 'Dolphin', 'Falcon', 'Fox', 'Gecko', 'Heron', 'Koala', 'Lynx', 'Marten',
  'Otter', 'Owl', 'Panda', 'Puffin', 'Raven', 'Seal', 'Tiger', 'Walrus', 'Wolf', 'Yak',
];

/** A friendly anonymous name such as "Calm Otter 42" for peers that did not give one. */
export function anonymousName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]} ${ANIMALS[randomInt(ANIMALS.length)]} ${randomInt(10, 100)}`;
}

/** How names compare for sameness: "ＡＬＥＸ" and "alex" are one name to a reader. */
export function nameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

/**
 * `name`, or `name (2)`, `name (3)`… (shortened to fit the length limit) if `taken` says a
 * name is already someone's, so that two people of one name are told apart everywhere.
 */
export function distinctName(name: string, taken: (key: string) => boolean): string {
  if (!taken(nameKey(name))) return name;
  for (let n = 2; ; n++) {
    const suffix = ` (${n})`;
    let base = '';
    for (const c of name) {
      if (base.length + c.length + suffix.length > DISPLAY_NAME_MAX) break;
      base += c;
    }
    const candidate = `${base.trimEnd()}${suffix}`;
    if (!taken(nameKey(candidate))) return candidate;
  }
}
