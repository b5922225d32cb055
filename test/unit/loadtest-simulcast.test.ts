/** Simulcast pieces of the load tester without a server: layer names, VP8 keyframe sizes, the report. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerProbe, SIMULCAST_LAYERS, loadSimulcastClips, parseLayer, vp8KeyframeSize } from '../../scripts/loadtest/peer/simulcast.js';
import { RTP_HEADER_LENGTH } from '../../scripts/loadtest/peer/rtpPacketizer.js';
import { layerCheck, layerTables, simulcastLine, simulcastReport, withCheck } from '../../scripts/loadtest/report/layers.js';
import { DEFAULT_THRESHOLDS, judge } from '../../scripts/loadtest/verdict.js';
import type { PeerSummary } from '../../scripts/loadtest/ipc.js';

test('--subscriber-layer takes low, mid, high or a spatial index', () => {
  assert.deepEqual(['low', 'MID', ' high', '0', '2'].map(parseLayer), [0, 1, 2, 0, 2]);
  for (const bad of ['3', '-1', '1.5', '', 'top']) assert.throws(() => parseLayer(bad), /invalid layer/, bad);
});

test("the frame size is read from each layer clip's keyframes, and only from keyframes", async () => {
  const clips = await loadSimulcastClips();
  clips.forEach((clip, i) => {
    const payload = (index: number) => clip.video.rtp[index]!.subarray(RTP_HEADER_LENGTH);
    const key = clip.video.keyframes[1]!;
    assert.deepEqual(vp8KeyframeSize(payload(key)), { width: SIMULCAST_LAYERS[i]!.width, height: SIMULCAST_LAYERS[i]!.height });
    // The packet after a keyframe's first one, and the first packet of the next (delta) frame.
    const delta = clip.video.rtp.findIndex((p, n) => n > key && (p[RTP_HEADER_LENGTH]! & 0x10) !== 0 && !clip.video.keyframes.includes(n));
    assert.equal(vp8KeyframeSize(payload(delta)), undefined);
  });
});

test('a layer probe names the layer that arrives and its bitrate since it changed', async () => {
  const [low, , high] = await loadSimulcastClips();
  const probe = new LayerProbe(0, 3);
  const feed = (track: typeof low, from: number, t0: number) => {
    // One second of the clip's packets, at their clip times.
    for (let i = from; i < track!.video.packets && track!.video.timestamps[i]! - track!.video.timestamps[from]! < 90_000; i++) {
      probe.packet(track!.video.rtp[i]!.subarray(RTP_HEADER_LENGTH), t0 + (track!.video.timestamps[i]! - track!.video.timestamps[from]!) / 90);
    }
  };
  feed(high, 0, 0);
  assert.deepEqual([probe.stats(1000).receivedLayer, probe.stats(1000).matches], [2, false]);
  feed(low, 0, 1000);
  const s = probe.stats(2000);
  assert.deepEqual([s.requested, s.receivedLayer, s.width, s.height, s.switches, s.matches], [0, 0, 320, 180, 1, true]);
  // The low layer's second alone: near its 150 kbps, nowhere near the high layer's.
  assert.ok(s.kbps > 50 && s.kbps < 400, `${s.kbps} kbps`);
});

test('the report pairs each consumer with its publisher and counts matches and paused layers', () => {
  const layer = (rid: string, i: number, paused: boolean) => ({
    layer: i, rid, ssrc: i + 1, width: SIMULCAST_LAYERS[i]!.width, height: SIMULCAST_LAYERS[i]!.height,
    paused, pauses: paused ? 1 : 0, keyframeRequestsReceived: 1, packetsSent: 100, bytesSent: 1000 * (i + 1), keyframeRequests: 1, keyframeJumps: 1,
  });
  const base = { roomId: 'r', url: 'http://x', joinAckMs: 1, setupMs: 1 };
  const peerDetails: PeerSummary[] = [
    {
      ...base, index: 0, peerId: 'p', role: 'publisher', displayName: 'pub-1', consumers: [],
      producers: [{ producerId: 'v', kind: 'video', packetsSent: 300, bytesSent: 6000, nacksReceived: 0, plisReceived: 3, firsReceived: 0, keyframeJumps: 3,
        simulcast: { layers: [layer('r0', 0, false), layer('r1', 1, true), layer('r2', 2, true)], layersPaused: 2, demands: 2 } }],
    },
    ...[0, 2].map((received, n) => ({
      ...base, index: n + 1, peerId: `s${n}`, role: 'subscriber' as const, displayName: `sub-${n}`, producers: [],
      consumers: [{ consumerId: `c${n}`, producerId: 'v', peerId: 'p', kind: 'video' as const, packets: 10, bytes: 100, lost: 0, nacksSent: 0, plisSent: 0, closed: false,
        layer: { requested: 0, producerLayers: 3, keyframes: 3, kbps: received === 0 ? 150 : 1200, switches: 0, receivedLayer: received,
          width: SIMULCAST_LAYERS[received]!.width, height: SIMULCAST_LAYERS[received]!.height, matches: received === 0 } }],
    })),
  ];
  const s = simulcastReport({ peerDetails, options: { subscriberLayer: 0 } as never })!;
  assert.deepEqual(s.totals, { consumers: 2, matching: 1, mismatched: 1, layersPaused: 2, layers: 3, pauses: 2 });
  assert.deepEqual(s.consumers.map((c) => [c.subscriber, c.publisher, c.received]), [['sub-0', 'pub-1', 0], ['sub-1', 'pub-1', 2]]);
  assert.match(simulcastLine(s), /1 of 2 simulcast consumers received the layer asked.*2 of 3 publisher layers paused/);
  const lines = layerTables(s);
  // The mismatch comes first in the consumer table.
  const firstConsumer = lines[lines.indexOf('') + 2]!;
  assert.match(firstConsumer, /^sub-1\s+pub-1\s+low \(0\)\s+high \(2\)\s+1280x720\s+1200\s+0\s+NO$/);
  assert.equal(simulcastReport({ peerDetails: [], options: {} as never }), undefined);

  // The layer check: one consumer on another layer than asked fails a limit of 0, passes a limit of 1.
  const clean = judge(
    { lossPct: 0, packets: 100, joinFailures: 0, peerFailures: 0, firstRtpP95Ms: 300, firstRtpExpected: 2, longestMediaGapSec: 0,
      peersWithMediaGaps: 0, missingConsumers: 0, expectedConsumers: 2, generatorBusiestChildPct: 10, generatorLoopDelayMaxMs: 10 },
    DEFAULT_THRESHOLDS,
  );
  assert.equal(clean.pass, true);
  const strict = withCheck(clean, layerCheck(s, 0)!);
  assert.deepEqual([strict.pass, strict.failed], [false, ['layers']]);
  assert.match(strict.checks.at(-1)!.detail, /without the layer asked \(low \(0\)\): 1 of 2 > limit 0, over by 1/);
  assert.equal(withCheck(clean, layerCheck(s, 1)!).pass, true);
  // Nothing asked: nothing to check.
  assert.equal(layerCheck({ ...s, subscriberLayer: undefined } as typeof s, 0), undefined);
});
