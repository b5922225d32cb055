import { randomInt } from 'node:crypto';

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
