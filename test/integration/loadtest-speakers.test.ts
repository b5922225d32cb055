/**
 * Speaker simulation and publishers per room as a range, against a real server: the
 * publishers' audio levels take turns, and the server's active-speaker detection (mediasoup's
 * ActiveSpeakerObserver reading those levels) must name each speaker in its turn.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { startTestServer } from '../support/server.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';
import { slotSpeakingAt } from '../../scripts/loadtest/peer/speaking.js';

let noom: NoomServer;

before(async () => {
  noom = await startTestServer();
});

after(async () => {
  await noom?.close();
});

test('publishers take turns at speaking and every member hears the server name each one in its turn', async () => {
  const turnMs = 3000;
  const { report } = await runLoadTest({
    url: noom.url,
    rooms: 2,
    publishers: 2,
    publishersMax: 3,
    subscribers: 1,
    publish: { audio: true, video: false },
    speakerTurnSec: turnMs / 1000,
    durationSec: 14,
    rampPerSec: 10,
    processes: 2,
    progress: false,
  });
  assert.deepEqual(report.failures, []);
  const inRoom = (n: number) => report.peerDetails.filter((p) => p.roomId === `${report.options.roomPrefix}-${n}`);
  assert.deepEqual(
    [1, 2].map((n) => inRoom(n).filter((p) => p.role === 'publisher').length),
    [2, 3],
    'the range 2-3 gives the rooms 2 and 3 publishers',
  );

  for (const n of [1, 2]) {
    const members = inRoom(n);
    const publishers = members.filter((p) => p.role === 'publisher').sort((a, b) => a.index - b.index);
    for (const m of members) {
      const heard = m.speakers;
      assert.ok(heard, `${m.displayName} reports what it heard`);
      // Each change after the first seconds names the publisher whose turn it is (or was a
      // moment ago: detection takes a few hundred ms).
      const named = heard.changes.filter((c) => c.at > heard.since + 2000 && c.peerId !== null);
      assert.ok(named.length >= 3, `${m.displayName} heard ${named.length} speaker changes`);
      for (const c of named) {
        const now = publishers[slotSpeakingAt(turnMs, publishers.length, c.at)]!.peerId;
        const before = publishers[slotSpeakingAt(turnMs, publishers.length, c.at - turnMs)]!.peerId;
        assert.ok(c.peerId === now || c.peerId === before, `${m.displayName}: ${c.peerId} named out of turn`);
      }
      assert.deepEqual(
        new Set(named.map((c) => c.peerId)),
        new Set(publishers.map((p) => p.peerId)),
        `${m.displayName} heard every publisher named`,
      );
    }
  }
  const s = report.speakers;
  assert.ok(s, 'the report has the speaker figures');
  assert.ok(s.turns >= 14, `turn changes lived through: ${s.turns}`);
  assert.ok(s.followedPct >= 80, `turn changes announced: ${s.followed} of ${s.turns}`);
  assert.equal(s.wrong, 0);
  assert.equal(s.delayMs.count, s.followed);
});
