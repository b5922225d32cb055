/**
 * A mediasoup worker is SIGKILLed in the middle of a call of real WebRTC peers (werift).
 * The peers of its router are told (`room:closed workerclose`) and, joining again at once
 * as the browser client does, have media in both directions within 3 s of the death; the
 * peers on the room's other routers are not disturbed. With a single worker, the joins that
 * arrive while it is being replaced wait for the replacement instead of being refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { Room } from '../../server/src/rooms/Room.js';
import { prepareMedia, SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { eventually } from '../support/eventually.js';
import { collect, rawAck, socketTracker, startTestServer } from '../support/server.js';

/** The bound: media back in both directions within this long of the worker's death. */
const BACK_WITHIN_MS = 3000;

interface Member {
  name: string;
  peer: SyntheticPeer;
}

/** Audio packets `to` has received from `from`'s current peer. */
const heard = (to: Member, from: Member) =>
  to.peer.consumerStats().filter((c) => c.peerId === from.peer.peerId && c.kind === 'audio').reduce((n, c) => n + c.packets, 0);

function join(url: string, roomId: string, name: string): Promise<SyntheticPeer> {
  return SyntheticPeer.join({ url, roomId, displayName: name, publish: { audio: true } });
}

/**
 * What a client does on `room:closed`: drop the dead session and join again at once. Resolves
 * with the new peer once the old one has been told.
 */
function rejoinOnClose(member: Member, url: string, roomId: string): Promise<void> {
  const closed = collect(member.peer.socket, 'room:closed');
  return eventually(`${member.name} told room:closed`, () => closed.length > 0, Boolean, { intervalMs: 5 }).then(async () => {
    assert.deepEqual(closed[0], { reason: 'workerclose' });
    await member.peer.close();
    member.peer = await join(url, roomId, member.name);
  });
}

/** Milliseconds from `since` until every pair of members hears each other again (20 packets each way, after `base`). */
async function allHearEachOther(members: Member[], since: number): Promise<number> {
  await eventually(
    'every member to hear every other',
    () => members.flatMap((to) => members.filter((from) => from !== to).map((from) => heard(to, from))),
    (counts) => counts.every((n) => n >= 20),
    { timeoutMs: 20_000, intervalMs: 20 },
  );
  return performance.now() - since;
}

describe('a worker dies under a room spread over two workers', () => {
  let noom: NoomServer;
  const members: Member[] = [];
  before(async () => {
    await prepareMedia();
    noom = await startTestServer({ WORKERS: '2', ROOM_PEERS_PER_ROUTER: '2' });
  });
  after(async () => {
    await Promise.all(members.map((m) => m.peer.close()));
    await noom.close();
  });
  const room = (): Room => noom.rooms.get('split')!;

  test("its peers are back with media both ways within 3 s; the other router's peers are undisturbed", async (t) => {
    for (const name of ['Ada', 'Bob', 'Cy', 'Dee']) members.push({ name, peer: await join(noom.url, 'split', name) });
    await allHearEachOther(members, performance.now());
    const slotOf = (m: Member) => room().peers.get(m.peer.peerId)!.slotIndex;
    const victimSlot = slotOf(members[0]!);
    const victims = members.filter((m) => slotOf(m) === victimSlot);
    const survivors = members.filter((m) => slotOf(m) !== victimSlot);
    assert.equal(victims.length, 2);
    assert.equal(survivors.length, 2);
    const survivorIds = survivors.map((m) => m.peer.peerId);
    const survivorEvents = survivors.map((m) => ({ closed: collect(m.peer.socket, 'room:closed'), left: collect(m.peer.socket, 'peer:left') }));
    const rejoined = victims.map((m) => rejoinOnClose(m, noom.url, 'split'));

    // The survivors' media between them, sampled every 250 ms from the kill on.
    const [s1, s2] = survivors as [Member, Member];
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(heard(s1, s2) + heard(s2, s1)), 250);
    t.after(() => clearInterval(sampler));
    const pid = noom.pool.slots.find((s) => s.index === victimSlot)!.worker.pid;
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await Promise.all(rejoined);
    const back = await allHearEachOther(members, killedAt);
    clearInterval(sampler);
    console.log(`worker killed: ${victims.map((v) => v.name).join(' and ')} rejoined; every pair hears each other ${back.toFixed(0)} ms after the kill`);
    assert.ok(back <= BACK_WITHIN_MS, `media in both directions ${back.toFixed(0)} ms after the kill (bound ${BACK_WITHIN_MS} ms)`);

    // The survivors: same peers, never told to leave, nobody of theirs left, media never stopped.
    assert.deepEqual(survivors.map((m) => m.peer.peerId), survivorIds);
    for (const e of survivorEvents) {
      assert.deepEqual(e.closed, []);
      assert.ok(e.left.every((l) => !survivorIds.includes(l.peerId)), JSON.stringify(e.left));
    }
    const stalls = samples.slice(1).filter((n, i) => n <= samples[i]!).length;
    assert.equal(stalls, 0, `survivors' audio stalled in ${stalls} of ${samples.length - 1} quarter seconds: ${samples.join(',')}`);
  });
});

describe('the only worker dies', () => {
  let noom: NoomServer;
  const members: Member[] = [];
  const sockets = socketTracker();
  before(async () => {
    await prepareMedia();
    noom = await startTestServer({ WORKERS: '1' });
  });
  after(async () => {
    await Promise.all(members.map((m) => m.peer.close()));
    sockets.closeAll();
    await noom.close();
  });

  test('joins during the replacement wait for it (no refusal) and media is back within 3 s', async () => {
    for (const name of ['Ada', 'Bob']) members.push({ name, peer: await join(noom.url, 'alone', name) });
    await allHearEachOther(members, performance.now());
    const bystanders = await Promise.all(Array.from({ length: 6 }, () => sockets.open(noom.url)));
    const rejoined = members.map((m) => rejoinOnClose(m, noom.url, 'alone'));
    const oldPid = noom.pool.slots[0]!.worker.pid;
    const killedAt = performance.now();
    process.kill(oldPid, 'SIGKILL');
    await eventually('the death noticed', () => noom.pool.slots.length === 0, Boolean, { intervalMs: 2 });
    // Joins while no worker is live: into the room being rebuilt and into new rooms.
    const answers = bystanders.map((s, i) => rawAck(s, 'room:join', { roomId: i % 2 ? 'alone' : `other-${i}` }));
    await Promise.all(rejoined);
    const back = await allHearEachOther(members, killedAt);
    const codes = (await Promise.all(answers)).map((r) => ((r as { ok: boolean }).ok ? 'ok' : (r as { error: { code: string } }).error.code));
    console.log(`only worker killed: joins meanwhile answered ${codes.join(',')}; media back ${back.toFixed(0)} ms after the kill`);
    assert.deepEqual(codes, bystanders.map(() => 'ok'), 'every join made during the replacement succeeds');
    assert.notEqual(noom.pool.slots[0]!.worker.pid, oldPid);
    assert.ok(back <= BACK_WITHIN_MS, `media in both directions ${back.toFixed(0)} ms after the kill (bound ${BACK_WITHIN_MS} ms)`);
  });
});
