/**
 * A short signaling drop resumes the same session (`room:resume`) instead of a rejoin: the
 * peer keeps its id, transports, producers and consumers, the others never see it leave,
 * and the resume answer describes what changed meanwhile. A drop longer than the resume
 * window, or a client that disconnects itself, leaves the room as before. With real WebRTC
 * peers (werift), media keeps flowing through the drop and the load tester's peer resumes
 * by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { NoomServer } from '../../server/src/app.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { oneNodeCall } from '../support/call.js';
import { eventually } from '../support/eventually.js';
import { collect, errorCode, rawAck, req } from '../support/server.js';
import { OPUS_PARAMETERS } from '../support/rtp.js';
import { startTcpProxy } from '../support/tcpProxy.js';

const WINDOW_MS = 3000;
let noom: NoomServer;
const { sockets, peers } = oneNodeCall({ RESUME_WINDOW_MS: String(WINDOW_MS) }, (server) => (noom = server));

/** Resolves with the reason of the socket's next disconnect. */
function disconnected(socket: ProtocolSocket): Promise<string> {
  return new Promise((resolve) => socket.once('disconnect', resolve));
}

/** Cuts the connection under the socket, as a network or a proxy does: no goodbye is sent. */
async function drop(socket: ProtocolSocket): Promise<void> {
  const gone = disconnected(socket);
  socket.io.engine.close();
  await gone;
}

const members = (roomId: string) => [...(noom.rooms.get(roomId)?.peers.keys() ?? [])];

test('a dropped connection resumes the same membership, and learns what happened meanwhile', async () => {
  const a = await sockets.open(noom.url);
  const b = await sockets.open(noom.url);
  const ja = await req(a, 'room:join', { roomId: 'resume', displayName: 'Ann' });
  const jb = await req(b, 'room:join', { roomId: 'resume', displayName: 'Ben' });
  assert.ok(ja.resumeToken.length >= 16, 'the join answer carries a resume token');
  const leftAtB = collect(b, 'peer:left');

  await drop(a);
  // Meanwhile: a newcomer, a rename, a chat message and a producer.
  const c = await sockets.open(noom.url);
  const jc = await req(c, 'room:join', { roomId: 'resume', displayName: 'Cy' });
  await req(b, 'peer:rename', { displayName: 'Benedict' });
  const { message } = await req(b, 'chat:send', { text: 'while you were away' });
  const sendB = await req(b, 'transport:create', { direction: 'send' });
  const { producerId } = await req(b, 'producer:create', { transportId: sendB.id, kind: 'audio', source: 'mic', rtpParameters: OPUS_PARAMETERS });
  assert.ok(members('resume').includes(ja.peerId), 'the dropped peer is still a member');

  const a2 = await sockets.open(noom.url);
  const resumed = await req(a2, 'room:resume', { token: ja.resumeToken });
  assert.equal(resumed.peerId, ja.peerId);
  assert.equal(resumed.displayName, 'Ann');
  assert.deepEqual(
    resumed.peers.map((p) => [p.id, p.displayName]).sort(),
    [
      [jb.peerId, 'Benedict'],
      [jc.peerId, 'Cy'],
    ].sort(),
  );
  assert.deepEqual(resumed.producers.map((p) => [p.producerId, p.peerId]), [[producerId, jb.peerId]]);
  assert.ok(resumed.chat.some((m) => m.id === message.id));
  assert.deepEqual(resumed.consumers, []);
  assert.notEqual(resumed.resumeToken, ja.resumeToken, 'a new token for the next resume');
  assert.equal(leftAtB.length, 0, 'the others never saw Ann leave');

  // The spent token takes nothing; the new connection is the member now.
  const thief = await sockets.open(noom.url);
  assert.equal(errorCode(await rawAck(thief, 'room:resume', { token: ja.resumeToken })), 'NOT_FOUND');
  const leftAtA = collect(a2, 'peer:left');
  await req(c, 'room:leave', {});
  await eventually('room events reach the resumed connection', () => leftAtA.some((e) => e.peerId === jc.peerId));
  await req(a2, 'chat:send', { text: 'back' });

  // Leaving on purpose (the client's own disconnect) is at once, not after the window.
  a2.disconnect();
  await eventually('Ann leaves when she disconnects herself', () => leftAtB.some((e) => e.peerId === ja.peerId), Boolean, {
    timeoutMs: WINDOW_MS / 2,
  });
  await req(b, 'room:leave', {});
});

test('a drop longer than the resume window leaves the room, and the token is spent', async () => {
  const a = await sockets.open(noom.url);
  const b = await sockets.open(noom.url);
  const ja = await req(a, 'room:join', { roomId: 'expiry', displayName: 'Ann' });
  await req(b, 'room:join', { roomId: 'expiry', displayName: 'Ben' });
  const leftAtB = collect(b, 'peer:left');
  const droppedAt = Date.now();
  await drop(a);
  await eventually('Ann leaves once the window is over', () => leftAtB.length === 1, Boolean, { timeoutMs: WINDOW_MS + 5000 });
  assert.deepEqual(leftAtB, [{ peerId: ja.peerId }]);
  assert.ok(Date.now() - droppedAt >= WINDOW_MS - 100, 'not before the window was over');
  const a2 = await sockets.open(noom.url);
  assert.equal(errorCode(await rawAck(a2, 'room:resume', { token: ja.resumeToken })), 'NOT_FOUND');
  await req(b, 'room:leave', {});
});

test('a resume while the old connection still looks alive takes the membership over', async () => {
  const a = await sockets.open(noom.url);
  const b = await sockets.open(noom.url);
  const ja = await req(a, 'room:join', { roomId: 'takeover', displayName: 'Ann' });
  await req(b, 'room:join', { roomId: 'takeover', displayName: 'Ben' });
  const leftAtB = collect(b, 'peer:left');
  let oldGone: string | undefined;
  void disconnected(a).then((reason) => (oldGone = reason));
  const a2 = await sockets.open(noom.url);
  const resumed = await req(a2, 'room:resume', { token: ja.resumeToken });
  assert.equal(resumed.peerId, ja.peerId);
  assert.equal(await eventually('the old connection to be let go', () => oldGone), 'io server disconnect');
  await req(a2, 'chat:send', { text: 'from the new connection' });
  assert.equal(members('takeover').length, 2);
  assert.ok(members('takeover').includes(ja.peerId), 'the same peer, not a second one');
  assert.deepEqual(leftAtB, []);
  // A connection already in a room cannot resume another membership.
  assert.equal(errorCode(await rawAck(b, 'room:resume', { token: resumed.resumeToken })), 'INVALID_STATE');
  a2.disconnect();
  await req(b, 'room:leave', {});
});

test('real peers: media flows through a signaling drop and the peer resumes by itself', async (t) => {
  // Bob's signaling goes through a proxy that can be cut; his media goes straight to the server.
  const proxy = await startTcpProxy(noom.port);
  t.after(() => proxy.close());
  const ada = await SyntheticPeer.join({ url: noom.url, roomId: 'media', displayName: 'Ada', publish: { audio: true, video: true } });
  const bob = await SyntheticPeer.join({ url: `http://127.0.0.1:${proxy.port}`, roomId: 'media', displayName: 'Bob', publish: { audio: true } });
  peers.push(ada, bob);
  await bob.waitForMedia({ consumers: 2, minPackets: 20, timeoutMs: 15_000 });
  await ada.waitForMedia({ consumers: 1, minPackets: 20, timeoutMs: 15_000 });
  const received = (p: SyntheticPeer, from?: SyntheticPeer) =>
    p.consumerStats().filter((c) => !from || c.peerId === from.peerId).reduce((n, c) => n + c.packets, 0);
  const leftAtAda = collect(ada.socket, 'peer:left');
  const failures: string[] = [];
  bob.events.on('failed', (e) => failures.push(e.message));
  const resumed = once(bob.events, 'resumed');

  const oldSocket = bob.socket;
  const before = { bobGot: received(bob, ada), adaGot: received(ada, bob) };
  const cutAt = performance.now();
  const connected = noom.io.sockets.sockets.size;
  proxy.block();
  await eventually("the server to notice Bob's connection is gone", () => noom.io.sockets.sockets.size === connected - 1);
  // Someone joins and publishes while Bob's signaling is away.
  const cy = await SyntheticPeer.join({ url: noom.url, roomId: 'media', displayName: 'Cy', publish: { audio: true } });
  peers.push(cy);
  await cy.waitForMedia({ consumers: 3, minPackets: 10, timeoutMs: 15_000 });
  assert.equal(bob.resumes, 0, 'Bob is still cut off');
  proxy.unblock();
  const [{ gapMs }] = (await resumed) as [{ gapMs: number }];
  const during = { bobGot: received(bob, ada) - before.bobGot, adaGot: received(ada, bob) - before.adaGot };
  console.log(`Bob resumed ${gapMs.toFixed(0)} ms after the drop; meanwhile he got ${during.bobGot} packets of Ada, she ${during.adaGot} of his`);

  assert.equal(bob.resumes, 1);
  assert.notEqual(bob.socket, oldSocket, 'a new connection');
  assert.deepEqual(members('media').sort(), [ada.peerId, bob.peerId, cy.peerId].sort(), 'the same peer, no rejoin');
  assert.deepEqual(failures, []);
  assert.deepEqual(leftAtAda, [], 'Ada never saw Bob leave');
  // Media did not go through the dropped connection.
  assert.ok(during.bobGot > 0 && during.adaGot > 0, `media during the drop: ${JSON.stringify(during)}`);
  // After the resume: Cy's audio (announced while Bob was away) reaches him, and Ada's goes on.
  await eventually("Bob receives Cy, who joined during the drop", () => received(bob, cy), (n) => n >= 20);
  const afterResume = received(bob, ada);
  await eventually('Bob still receives Ada', () => received(bob, ada), (n) => n >= afterResume + 20);
  const adaNow = received(ada, bob);
  await eventually('Ada still receives Bob', () => received(ada, bob), (n) => n >= adaNow + 20);
  console.log(`resumed ${(performance.now() - cutAt).toFixed(0)} ms ago; Bob has ${received(bob, cy)} packets of Cy`);
});
