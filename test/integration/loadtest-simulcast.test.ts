/**
 * Simulcast in the load tester against a real in-process Noom server: a werift publisher
 * sends three layers of one producer, subscribers ask for a layer, and what arrives is read
 * from the media itself (VP8 keyframe sizes, bytes). Dynacast: layers nobody watches stop
 * at the publisher, as the server's per-layer receive counters confirm.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NoomServer } from '../../server/src/app.js';
import { startTestServer } from '../support/server.js';
import { eventually } from '../support/eventually.js';
import { SyntheticPeer, type ConsumerStats } from '../../scripts/loadtest/peer/syntheticPeer.js';
import { SIMULCAST_LAYERS } from '../../scripts/loadtest/peer/simulcast.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';

let noom: NoomServer;
let outDir: string;
const peers: SyntheticPeer[] = [];

before(async () => {
  // Dynacast lowers a publisher's layers after this long without a rise.
  noom = await startTestServer({ DYNACAST_HOLD_MS: '300' });
  outDir = await mkdtemp(join(tmpdir(), 'noom-loadtest-simulcast-'));
});

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  await noom?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

async function joinPeer(roomId: string, o: Partial<Parameters<typeof SyntheticPeer.join>[0]>): Promise<SyntheticPeer> {
  const peer = await SyntheticPeer.join({ url: noom.url, roomId, ...o });
  peers.push(peer);
  return peer;
}

const video = (p: SyntheticPeer): ConsumerStats => {
  const c = p.consumerStats().find((s) => s.kind === 'video' && !s.closed);
  assert.ok(c, 'a video consumer');
  return c;
};

/** Bytes the server received per rid of a producer: mediasoup's own count of what arrived. */
async function serverBytesByRid(roomId: string, peerId: string, producerId: string): Promise<Map<string, number>> {
  const producer = noom.rooms.get(roomId)!.peers.get(peerId)!.producers.get(producerId)!.producer;
  const stats = await producer.getStats();
  return new Map(stats.map((s) => [s.rid ?? '', s.byteCount]));
}

test('subscribers asking for the low and the high layer receive those layers, by frame size and bitrate', async () => {
  const pub = await joinPeer('layers', { publish: { video: true }, simulcast: true });
  const low = await joinPeer('layers', { preferredLayer: 0 });
  const high = await joinPeer('layers', { preferredLayer: 2 });
  // A consumer starts on the lowest layer and is moved up once the server has a keyframe and
  // a sender report of the layer asked for: wait for each to be on its own, then let a
  // couple of seconds of it arrive for a bitrate.
  await eventually(
    'each subscriber on the layer it asked for',
    () => [video(low).layer?.receivedLayer, video(high).layer?.receivedLayer],
    ([l, h]) => l === 0 && h === 2,
    { timeoutMs: 15_000 },
  );
  await new Promise((resolve) => setTimeout(resolve, 2500));

  const l = video(low);
  const h = video(high);
  // Every layer's packets carry their send time (abs-capture-time), read back as latency.
  for (const c of [l, h]) assert.ok(c.latencyMs && c.latencyMs.count > 0 && c.latencyMs.p50 < 250, `latency ${JSON.stringify(c.latencyMs)}`);
  assert.deepEqual([l.layer?.width, l.layer?.height, l.layer?.receivedLayer, l.layer?.matches], [320, 180, 0, true]);
  assert.deepEqual([h.layer?.width, h.layer?.height, h.layer?.receivedLayer, h.layer?.matches], [1280, 720, 2, true]);
  // The two layers were encoded at 150 and 1200 kbps: the bytes that arrived since each
  // subscriber got its layer say which is which.
  assert.ok(h.layer!.kbps > 4 * l.layer!.kbps, `high ${h.layer!.kbps} kbps vs low ${l.layer!.kbps} kbps`);
  assert.ok(l.layer!.kbps < SIMULCAST_LAYERS[1]!.videoKbps, `low layer at ${l.layer!.kbps} kbps`);
  assert.ok(h.layer!.kbps > SIMULCAST_LAYERS[1]!.videoKbps, `high layer at ${h.layer!.kbps} kbps`);

  // The publisher sent three layers of one producer, each with its own SSRC and rid.
  const [producer] = pub.producerStats();
  const layers = producer!.simulcast!.layers;
  assert.deepEqual(layers.map((x) => x.rid), ['r0', 'r1', 'r2']);
  assert.equal(new Set(layers.map((x) => x.ssrc)).size, 3);
  // Each subscriber's consumer asked for a keyframe of its layer, and that layer's replay took it.
  for (const rid of ['r0', 'r2']) {
    const x = layers.find((y) => y.rid === rid)!;
    assert.ok(x.keyframeRequestsReceived > 0 && x.keyframeRequests > 0, `keyframe requests on ${rid}: ${JSON.stringify(x)}`);
  }
  const atServer = await serverBytesByRid('layers', pub.peerId, producer!.producerId);
  for (const x of layers) assert.ok((atServer.get(x.rid) ?? 0) > 0, `server received layer ${x.rid}`);
});

test('dynacast: once nobody watches the high layer, the publisher stops sending it', async () => {
  const pub = await joinPeer('dynacast', { publish: { video: true }, simulcast: true });
  const low = await joinPeer('dynacast', { preferredLayer: 0 });
  const high = await joinPeer('dynacast', { preferredLayer: 2 });
  const layer = (rid: string) => pub.producerStats()[0]!.simulcast!.layers.find((x) => x.rid === rid)!;
  await eventually('the high layer sent and received', () => [layer('r2').paused, video(high).layer?.receivedLayer], (v) => !v[0] && v[1] === 2, {
    timeoutMs: 15_000,
  });

  // The publisher may have been told to pause before the subscribers came: count from here.
  const pausesBefore = layer('r2').pauses;
  await high.close();
  await eventually('the publisher told to drop the layers above low', () => [layer('r1').paused, layer('r2').paused], (v) => v[0] === true && v[1] === true, {
    timeoutMs: 10_000,
  });
  const producerId = pub.producerStats()[0]!.producerId;
  // Packets already on their way arrive; after that the server sees no more of r1 or r2.
  await new Promise((r) => setTimeout(r, 300));
  const sentBefore = { r0: layer('r0').bytesSent, r2: layer('r2').bytesSent };
  const serverBefore = await serverBytesByRid('dynacast', pub.peerId, producerId);
  const lowBefore = video(low).bytes;
  await new Promise((r) => setTimeout(r, 1500));
  const serverAfter = await serverBytesByRid('dynacast', pub.peerId, producerId);
  assert.equal(layer('r2').bytesSent, sentBefore.r2, 'the publisher sent nothing more on the high layer');
  assert.equal(serverAfter.get('r2'), serverBefore.get('r2'), 'the server received nothing more on the high layer');
  assert.equal(serverAfter.get('r1'), serverBefore.get('r1'), 'nor on the middle one');
  assert.ok(layer('r0').bytesSent > sentBefore.r0, 'the low layer goes on');
  assert.ok(serverAfter.get('r0')! > serverBefore.get('r0')!, 'and reaches the server');
  assert.ok(video(low).bytes > lowBefore, 'and the low subscriber');
  assert.equal(layer('r2').pauses, pausesBefore + 1);
});

test('the load tester with --simulcast --subscriber-layer low reports the layers that arrived and the ones dynacast paused', async () => {
  const { report, files } = await runLoadTest({
    url: noom.url,
    rooms: 1,
    publishers: 1,
    subscribers: 2,
    durationSec: 5,
    rampPerSec: 6,
    processes: 1,
    outDir,
    progress: false,
    publish: { audio: true, video: true },
    simulcast: true,
    subscriberLayer: 0,
  });
  assert.equal(report.peers.joined, 3, JSON.stringify(report.failures));
  const s = report.simulcast;
  assert.ok(s, 'a simulcast section');
  assert.equal(s.subscriberLayer, 0);
  assert.equal(s.publishers.length, 1);
  assert.deepEqual(
    s.consumers.map((c) => [c.role, c.requested, c.received, c.width, c.height, c.matches]),
    [
      ['subscriber', 0, 0, 320, 180, true],
      ['subscriber', 0, 0, 320, 180, true],
    ],
  );
  assert.deepEqual(s.totals.consumers, 2);
  assert.deepEqual(s.totals.matching, 2);
  // Only the low layer is watched: dynacast turned the other two off at the publisher.
  const [pub] = s.publishers;
  assert.deepEqual(pub!.layers.map((l) => [l.rid, l.paused]), [
    ['r0', false],
    ['r1', true],
    ['r2', true],
  ]);
  assert.equal(s.totals.layersPaused, 2);
  const bytes = (rid: string) => pub!.layers.find((l) => l.rid === rid)!.bytesSent;
  assert.ok(bytes('r2') < bytes('r0'), `high layer ${bytes('r2')} B sent vs low ${bytes('r0')} B`);
  // What the subscribers received is the low layer's worth, not the high one's.
  const received = s.consumers.reduce((n, c) => n + c.kbps, 0) / s.consumers.length;
  assert.ok(received < SIMULCAST_LAYERS[1]!.videoKbps, `${received} kbps per consumer`);

  // Every consumer got the layer asked: the layer check passes with the rest of the verdict.
  const check = report.verdict.checks.find((c) => c.name === 'layers');
  assert.deepEqual([check?.pass, check?.actual], [true, 0]);
  assert.ok(files);
  const json = JSON.parse(await readFile(files.json, 'utf8')) as typeof report;
  assert.equal(json.simulcast?.totals.matching, 2);
  const html = await readFile(files.html, 'utf8');
  assert.match(html, /<h2>Simulcast layers<\/h2>/);
  assert.match(html, /2 of 2 simulcast consumers received the layer asked/);
});
