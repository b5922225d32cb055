/**
 * End-to-end latency and jitter of the load tester's werift peers, through a real server:
 * the send time each publisher stamps in abs-capture-time survives mediasoup and is read
 * back by every consumer, a publisher stamping 200 ms in the past reads 200 ms later, and
 * a load-test run reports both figures for every consumer, per track and for the run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { prepareMedia, SyntheticPeer, type ConsumerStats } from '../../scripts/loadtest/peer/index.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';
import { startTestServer } from '../support/server.js';

/** How far in the past the second publisher stamps its packets. */
const SKEW_MS = 200;
/**
 * Loopback through one SFU on a shared 2-core machine: a few ms typically, tens when the
 * machine is busy; anything near a second would mean the stamp is not the send time.
 */
const PLAUSIBLE_LATENCY_MS = 250;
const PLAUSIBLE_JITTER_MS = 50;

let noom: NoomServer;
const peers: SyntheticPeer[] = [];

before(async () => {
  await prepareMedia();
  noom = await startTestServer();
});

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  await noom?.close();
});

test('every consumer reads latency and jitter; a publisher stamping 200 ms in the past reads 200 ms later', async (t) => {
  const roomId = `latency-${Date.now()}`;
  const onTime = await SyntheticPeer.join({ url: noom.url, roomId, displayName: 'on-time', publish: { audio: true, video: true }, consume: false });
  peers.push(onTime);
  const late = await SyntheticPeer.join({
    url: noom.url,
    roomId,
    displayName: 'late',
    publish: { audio: true, video: true },
    consume: false,
    captureTimeSkewMs: SKEW_MS,
  });
  peers.push(late);
  const sub = await SyntheticPeer.join({ url: noom.url, roomId, displayName: 'sub' });
  peers.push(sub);
  await sub.waitForMedia({ consumers: 4, minPackets: 50, timeoutMs: 30_000 });
  // A couple of seconds of media: ~100 audio packets and a few hundred video ones each.
  await new Promise((r) => setTimeout(r, 2000));

  const stats = sub.consumerStats();
  assert.equal(stats.length, 4);
  const of = (peer: SyntheticPeer, kind: 'audio' | 'video'): ConsumerStats => {
    const c = stats.find((s) => s.peerId === peer.peerId && s.kind === kind);
    assert.ok(c, `no ${kind} consumer of ${peer.peerId}`);
    return c;
  };
  for (const c of stats) {
    assert.ok(c.latencyMs, `${c.kind} consumer ${c.consumerId}: no latency (abs-capture-time did not arrive)`);
    // Every packet carried its send time.
    assert.equal(c.latencyMs.count, c.packets, `${c.kind}: stamped packets`);
    assert.ok(c.jitterMs !== undefined && c.jitterMs >= 0 && c.jitterMs < PLAUSIBLE_JITTER_MS, `${c.kind} jitter ${c.jitterMs}`);
    assert.ok(c.latencyMs.p50 <= c.latencyMs.p95 && c.latencyMs.p95 <= c.latencyMs.max);
  }
  for (const kind of ['audio', 'video'] as const) {
    const base = of(onTime, kind).latencyMs!;
    const shifted = of(late, kind).latencyMs!;
    assert.ok(base.p50 >= 0 && base.p50 < PLAUSIBLE_LATENCY_MS, `${kind}: on-time p50 ${base.p50} ms`);
    const added = shifted.p50 - base.p50;
    t.diagnostic(`${kind}: latency p50/p95 ${base.p50.toFixed(2)}/${base.p95.toFixed(2)} ms, skewed ${shifted.p50.toFixed(2)}/${shifted.p95.toFixed(2)} ms; jitter ${of(onTime, kind).jitterMs!.toFixed(2)} ms`);
    // The two streams share the path; their p50s differ by the skew, give or take scheduling.
    assert.ok(Math.abs(added - SKEW_MS) < 40, `${kind}: the skew added ${added} ms, expected ~${SKEW_MS}`);
  }
});

test('a load-test run reports latency and jitter per consumer, per track and for the run, and judges them when asked', async () => {
  const { report } = await runLoadTest({
    url: noom.url,
    rooms: 1,
    publishers: 2,
    subscribers: 2,
    durationSec: 4,
    rampPerSec: 8,
    processes: 1,
    progress: false,
    // Off by default; a limit no real path meets shows the check works, the other one passes.
    thresholds: { maxLatencyP95Ms: 0, maxJitterMs: 1000 },
  });
  assert.equal(report.peers.joined, 4, JSON.stringify(report.failures));
  let consumers = 0;
  for (const p of report.peerDetails) {
    for (const c of p.consumers) {
      consumers++;
      assert.ok(c.latencyMs && c.latencyMs.count > 0, `${p.displayName} ${c.kind}: no latency`);
      assert.ok(c.latencyMs.p95 < PLAUSIBLE_LATENCY_MS * 4, `${p.displayName} ${c.kind}: latency p95 ${c.latencyMs.p95} ms`);
      assert.ok(c.jitterMs !== undefined && c.jitterMs < PLAUSIBLE_JITTER_MS * 2, `${p.displayName} ${c.kind}: jitter ${c.jitterMs}`);
    }
  }
  // 2 publishers × 2 kinds to 3 other peers each.
  assert.equal(consumers, 12);
  assert.equal(report.tracks.length, 4);
  for (const t of report.tracks) {
    assert.ok(t.quality, `${t.label}: no quality figures`);
    assert.equal(t.quality.consumers, 3, `${t.label}: consumers measured`);
    assert.ok(t.quality.latencyP50Ms !== undefined && t.quality.latencyP95Ms !== undefined && t.quality.jitterP95Ms !== undefined);
  }
  assert.equal(report.mediaQuality.consumers, 12);
  assert.equal(report.mediaQuality.measured, 12);
  assert.ok(report.mediaQuality.latencyP95Ms.count === 12 && report.mediaQuality.jitterMs.count === 12);

  const latency = report.verdict.checks.find((c) => c.name === 'latencyP95Ms');
  const jitter = report.verdict.checks.find((c) => c.name === 'jitterMs');
  assert.ok(latency && !latency.pass, `latency check: ${JSON.stringify(latency)}`);
  assert.ok(jitter?.pass, `jitter check: ${JSON.stringify(jitter)}`);
  assert.ok(report.verdict.failed.includes('latencyP95Ms'));
});
