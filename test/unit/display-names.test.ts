/** Display names: one readable form, nothing that hides or reverses text, duplicates told apart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisplayName } from '../../protocol/index.js';
import { distinctName, nameKey } from '../../server/src/rooms/names.js';

test('display names are NFKC, visible and free of direction overrides', () => {
  const accepted: [string, string][] = [
    ['  Ada  ', 'Ada'],
    ['ＡＤＡ', 'ADA'],
    ['Zoë', 'Zoë'],
    ['👨‍👩‍👧', '👨‍👩‍👧'],
    ['محمد', 'محمد'],
    ['x'.repeat(40), 'x'.repeat(40)],
  ];
  for (const [typed, name] of accepted) assert.equal(DisplayName.parse(typed), name, JSON.stringify(typed));
  for (const refused of ['', '   ', '\u200b\u200b', '\u2066\u2069', 'a\u202eb', 'ab\u2067', 'a\u0000', 'x'.repeat(41), 'x'.repeat(500)]) {
    assert.equal(DisplayName.safeParse(refused).success, false, JSON.stringify(refused));
  }
});

test('a name someone already has gets the first free number, within the length limit', () => {
  const taken = (...names: string[]) => {
    const keys = new Set(names.map(nameKey));
    return (key: string) => keys.has(key);
  };
  assert.equal(distinctName('Alex', taken()), 'Alex');
  assert.equal(distinctName('Alex', taken('Bea')), 'Alex');
  assert.equal(distinctName('Alex', taken('alex')), 'Alex (2)', 'case does not tell names apart');
  assert.equal(distinctName('ALEX', taken('ＡＬＥＸ', 'Alex (2)')), 'ALEX (3)');
  const long = 'W'.repeat(40);
  assert.equal(distinctName(long, taken(long)), `${'W'.repeat(36)} (2)`);
  assert.equal(DisplayName.safeParse(distinctName(long, taken(long))).success, true);
});
