/** The load tester's verdict from its figures, and the child-side media watch, without a server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLEAN_RUN } from '../support/verdictFigures.js';
import { DEFAULT_THRESHOLDS, judge, type VerdictFigures } from '../../scripts/loadtest/verdict.js';
import { MediaWatch } from '../../scripts/loadtest/mediaWatch.js';
import type { FirstMediaMessage, HealthMessage } from '../../scripts/loadtest/ipc.js';
import type { LoadPeer } from '../../scripts/loadtest/peer/loadPeer.js';
import type { ConsumerStats } from '../../scripts/loadtest/peer/syntheticPeer.js';

const clean: VerdictFigures = CLEAN_RUN;

test('a clean run passes every check', () => {
  const v = judge(clean, DEFAULT_THRESHOLDS);
  assert.equal(v.pass, true);
  assert.deepEqual(v.failed, []);
  assert.equal(v.checks.length, 8);
});

test('each figure over its limit fails its own check and says by how much', () => {
  const cases: [Partial<VerdictFigures>, string, RegExp][] = [
    [{ lossPct: 2.4 }, 'lossPct', /receive loss: 2\.4 % > limit 1 %, over by 1\.4 %/],
    [{ joinFailures: 3 }, 'joinFailures', /join failures: 3 peers > limit 0 peers, over by 3 peers/],
    [{ peerFailures: 3 }, 'peerFailures', /peers failed after joining: 3 peers > limit 0/],
    [{ firstRtpP95Ms: 4500 }, 'firstRtpP95Ms', /first RTP p95: 4500 ms > limit 3000 ms, over by 1500 ms/],
    [{ longestMediaGapSec: 12.5, peersWithMediaGaps: 3 }, 'mediaGap', /12\.5 s > limit 5 s, over by 7\.5 s; 3 peer\(s\)/],
    [{ missingConsumers: 2 }, 'missingConsumers', /2 > limit 0, over by 2 \(22 of 24 receiving\)/],
    [{ stoppedEarly: 'every peer down' }, 'completed', /stopped early: every peer down/],
    [{ generatorBusiestChildPct: 97 }, 'generator', /a load-test process used 97 % of a core > limit 90 %.*describe it, not the server/],
    [{ generatorLoopDelayMaxMs: 800 }, 'generator', /a load-test process stalled 800 ms > limit 500 ms/],
  ];
  for (const [change, name, detail] of cases) {
    const v = judge({ ...clean, ...change }, DEFAULT_THRESHOLDS);
    assert.equal(v.pass, false, name);
    assert.deepEqual(v.failed, [name]);
    assert.match(v.checks.find((c) => c.name === name)!.detail, detail);
  }
});

test('subscribers that should have had media but got none fail first RTP; no subscribers expected passes it', () => {
  const { firstRtpP95Ms: _, ...none } = clean;
  assert.deepEqual(judge(none, DEFAULT_THRESHOLDS).failed, ['firstRtpP95Ms']);
  assert.deepEqual(judge({ ...none, firstRtpExpected: 0 }, DEFAULT_THRESHOLDS).failed, []);
  // A loss figure needs packets; the checks of peers and consumers speak for a run without any.
  assert.deepEqual(judge({ ...clean, packets: 0, lossPct: 0 }, DEFAULT_THRESHOLDS).failed, []);
});

test('limits are the caller’s: a looser one passes what the default fails', () => {
  assert.equal(judge({ ...clean, lossPct: 2.4 }, { ...DEFAULT_THRESHOLDS, maxLossPct: 3 }).pass, true);
});

/** A peer as the watch sees it: consumer counters that the test moves by hand. */
function fakePeer(peerId: string, consumers: ConsumerStats[]): LoadPeer {
  return { peerId, joinedAt: 0, closed: false, consumerStats: () => consumers.map((c) => ({ ...c })) } as unknown as LoadPeer;
}

const consumer = (producerId: string, packets: number): ConsumerStats => ({
  consumerId: `c-${producerId}`,
  producerId,
  peerId: 'pub',
  kind: 'audio',
  packets,
  bytes: packets * 100,
  lost: 0,
  nacksSent: 0,
  plisSent: 0,
  closed: false,
  ...(packets > 0 ? { firstPacketAt: 100 } : {}),
});

test('the media watch: a consumer silent past the limit puts its peer down, packets bring it back', () => {
  const sent: (HealthMessage | FirstMediaMessage)[] = [];
  const watch = new MediaWatch(1000, (m) => sent.push(m));
  const c = consumer('p1', 10);
  const peer = fakePeer('sub', [c]);
  watch.expect('r', [{ producerId: 'p1', kind: 'audio', peerId: 'pub', displayName: 'Pub' }], 0);
  watch.add(0, 'r', peer, 0);
  watch.check(0);
  assert.deepEqual(sent.map((m) => m.type), ['firstMedia']);
  watch.check(900);
  assert.equal(watch.downCount, 0);
  watch.check(1100);
  assert.equal(watch.downCount, 1);
  const down = sent.at(-1) as HealthMessage;
  assert.equal(down.down, true);
  assert.match(down.reason, /no RTP on the audio of Pub for more than 1\.0 s/);
  assert.equal(down.at, performance.timeOrigin + 0, 'down since the last packet');
  c.packets = 20;
  watch.check(1500);
  assert.equal(watch.downCount, 0);
  assert.equal((sent.at(-1) as HealthMessage).down, false);
});

test('the media watch: a publisher of the room never consumed puts the peer down after the limit', () => {
  const sent: (HealthMessage | FirstMediaMessage)[] = [];
  const watch = new MediaWatch(1000, (m) => sent.push(m));
  const peer = fakePeer('sub', [consumer('p1', 10)]);
  watch.add(0, 'r', peer, 0);
  watch.expect('r', [
    { producerId: 'p1', kind: 'audio', peerId: 'pub', displayName: 'Pub' },
    { producerId: 'p2', kind: 'video', peerId: 'pub2', displayName: 'Pub2' },
    // Its own producer is not expected back.
    { producerId: 'own', kind: 'video', peerId: 'sub', displayName: 'Me' },
  ], 500);
  watch.check(1400);
  assert.equal(watch.downCount, 0, 'p2 expected for 0.9 s only');
  watch.check(1600);
  assert.equal(watch.downCount, 1);
  assert.match((sent.at(-1) as HealthMessage).reason, /no consumer of the video of Pub2 1\.0 s after it was published/);
});

test('peers whose end-of-run summaries never arrive: totals from the last samples, and the run is not complete', async () => {
  const { RunCollector } = await import('../../scripts/loadtest/collector.js');
  const plan = [
    { index: 0, roomId: 'r-1', role: 'publisher' as const, displayName: 'load-pub-1-1', url: 'http://x' },
    { index: 1, roomId: 'r-1', role: 'subscriber' as const, displayName: 'load-sub-1-1', url: 'http://x' },
  ];
  const c = new RunCollector(plan, performance.now());
  c.onMessage(0, { type: 'joined', index: 0, peerId: 'a', joinAckMs: 10, setupMs: 50, producers: [{ producerId: 'p1', kind: 'audio' }] });
  c.onMessage(0, { type: 'joined', index: 1, peerId: 'b', joinAckMs: 10, setupMs: 50, producers: [] });
  // First RTP streamed as it happened counts without the summary.
  c.onMessage(0, { type: 'firstMedia', index: 1, ms: 200 });
  const track = { producerId: 'p1', kind: 'audio' as const, consumers: 1, receiving: 1, bytes: 9000, nacksSent: 0, plisSent: 0 };
  const producer = { producerId: 'p1', kind: 'audio' as const, packetsSent: 110, bytesSent: 9900, nacksReceived: 0, plisReceived: 0, firsReceived: 0, keyframeJumps: 0 };
  c.onMessage(0, { type: 'sample', seq: 1, at: Date.now(), cpuMs: 1, loopDelayMaxMs: 12, loopDelayP99Ms: 11, active: 2, receiving: 1, tracks: [{ ...track, packets: 50, lost: 0 }], producers: [producer] });
  c.tick();
  c.onMessage(0, { type: 'sample', seq: 2, at: Date.now() + 1000, cpuMs: 2, loopDelayMaxMs: 12, loopDelayP99Ms: 11, active: 2, receiving: 1, tracks: [{ ...track, packets: 95, lost: 5 }], producers: [producer] });
  c.tick();
  const report = c.finish({
    options: { url: 'http://x', rooms: 1, publishers: 1, subscribers: 1, durationSec: 1, rampPerSec: 1, processes: 1, roomPrefix: 'r', sampleIntervalSec: 1, engine: 'werift', publish: { audio: true, video: false }, rejoin: false },
    startedAt: new Date(),
    interrupted: false,
    peers: [],
    servers: [{ url: 'http://x', metrics: { url: 'http://x/metrics', available: false, scrapes: 0, failures: 0, series: [] } }],
    thresholds: DEFAULT_THRESHOLDS,
  });
  assert.equal(report.peers.withoutSummary, 2);
  assert.deepEqual([report.totals.packetsReceived, report.totals.lost, report.totals.lossPct], [95, 5, 5]);
  assert.deepEqual(report.verdict.failed, ['completed', 'lossPct']);
  assert.equal(report.firstRtpMs.any.p95, 200);
  assert.match(report.verdict.checks[0]!.detail, /end-of-run figures of 2 peer\(s\) never arrived/);
});

test("datagrams dropped on the generator's own sockets fail the generator check: that loss is the tester's", () => {
  assert.equal(judge({ ...clean, generatorSocketDrops: 0 }, DEFAULT_THRESHOLDS).pass, true);
  const v = judge({ ...clean, generatorSocketDrops: 12 }, DEFAULT_THRESHOLDS);
  assert.deepEqual(v.failed, ['generator']);
  assert.match(v.checks.find((c) => c.name === 'generator')!.detail, /dropped 12 datagrams .* > limit 0/);
  assert.equal(judge({ ...clean, generatorSocketDrops: 12 }, { ...DEFAULT_THRESHOLDS, maxGeneratorSocketDrops: 20 }).pass, true);
});
