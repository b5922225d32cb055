import { test } from 'node:test';
import assert from 'node:assert/strict';
import { speakerReport } from '../../scripts/loadtest/speakers.js';
import type { PeerSummary } from '../../scripts/loadtest/ipc.js';
import type { PeerPlan } from '../../scripts/loadtest/plan.js';

const TURN = 1000;
const plan: PeerPlan[] = [
  { index: 0, roomId: 'r', role: 'publisher', displayName: 'p0', url: 'u', publisherSlot: { slot: 0, of: 2 } },
  { index: 1, roomId: 'r', role: 'publisher', displayName: 'p1', url: 'u', publisherSlot: { slot: 1, of: 2 } },
  { index: 2, roomId: 'r', role: 'subscriber', displayName: 's', url: 'u' },
];

function peer(index: number, changes: { at: number; peerId: string | null }[]): PeerSummary {
  const p = plan[index]!;
  return {
    index,
    peerId: `id${index}`,
    roomId: p.roomId,
    role: p.role,
    displayName: p.displayName,
    url: p.url,
    joinAckMs: 1,
    setupMs: 1,
    consumers: [],
    producers: [],
    // Listening from 0 to 7 s: after the 2 s warm-up, the turns starting at 2, 3, 4, 5, 6 s.
    speakers: { since: 0, until: 7000, changes },
  };
}

test('speaker figures: turns lived through, those announced in time and how late, names out of turn', () => {
  const heard = [
    { at: 2300, peerId: 'id0' }, // turn at 2 s is slot 0's: 300 ms late
    { at: 3500, peerId: 'id1' }, // turn at 3 s: 500 ms
    { at: 4100, peerId: 'id0' }, // turn at 4 s: 100 ms
    // turn at 5 s (slot 1) missed; a name from the turn before is no error
    { at: 5200, peerId: 'id0' },
    { at: 6300, peerId: 'id1' }, // too late for the turn at 5 s: not counted for it
    { at: 6400, peerId: 'id2' }, // the subscriber never speaks: out of turn
  ];
  const r = speakerReport(plan, [peer(0, []), peer(1, []), peer(2, heard)], TURN);
  assert.equal(r.turns, 15, 'three members × five turns');
  assert.equal(r.followed, 3);
  assert.equal(r.followedPct, 20);
  assert.deepEqual([r.delayMs.min, r.delayMs.p50, r.delayMs.max], [100, 300, 500]);
  assert.equal(r.wrong, 1);
});

test('speaker figures: a room of one publisher has no turns to change', () => {
  const lone: PeerPlan[] = [{ ...plan[0]!, publisherSlot: { slot: 0, of: 1 } }, plan[2]!];
  const r = speakerReport(lone, [{ ...peer(0, []), index: 0 }, { ...peer(2, [{ at: 2500, peerId: 'id0' }]), index: 1 }], TURN);
  assert.equal(r.turns, 0);
  assert.equal(r.followedPct, 0);
});
