/**
 * Real WebRTC through the real server: mediasoup-client on werift peers complete ICE and
 * DTLS with the worker's WebRtcServer and exchange SRTP audio and video. This is the test
 * that fails on a worker built without the DTLS fix for KTLS-enabled OpenSSL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { oneNodeCall } from '../support/call.js';
import { eventually } from '../support/eventually.js';
import { collect, connect, req, onlyRouter } from '../support/server.js';

let noom: NoomServer;
const { peers } = oneNodeCall({}, (server) => (noom = server));
let speakers: { peerId: string | null }[] = [];

const totals = (p: SyntheticPeer) => p.consumerStats().map((c) => ({ id: c.consumerId, packets: c.packets, bytes: c.bytes }));

test('three peers each publish audio and video and each receives the other two', async () => {
  for (const name of ['Ada', 'Bob', 'Cy']) {
    peers.push(await SyntheticPeer.join({ url: noom.url, roomId: 'trio', displayName: name, publish: { audio: true, video: true } }));
    if (name === 'Ada') speakers = collect(peers[0]!.socket, 'activeSpeaker');
  }
  await Promise.all(peers.map((p) => p.waitForMedia({ consumers: 4, minPackets: 30, timeoutMs: 20_000 })));
  for (const p of peers) {
    const stats = p.consumerStats();
    assert.equal(stats.length, 4);
    const sources = new Set(stats.map((s) => s.peerId));
    assert.equal(sources.size, 2, 'media from both other peers');
    assert.ok(!sources.has(p.peerId), 'never its own media');
    assert.deepEqual(stats.map((s) => s.kind).sort(), ['audio', 'audio', 'video', 'video']);
  }
  // Media keeps flowing: every consumer's counters still increase a second later.
  const first = peers.map(totals);
  await new Promise((r) => setTimeout(r, 1500));
  peers.forEach((p, i) => {
    for (const now of totals(p)) {
      const before = first[i]!.find((c) => c.id === now.id)!;
      assert.ok(now.packets > before.packets && now.bytes > before.bytes, `${now.id} grew: ${before.packets} -> ${now.packets}`);
    }
  });
  // The server saw the same traffic.
  const metrics = await (await fetch(`${noom.url}/metrics`)).text();
  const forwarded = Number(/noom_rtp_packets_forwarded_total (\d+)/.exec(metrics)?.[1]);
  const received = peers.flatMap((p) => p.consumerStats()).reduce((n, c) => n + c.packets, 0);
  assert.ok(forwarded >= received * 0.9, `server forwarded ${forwarded}, peers received ${received}`);
});

test('the active speaker observer names a speaking peer', async () => {
  await eventually('an activeSpeaker event', () => speakers.some((s) => s.peerId !== null));
  assert.ok(peers.some((p) => p.peerId === speakers.at(-1)!.peerId));
  // Someone who joins while a peer is talking learns who it is without waiting for a change.
  const late = await connect(noom.url);
  const leftAtAda = collect(peers[0]!.socket, 'peer:left');
  let lateId = '';
  try {
    const heard = collect(late, 'activeSpeaker');
    lateId = (await req(late, 'room:join', { roomId: 'trio', displayName: 'Late' })).peerId;
    const [first] = await eventually('activeSpeaker at the late joiner', () => heard, (h) => h.length > 0);
    assert.ok(peers.some((p) => p.peerId === first!.peerId), `named ${first!.peerId}`);
  } finally {
    late.close();
  }
  // Later tests count peer:left events at Ada: this one must be behind them.
  await eventually('Ada told the late joiner left', () => leftAtAda.some((e) => e.peerId === lateId));
});

test('pausing a producer stops its media and tells the others; resuming restarts it', async () => {
  const [ada, bob] = peers as [SyntheticPeer, SyntheticPeer, SyntheticPeer];
  const audioId = ada.producerIds().find((id) => bob.consumerStats().some((c) => c.producerId === id && c.kind === 'audio'))!;
  const paused = collect(bob.socket, 'producer:paused');
  const resumed = collect(bob.socket, 'producer:resumed');
  await req(ada.socket, 'producer:pause', { producerId: audioId });
  await eventually('producer:paused at Bob', () => paused.some((e) => e.producerId === audioId));
  const count = () => bob.consumerStats().find((c) => c.producerId === audioId)!.packets;
  await new Promise((r) => setTimeout(r, 300));
  const stalled = count();
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(count() - stalled <= 2, `paused audio still arriving: ${stalled} -> ${count()}`);
  await req(ada.socket, 'producer:resume', { producerId: audioId });
  await eventually('audio flows again after resume', () => resumed.length === 1 && count() > stalled + 10);
});

test('ICE restart gives new ICE parameters and media keeps flowing', async () => {
  const cy = peers[2]!;
  const iceParameters = await cy.restartIce('recv');
  assert.ok(iceParameters.usernameFragment && iceParameters.password);
  const before = cy.consumerStats().reduce((n, c) => n + c.packets, 0);
  await eventually('media after ICE restart', () => cy.consumerStats().reduce((n, c) => n + c.packets, 0) > before + 50);
});

test('a peer leaving closes its consumers at the others', async () => {
  const [ada, bob] = peers as [SyntheticPeer, SyntheticPeer, SyntheticPeer];
  const closed = collect(ada.socket, 'consumer:closed');
  const left = collect(ada.socket, 'peer:left');
  await bob.close();
  await eventually('two consumer:closed and a peer:left at Ada', () => closed.length === 2 && left.length === 1);
  assert.equal(left[0]!.peerId, bob.peerId);
  await eventually('Ada keeps only Cy media', () => ada.consumerStats().filter((c) => !c.closed).length === 2);
  const room = noom.rooms.get('trio')!;
  const dump = await onlyRouter(room).dump();
  assert.equal(dump.transportIds.length, 4, 'two transports each for Ada and Cy');
});
