/**
 * The load tester's latency and jitter arithmetic: the abs-capture-time stamp, RFC 3550
 * interarrival jitter, the per-consumer latency histogram, the per-track and per-run
 * aggregates over consumers, and the optional verdict limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLEAN_RUN } from '../support/verdictFigures.js';
import {
  InterarrivalJitter,
  LogHistogram,
  StreamQuality,
  decodeAbsCaptureTime,
  encodeAbsCaptureTime,
  isNewerSeq,
} from '../../scripts/loadtest/peer/latency.js';
import { mediaQuality } from '../../scripts/loadtest/mediaQuality.js';
import { DEFAULT_THRESHOLDS, judge, type VerdictFigures } from '../../scripts/loadtest/verdict.js';
import type { ConsumerSummary, PeerSummary } from '../../scripts/loadtest/ipc.js';

test('abs-capture-time: an NTP UQ32.32 stamp of the wall clock, read back to within a microsecond', () => {
  const at = Date.UTC(2026, 11, 5, 21, 30, 0) + 0.123456;
  const stamp = encodeAbsCaptureTime(at);
  assert.equal(stamp.length, 8);
  // 2026 in NTP seconds: Unix seconds + 70 years.
  assert.equal(stamp.readUInt32BE(0), Math.floor(at / 1000) + 2_208_988_800);
  assert.ok(Math.abs(decodeAbsCaptureTime(stamp)! - at) < 0.001);
  // As mediasoup forwards it: with a capture clock offset appended, which is ignored.
  const forwarded = Buffer.concat([stamp, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]);
  assert.ok(Math.abs(decodeAbsCaptureTime(forwarded)! - at) < 0.001);
  assert.equal(decodeAbsCaptureTime(Buffer.alloc(5)), undefined);
});

test('RFC 3550 jitter: 0 for perfectly paced packets, and the 1/16 recursion for a known delay pattern', () => {
  const paced = new InterarrivalJitter(48_000);
  // 20 ms Opus packets, arriving exactly 20 ms apart, starting near the 32-bit wrap.
  for (let i = 0; i < 100; i++) paced.add((0xffff_f000 + i * 960) >>> 0, 1000 + i * 20);
  assert.equal(paced.ms, 0);

  // Every other packet 4 ms late: |D| is 4 ms (192 ticks) for every packet after the first.
  const alternating = new InterarrivalJitter(48_000);
  let expected = 0;
  for (let i = 0; i < 50; i++) {
    alternating.add(i * 960, i * 20 + (i % 2 === 1 ? 4 : 0));
    if (i > 0) expected += (192 - expected) / 16;
  }
  assert.ok(Math.abs(alternating.units - expected) < 1e-6, `${alternating.units} vs ${expected}`);
  // Converges to the constant |D|: 4 ms.
  assert.ok(Math.abs(alternating.ms - 4 * (1 - (15 / 16) ** 49)) < 1e-6);

  // Video: packets of one frame share a timestamp; a 90 kHz clock.
  const video = new InterarrivalJitter(90_000);
  for (let f = 0; f < 30; f++) for (let k = 0; k < 3; k++) video.add(f * 3000, f * (1000 / 30));
  assert.ok(video.ms < 1e-9);
});

test('the latency histogram: percentiles within 1.5 % of the exact ones, at constant memory', () => {
  const h = new LogHistogram();
  const values: number[] = [];
  for (let i = 1; i <= 10_000; i++) {
    // 1 … 100 ms, skewed towards the low end as latencies are.
    const v = 1 + 99 * (i / 10_000) ** 3;
    values.push(v);
    h.add(v);
  }
  values.sort((a, b) => a - b);
  for (const q of [0.5, 0.95, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1]!;
    const est = h.quantile(q)!;
    assert.ok(Math.abs(est - exact) / exact < 0.015, `q${q}: ${est} vs ${exact}`);
  }
  assert.equal(h.count, 10_000);
  assert.equal(h.max, 100);
  const one = new LogHistogram();
  one.add(3.2);
  assert.equal(one.quantile(0.5), 3.2, 'a single value is its own percentiles');
  assert.equal(new LogHistogram().quantile(0.5), undefined);
});

test('stream quality: latency from the stamps, none without them; jitter after two packets, without retransmissions', () => {
  const q = new StreamQuality(48_000);
  assert.equal(q.jitterMs, undefined);
  for (let i = 0; i < 100; i++) q.onPacket(i * 960, 10_000 + i * 20 + 5, 10_000 + i * 20);
  const l = q.latency()!;
  assert.equal(l.count, 100);
  assert.ok(Math.abs(l.p50 - 5) < 0.1 && Math.abs(l.p95 - 5) < 0.1 && Math.abs(l.mean - 5) < 1e-9);
  assert.equal(q.jitterMs, 0);

  // A retransmission 300 ms late: its latency counts, the jitter stays that of the path.
  const base = q.jitterMs;
  q.onPacket(50 * 960, 10_000 + 100 * 20 + 5, 10_000 + 50 * 20, false);
  assert.equal(q.jitterMs, base);
  assert.equal(q.latency()!.max, 1005);
  assert.ok(isNewerSeq(1, 0) && isNewerSeq(0, 0xffff) && isNewerSeq(5, undefined));
  assert.ok(!isNewerSeq(0xffff, 0) && !isNewerSeq(7, 7) && !isNewerSeq(0x8000, 0));

  const unstamped = new StreamQuality(90_000);
  unstamped.onPacket(0, 0);
  unstamped.onPacket(3000, 33.3);
  assert.equal(unstamped.latency(), undefined);
  assert.ok(unstamped.jitterMs !== undefined);
});

const consumer = (producerId: string, p50: number | undefined, p95: number | undefined, jitterMs: number | undefined): ConsumerSummary => ({
  consumerId: `c-${Math.random()}`,
  producerId,
  peerId: 'pub',
  kind: 'audio',
  packets: 100,
  bytes: 1000,
  lost: 0,
  nacksSent: 0,
  plisSent: 0,
  closed: false,
  ...(p50 !== undefined && p95 !== undefined ? { latencyMs: { count: 100, p50, p95, mean: p50, max: p95 } } : {}),
  ...(jitterMs !== undefined ? { jitterMs } : {}),
});

const peer = (index: number, consumers: ConsumerSummary[]): PeerSummary => ({
  index,
  peerId: `p${index}`,
  roomId: 'r',
  role: 'subscriber',
  displayName: `sub-${index}`,
  url: 'http://x',
  joinAckMs: 1,
  setupMs: 1,
  consumers,
  producers: [],
});

test('aggregates over consumers: per track, the median of p50s and the p95 of p95s; for the run, over every consumer', () => {
  // Track A: 20 consumers, latency p50 = i ms, p95 = 10 i ms, jitter = i / 10 ms. Track B: one wrtc-like consumer, nothing measured.
  const peers = Array.from({ length: 20 }, (_, i) => peer(i, [consumer('A', i + 1, (i + 1) * 10, (i + 1) / 10), ...(i === 0 ? [consumer('B', undefined, undefined, undefined)] : [])]));
  const { tracks, run } = mediaQuality(peers);
  assert.deepEqual(tracks.get('A'), { consumers: 20, latencyP50Ms: 10, latencyP95Ms: 190, jitterP50Ms: 1, jitterP95Ms: 1.9 });
  assert.deepEqual(tracks.get('B'), { consumers: 0 });
  assert.equal(run.consumers, 21);
  assert.equal(run.measured, 20);
  assert.equal(run.latencyP95Ms.p95, 190);
  assert.equal(run.latencyP50Ms.p50, 10);
  assert.equal(run.jitterMs.count, 20);
  assert.equal(run.jitterMs.max, 2);
});

const figures: VerdictFigures = { ...CLEAN_RUN, lossPct: 0, latencyP95Ms: 180, jitterP95Ms: 12 };

test('latency and jitter limits: off by default, each fails its own check when set and exceeded', () => {
  const off = judge(figures, DEFAULT_THRESHOLDS);
  assert.equal(off.pass, true);
  assert.ok(!off.checks.some((c) => c.name === 'latencyP95Ms' || c.name === 'jitterMs'));

  const within = judge(figures, { ...DEFAULT_THRESHOLDS, maxLatencyP95Ms: 200, maxJitterMs: 20 });
  assert.equal(within.pass, true);
  assert.equal(within.checks.length, off.checks.length + 2);

  const over = judge(figures, { ...DEFAULT_THRESHOLDS, maxLatencyP95Ms: 150, maxJitterMs: 10 });
  assert.deepEqual(over.failed, ['latencyP95Ms', 'jitterMs']);
  assert.match(over.checks.find((c) => c.name === 'latencyP95Ms')!.detail, /180 ms > limit 150 ms, over by 30 ms/);
  assert.match(over.checks.find((c) => c.name === 'jitterMs')!.detail, /12 ms > limit 10 ms, over by 2 ms/);

  // Asked for, media flowed, yet nothing measured it (an engine that does not stamp): fail.
  const { latencyP95Ms: _l, jitterP95Ms: _j, ...unmeasured } = figures;
  const blind = judge(unmeasured, { ...DEFAULT_THRESHOLDS, maxLatencyP95Ms: 150 });
  assert.deepEqual(blind.failed, ['latencyP95Ms']);
  assert.equal(judge({ ...unmeasured, packets: 0 }, { ...DEFAULT_THRESHOLDS, maxLatencyP95Ms: 150 }).pass, true);
});
