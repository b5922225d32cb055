/**
 * One naming rule for rooms, read the same way by the lobby (what a typed name becomes), the
 * link handler (what `/r/<x>` opens) and the server (what `room:join` accepts): one table,
 * checked against all three.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roomFromPath, roomPath } from '../../client/src/app/routes.js';
import { JoinRequest, parseRoomId, type RoomIdProblem } from '../../protocol/index.js';

type Expected = string | RoomIdProblem['code'];

/** What is typed → the room id it is, or the problem code that refuses it. */
const TABLE: [typed: string, expected: Expected][] = [
  ['standup', 'standup'],
  ['Team Standup', 'team-standup'],
  ['  team   standup  ', 'team-standup'],
  ['team - standup', 'team-standup'],
  ['-team-', 'team'],
  ['TEAM_Standup.2~b', 'team_standup.2~b'],
  // Full-width letters and digits are the plain ones.
  ['ｄｅｍｏ１', 'demo1'],
  ['Réunion', 'réunion'],
  // Decomposed é (e + combining accent) is the composed one.
  ['Re\u0301union', 'réunion'],
  ['Ελληνικά', 'ελληνικά'],
  ['Москва', 'москва'],
  ['チーム会議', 'チーム会議'],
  ['नमस्ते', 'नमस्ते'],
  ['a.b', 'a.b'],
  ['x'.repeat(64), 'x'.repeat(64)],
  ['', 'empty'],
  ['   ', 'empty'],
  ['---', 'empty'],
  ['!!! ???', 'characters'],
  ['team 🙂 sync', 'characters'],
  ['a/b', 'characters'],
  ['a\u200bb', 'characters'],
  ['a\u202eb', 'characters'],
  ['a\u0000b', 'characters'],
  ['.', 'dots'],
  ['..', 'dots'],
  // A Cyrillic "е" in a Latin word, and a Greek "ο".
  ['dеmo', 'mixed_scripts'],
  ['dοme', 'mixed_scripts'],
  ['x'.repeat(65), 'too_long'],
  ['x'.repeat(300), 'too_long'],
];

const isId = (expected: Expected): boolean => !['empty', 'characters', 'dots', 'mixed_scripts', 'too_long'].includes(expected);

test('the lobby: a typed name becomes the expected id, or is refused for the expected reason', () => {
  for (const [typed, expected] of TABLE) {
    const result = parseRoomId(typed);
    if (isId(expected)) assert.deepEqual(result, { ok: true, id: expected }, JSON.stringify(typed));
    else assert.equal(result.ok ? 'ok' : result.problem.code, expected, JSON.stringify(typed));
  }
});

test('the server: room:join uses the same id, or refuses the same names', () => {
  for (const [typed, expected] of TABLE) {
    const parsed = JoinRequest.safeParse({ roomId: typed });
    if (isId(expected)) assert.equal(parsed.success ? parsed.data.roomId : 'refused', expected, JSON.stringify(typed));
    else assert.equal(parsed.success, false, JSON.stringify(typed));
  }
});

test('links: /r/<typed, URL-encoded> opens the same room, and an id links to itself', () => {
  for (const [typed, expected] of TABLE) {
    const target = roomFromPath(`/r/${encodeURIComponent(typed)}`);
    if (typed === '') {
      assert.equal(target, null, '/r/ is not a room');
      continue;
    }
    assert.ok(target, JSON.stringify(typed));
    if (isId(expected)) {
      assert.deepEqual(target, { ok: true, id: expected }, JSON.stringify(typed));
      assert.deepEqual(roomFromPath(roomPath(expected)), { ok: true, id: expected });
    } else assert.equal(target.ok ? 'ok' : target.problem.code, expected, JSON.stringify(typed));
  }
  // A link as people write it by hand.
  assert.deepEqual(roomFromPath('/r/My%20Room'), { ok: true, id: 'my-room' });
  assert.deepEqual(roomFromPath('/r/My+Room'), { ok: false, id: 'my+room', problem: { code: 'characters', characters: ['+'] } });
  assert.equal(roomFromPath('/'), null);
  assert.equal(roomFromPath('/r/a/b'), null);
});
