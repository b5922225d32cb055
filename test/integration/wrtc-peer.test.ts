/**
 * Real-encoder peers (mediasoup-client on @roamhq/wrtc) and replaying peers (on werift) in
 * one room of a real in-process server: libwebrtc-encoded VP8 + Opus reaches werift
 * consumers, replayed media reaches wrtc consumers, and both engines share the process.
 * Then the load tester runs wrtc peers in its child process (`--engine wrtc`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { prepareMedia, SyntheticPeer, WrtcPeer, type LoadPeer } from '../../scripts/loadtest/peer/index.js';
import { loadWrtc } from '../../scripts/loadtest/peer/wrtc.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';
import { eventually, startTestServer } from '../support/server.js';

let noom: NoomServer;
const peers: LoadPeer[] = [];

before(async () => {
  await prepareMedia();
  noom = await startTestServer();
});

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  await noom?.close();
});

const totalsById = (p: LoadPeer) => new Map(p.consumerStats().map((c) => [c.consumerId, c]));

test('wrtc and werift peers exchange audio and video both ways', async () => {
  const vera = await SyntheticPeer.join({ url: noom.url, roomId: 'engines', displayName: 'Vera', publish: { audio: true, video: true } });
  peers.push(vera);
  const wren = await WrtcPeer.join({ url: noom.url, roomId: 'engines', displayName: 'Wren', publish: { audio: true, video: true } });
  peers.push(wren);
  assert.notEqual(globalThis.RTCPeerConnection, loadWrtc().RTCPeerConnection, 'wrtc left no globals behind');
  // A werift peer set up after a wrtc one still runs on werift.
  const sam = await SyntheticPeer.join({ url: noom.url, roomId: 'engines', displayName: 'Sam' });
  peers.push(sam);

  await Promise.all([
    vera.waitForMedia({ consumers: 2, minPackets: 30, timeoutMs: 20_000 }),
    wren.waitForMedia({ consumers: 2, minPackets: 30, timeoutMs: 20_000 }),
    sam.waitForMedia({ consumers: 4, minPackets: 30, timeoutMs: 20_000 }),
  ]);

  const expectSources = (p: LoadPeer, from: LoadPeer[]) => {
    const stats = p.consumerStats();
    assert.deepEqual(new Set(stats.map((s) => s.peerId)), new Set(from.map((f) => f.peerId)));
    assert.deepEqual(stats.map((s) => s.kind).sort(), from.flatMap(() => ['audio', 'video']).sort());
    for (const s of stats) assert.ok(s.firstPacketAt !== undefined && s.firstPacketAt >= p.joinedAt);
  };
  expectSources(vera, [wren]);
  expectSources(wren, [vera]);
  expectSources(sam, [vera, wren]);

  // libwebrtc encoded and sent both tracks.
  const sent = wren.producerStats();
  assert.deepEqual(sent.map((s) => s.kind).sort(), ['audio', 'video']);
  for (const s of sent) assert.ok(s.packetsSent > 0 && s.bytesSent > 0, `wrtc ${s.kind} producer sent nothing`);

  // libwebrtc decodes the replayed VP8 it receives.
  await eventually(
    () => wren.consumerStats().some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0),
    'wrtc decodes the werift peer\'s video',
    10_000,
  );

  // Media keeps flowing: every consumer's packets and bytes grow past a snapshot.
  for (const p of [vera, wren, sam]) {
    const first = totalsById(p);
    await eventually(
      () =>
        p.consumerStats().every((now) => {
          const was = first.get(now.consumerId)!;
          return now.packets > was.packets + 20 && now.bytes > was.bytes;
        }),
      `every consumer of ${p.peerId} keeps receiving`,
      10_000,
    );
  }
});

test('the load tester runs wrtc peers with --engine wrtc', async () => {
  const { report } = await runLoadTest({
    url: noom.url,
    rooms: 1,
    publishers: 1,
    subscribers: 1,
    durationSec: 3,
    rampPerSec: 10,
    processes: 1,
    engine: 'wrtc',
    progress: false,
  });
  assert.equal(report.peers.joined, 2, `failures: ${JSON.stringify(report.failures)}`);
  assert.deepEqual(report.failures, []);
  const subscriber = report.peerDetails.find((p) => p.role === 'subscriber')!;
  assert.deepEqual(subscriber.consumers.map((c) => c.kind).sort(), ['audio', 'video']);
  for (const c of subscriber.consumers) assert.ok(c.packets > 0 && c.bytes > 0, `${c.kind} consumer received nothing`);
  const publisher = report.peerDetails.find((p) => p.role === 'publisher')!;
  for (const p of publisher.producers) assert.ok(p.packetsSent > 0, `${p.kind} producer sent nothing`);
});
