/**
 * Moderation over two nodes sharing a real redis-server: a moderator on node A mutes and
 * removes a member whose socket is on node B (the RTP of the muted microphone stops at a
 * viewer on A; the removed identity cannot come back through either node), locks and
 * unlocks the room for newcomers on B, runs a waiting room whose newcomers wait on B (also
 * where B had no member of the room yet), and ends the meeting for members on B.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { eventually } from '../support/eventually.js';
import { twoNodeCall } from '../support/cluster.js';
import { collect, rawAck, refusalOf, req } from '../support/server.js';

let a: NoomServer;
let b: NoomServer;
const { sockets, peers } = twoNodeCall('mod', { KICK_BAN_SECONDS: '60' }, (nodes) => ({ a, b } = nodes));

const packetsFrom = (viewer: SyntheticPeer, publisher: SyntheticPeer) =>
  viewer.consumerStats().filter((c) => publisher.producerIds().includes(c.producerId) && !c.closed).reduce((n, c) => n + c.packets, 0);

test('a moderator on node A mutes and removes a member on node B; the ban holds on both nodes', async () => {
  const host = await sockets.open(a.url);
  await req(host, 'room:join', { roomId: 'span-mod', displayName: 'Host' });
  const bea = await SyntheticPeer.join({ url: b.url, roomId: 'span-mod', displayName: 'Bea', publish: { audio: true, video: false } });
  peers.push(bea);
  const cy = await SyntheticPeer.join({ url: a.url, roomId: 'span-mod', displayName: 'Cy', publish: { audio: false, video: false } });
  peers.push(cy);
  await cy.waitForMedia({ consumers: 1, minPackets: 20, timeoutMs: 20_000 });
  const muted = collect(bea.socket, 'peer:muted');
  const pausedAtCy = collect(cy.socket, 'producer:paused');

  await req(host, 'peer:mute', { peerId: bea.peerId, source: 'mic' });
  await eventually('Bea to hear she is muted', () => muted.length === 1);
  assert.deepEqual(muted, [{ source: 'mic' }]);
  const mic = [...b.rooms.get('span-mod')!.peers.get(bea.peerId)!.producers.values()][0]!;
  assert.equal(mic.producer.paused, true, "node B paused Bea's microphone");
  await eventually('Cy on node A to see the pause', () => pausedAtCy.length === 1);
  // After the packets in flight, no more of Bea's audio reaches Cy.
  await new Promise((r) => setTimeout(r, 500));
  const before = packetsFrom(cy, bea);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(packetsFrom(cy, bea), before, "no audio from Bea at Cy after the mute");

  const kicked = collect(bea.socket, 'room:kicked');
  const leftAtHost = collect(host, 'peer:left');
  await req(host, 'peer:kick', { peerId: bea.peerId });
  await eventually('Bea to hear she was removed', () => kicked.length === 1);
  assert.deepEqual(kicked, [{ retryAfterS: 60 }]);
  await eventually('the host to see Bea leave', () => leftAtHost.some((l) => l.peerId === bea.peerId));
  assert.equal(b.rooms.get('span-mod')?.peers.has(bea.peerId) ?? false, false, 'node B removed her');
  // The same name from the same address, on either node: refused for a while.
  for (const server of [a, b]) {
    const again = await sockets.open(server.url);
    assert.equal(refusalOf(await rawAck(again, 'room:join', { roomId: 'span-mod', displayName: 'Bea' })), 'FORBIDDEN/removed', `through ${server === a ? 'A' : 'B'}`);
  }
  assert.equal(refusalOf(await rawAck(host, 'peer:kick', { peerId: bea.peerId })), 'NOT_FOUND/-', 'gone is gone');
  await req(host, 'room:leave', {});
});

test('lock, waiting room and end set on node A hold for members and newcomers on node B', async () => {
  const host = await sockets.open(a.url);
  await req(host, 'room:join', { roomId: 'span-lock', displayName: 'Host' });
  const member = await sockets.open(b.url);
  await req(member, 'room:join', { roomId: 'span-lock', displayName: 'Mem' });
  const updatesAtB = collect(member, 'room:updated');

  // Lock: newcomers on B need the password; the member on B hears of it.
  await req(host, 'room:lock', { password: 'hunter22' });
  await eventually('the member on B to hear of the lock', () => updatesAtB.length === 1);
  assert.deepEqual(updatesAtB[0], { locked: true, lobby: false });
  const newcomer = await sockets.open(b.url);
  assert.equal(refusalOf(await rawAck(newcomer, 'room:join', { roomId: 'span-lock', displayName: 'New' })), 'FORBIDDEN/password-required');
  assert.equal(refusalOf(await rawAck(newcomer, 'room:join', { roomId: 'span-lock', displayName: 'New', password: 'nope' })), 'FORBIDDEN/wrong-password');
  const joined = await req(newcomer, 'room:join', { roomId: 'span-lock', displayName: 'New', password: 'hunter22' });
  assert.equal(joined.locked, true);
  await req(newcomer, 'room:leave', {});
  await req(host, 'room:unlock', {});
  await eventually('the member on B to hear of the unlock', () => updatesAtB.length === 2);
  assert.deepEqual(updatesAtB[1], { locked: false, lobby: false });
  await req(newcomer, 'room:join', { roomId: 'span-lock', displayName: 'New' });
  await req(newcomer, 'room:leave', {});

  // Waiting room: a newcomer on B waits; the host on A admits one and denies another.
  const waitingAtHost = collect(host, 'lobby:waiting');
  const leftLobby = collect(host, 'lobby:left');
  await req(host, 'room:lobby', { enabled: true });
  await eventually('the member on B to hear of the waiting room', () => updatesAtB.length === 3);
  assert.deepEqual(updatesAtB[2], { locked: false, lobby: true });
  const wendy = await sockets.open(b.url);
  const waiting = collect(wendy, 'room:waiting');
  const wendyJoin = req(wendy, 'room:join', { roomId: 'span-lock', displayName: 'Wendy' });
  await eventually('the host on A to see Wendy wait', () => waitingAtHost.length === 1);
  await eventually('Wendy to be told she waits', () => waiting.length === 1);
  assert.equal(b.rooms.get('span-lock')!.peers.size, 1, 'a waiting newcomer is not a member');
  await req(host, 'lobby:admit', { peerId: waitingAtHost[0]!.peerId });
  const admitted = await wendyJoin;
  assert.equal(admitted.peerId, waitingAtHost[0]!.peerId);
  // The news comes from node B by its own way: not ordered with Wendy's answer.
  await eventually('the host on A to hear Wendy was admitted', () => leftLobby.length === 1);
  assert.deepEqual(leftLobby, [{ peerId: admitted.peerId, outcome: 'admitted' }]);
  const dan = await sockets.open(b.url);
  const danJoin = rawAck(dan, 'room:join', { roomId: 'span-lock', displayName: 'Dan' });
  await eventually('the host on A to see Dan wait', () => waitingAtHost.length === 2);
  await req(host, 'lobby:deny', { peerId: waitingAtHost[1]!.peerId });
  assert.equal(refusalOf(await danJoin), 'FORBIDDEN/denied');

  // Locked and with a waiting room: a wrong password on B is refused before anyone is asked.
  await req(host, 'room:lock', { password: 'second' });
  await eventually('the member on B to hear of the second lock', () => updatesAtB.length === 4);
  const eve = await sockets.open(b.url);
  assert.equal(refusalOf(await rawAck(eve, 'room:join', { roomId: 'span-lock', displayName: 'Eve', password: 'guess' })), 'FORBIDDEN/wrong-password');
  assert.equal(waitingAtHost.length, 2, 'the host was not asked about Eve');

  // End: everyone on B hears it and B's share of the room closes.
  const closedAtB = collect(member, 'room:closed');
  await req(host, 'room:end', {});
  await eventually('the members on B to hear the end', () => closedAtB.length === 1);
  assert.deepEqual(closedAtB, [{ reason: 'ended' }]);
  await eventually("node B's share of the room to close", () => b.rooms.get('span-lock')?.closed ?? true);
});

test('a newcomer on a node with no member of the room yet still waits in the waiting room, for longer than the empty-room grace', async () => {
  const host = await sockets.open(a.url);
  await req(host, 'room:join', { roomId: 'span-lobby', displayName: 'Host' });
  await req(host, 'room:lobby', { enabled: true });
  assert.equal(b.rooms.get('span-lobby'), undefined, 'node B holds no share of the room');
  const waitingAtHost = collect(host, 'lobby:waiting');
  const leftLobby = collect(host, 'lobby:left');
  const vic = await sockets.open(b.url);
  const vicJoin = req(vic, 'room:join', { roomId: 'span-lobby', displayName: 'Vic' });
  await eventually('the host on A to see Vic wait', () => waitingAtHost.length === 1);
  // Past the grace period of an empty room (200 ms here): B's share stays open while Vic waits.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(b.rooms.get('span-lobby')?.closed, false, "node B's share is open");
  await req(host, 'lobby:admit', { peerId: waitingAtHost[0]!.peerId });
  assert.equal((await vicJoin).peerId, waitingAtHost[0]!.peerId);

  // Another newcomer gives up: the host's list follows.
  const una = await sockets.open(b.url);
  const unaJoin = rawAck(una, 'room:join', { roomId: 'span-lobby', displayName: 'Una' });
  await eventually('the host on A to see Una wait', () => waitingAtHost.length === 2);
  una.disconnect();
  await eventually('the host to see Una go', () => leftLobby.length === 2);
  assert.deepEqual(leftLobby, [
    { peerId: waitingAtHost[0]!.peerId, outcome: 'admitted' },
    { peerId: waitingAtHost[1]!.peerId, outcome: 'gone' },
  ]);
  await unaJoin.catch(() => undefined);
  await req(vic, 'room:leave', {});
  await req(host, 'room:leave', {});
});

test('open server: when the host leaves, the member present longest becomes host, whichever node it is on', async () => {
  const host = await sockets.open(a.url);
  await req(host, 'room:join', { roomId: 'span-host', displayName: 'Host' });
  const bea = await sockets.open(b.url);
  const joinedBea = await req(bea, 'room:join', { roomId: 'span-host', displayName: 'Bea' });
  const cy = await sockets.open(a.url);
  const joinedCy = await req(cy, 'room:join', { roomId: 'span-host', displayName: 'Cy' });
  assert.deepEqual([joinedBea.role, joinedCy.role], ['participant', 'participant']);
  const updatesAtCy = collect(cy, 'peer:updated');
  const updatesAtBea = collect(bea, 'peer:updated');
  await req(host, 'room:leave', {});
  await eventually('Cy on node A to hear that Bea hosts now', () => updatesAtCy.length >= 1);
  assert.deepEqual(updatesAtCy, [{ peerId: joinedBea.peerId, displayName: 'Bea', role: 'moderator' }]);
  // Only one host: node A did not name Cy, and Bea moderates across the nodes.
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(updatesAtBea, [{ peerId: joinedBea.peerId, displayName: 'Bea', role: 'moderator' }], 'Bea is told too');
  assert.equal(updatesAtCy.length, 1);
  assert.equal(a.rooms.get('span-host')!.moderation.roleOf(joinedCy.peerId), 'participant');
  assert.equal(refusalOf(await rawAck(cy, 'room:lobby', { enabled: true })), 'FORBIDDEN/not-moderator');
  await req(bea, 'room:lock', { password: 'from-bea' });
  await req(bea, 'room:unlock', {});
});
