/**
 * Keyframe storm guard: how many keyframe requests (PLI + FIR) reach one video publisher
 * when 30 viewers join within 3 s, with mediasoup's `keyFrameRequestDelay` off
 * (`KEYFRAME_REQUEST_DELAY_MS=0`) and on (Noom's default 500 ms, and 1000 ms), and what the
 * guard costs the viewers in time to their first video packet.
 *
 * The publisher runs in this process, so that its clock is the one the requests are timed
 * in and its event loop is not shared with the viewers: it counts every PLI / FIR in the
 * RTCP it receives, as it arrives (before it merges any of them into one keyframe), and
 * every keyframe it sends. The viewers run in the bot processes and
 * report room:join → first video RTP packet in their own clocks (mediasoup starts a video
 * consumer on a keyframe, so the first packet is the start of the first decodable frame),
 * and the keyframe wait: first video packet − the later of consumer:resume ack and receive
 * transport connected, the moment from which the server's consumer can ask for a keyframe.
 *
 * Three publishers. The default synthetic one of every other benchmark (a keyframe every
 * second, requests within 250 ms of its last requested keyframe merged): no viewer waits
 * much more than a second whatever the guard does. The same with a 10 s GOP (the clip's
 * whole loop), closer to a browser encoder, which sends keyframes when asked: a viewer's
 * first frame waits for a requested keyframe, so the guard's cost shows. And that one
 * answering every request at once: mediasoup sends a new request as soon as the last one's
 * keyframe has arrived, so this is the storm without help from the publisher.
 * Rounds alternate the delays, so that drift in the machine's background load falls on all.
 */
import os from 'node:os';
import { BotFleet } from '../bots/fleet.js';
import type { JoinResult, StatsResult } from '../bots/messages.js';
import { DEFAULT_CLIP, SyntheticPeer, ensureClip, type ClipParameters, type KeyFrameEvent } from '../../loadtest/peer/index.js';
import { log, sleep } from '../lib/output.js';
import { startServer, type ServerProcess } from '../lib/serverProcess.js';
import { distribution, median, round, type Distribution } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

interface PublisherCase {
  name: 'gop-1s' | 'gop-10s' | 'gop-10s-eager';
  label: string;
  clip: ClipParameters;
  /** Requests within this long of its last requested keyframe are merged (the peer's default: 250 ms). */
  keyframeMinIntervalMs?: number;
}

const ON_REQUEST_CLIP: ClipParameters = { ...DEFAULT_CLIP, keyframeIntervalSec: 10 };

const PUBLISHERS: readonly PublisherCase[] = [
  { name: 'gop-1s', label: 'keyframe every 1 s, requests within 250 ms merged (the default synthetic publisher)', clip: DEFAULT_CLIP },
  { name: 'gop-10s', label: 'keyframes on request (10 s GOP), requests within 250 ms merged', clip: ON_REQUEST_CLIP },
  { name: 'gop-10s-eager', label: 'keyframes on request (10 s GOP), every request answered at once', clip: ON_REQUEST_CLIP, keyframeMinIntervalMs: 0 },
];

/**
 * After the publisher joins, before the baseline: its send transport connects after the
 * replay has started, so mediasoup's first packet is not a keyframe and it asks for one.
 */
const SETTLE_MS = 1000;
/** Before the first viewer: the publisher's own keyframe pace, and no requests. */
const BASELINE_MS = 2000;
/** After the last join issued: setup, resume, delayed and retried requests. */
const STORM_TAIL_MS = 2000;
/** Observed after the storm window, so that late requests (mediasoup retries after 1 s) show. */
const AFTER_MS = 3000;

interface Trial {
  publisher: PublisherCase['name'];
  delayMs: number;
  round: number;
  viewers: number;
  spreadMs: number;
  /** Milliseconds from the first join issued; the storm window is [0, stormMs). */
  stormMs: number;
  joinsIssuedMs: number[];
  /** Arrival times of PLI / FIR at the publisher and send times of its keyframes, ms from the first join (negative: baseline). */
  pliMs: number[];
  firMs: number[];
  keyframeMs: number[];
  /** One-second bins from -BASELINE_MS: requests and keyframes. */
  perSecond: { fromS: number; requests: number; keyframes: number }[];
  /** Requests during SETTLE_MS (the publisher's start-up), not counted anywhere else. */
  startupRequests: number;
  baseline: { requests: number; keyframes: number };
  storm: {
    requests: number;
    requestsPerSecond: number;
    /** Most requests in any 1 s (sliding) of the whole observation. */
    peakRequestsPerSecond: number;
    keyframes: number;
    keyframesPerSecond: number;
  };
  /** All requests and keyframes from the first join to the end of the observation. */
  total: { requests: number; keyframes: number; keyframeJumps: number; observedMs: number };
  /** PLIs the viewers' receivers sent themselves (the rest come from the server). */
  viewerPlis: number;
  viewersWithVideo: number;
  failedJoins: string[];
  joinToResume: Distribution;
  joinToVideo: Distribution;
  resumeToVideo: Distribution;
  /** First video packet − max(consumer:resume ack, receive transport connected). */
  keyframeWait: Distribution;
  /** Per viewer, in its bot's clock. */
  samples: { joinToVideoMs: number[]; resumeToVideoMs: number[]; keyframeWaitMs: number[] };
  /** 1-minute load average of the machine when the trial started. */
  loadAverage: number;
}

function countIn(times: readonly number[], from: number, to: number): number {
  return times.filter((t) => t >= from && t < to).length;
}

function peakPerSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

async function waitForVideo(fleet: BotFleet, roomId: string, viewers: number, timeoutMs: number): Promise<StatsResult[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await fleet.stats();
    const receiving = stats
      .flatMap((s) => s.peers)
      .filter((p) => p.roomId === roomId && p.consumers.some((c) => c.kind === 'video' && c.firstPacketMs !== undefined)).length;
    if (receiving >= viewers || performance.now() > deadline) return stats;
    await sleep(500);
  }
}

const viewerArgs = (url: string, roomId: string, i: number) =>
  ({ url, roomId, displayName: `viewer-${i}`, publish: { audio: false, video: false }, consume: true }) as const;

/** A throwaway room on a fresh server, so that the first trial does not pay for cold code paths. */
async function warmUp(fleet: BotFleet, server: ServerProcess): Promise<void> {
  const roomId = `keyframes-warm-up-${Date.now()}`;
  const publisher = await SyntheticPeer.join({ url: server.url, roomId, displayName: 'warm-up', publish: { video: true }, consume: false });
  try {
    await Promise.all(Array.from({ length: fleet.size * 2 }, (_, i) => fleet.join(i, viewerArgs(server.url, roomId, i))));
    await waitForVideo(fleet, roomId, fleet.size * 2, 10_000);
  } finally {
    await fleet.closeAll().catch(() => undefined);
    await publisher.close();
  }
}

async function trial(
  fleet: BotFleet,
  server: ServerProcess,
  c: PublisherCase,
  delayMs: number,
  roundNo: number,
  viewers: number,
  spreadMs: number,
): Promise<Trial> {
  const roomId = `keyframes-${c.name}-${delayMs}-${roundNo}-${Date.now()}`;
  const loadAverage = round(os.loadavg()[0]!, 2);
  const publisher = await SyntheticPeer.join({
    url: server.url,
    roomId,
    displayName: 'publisher',
    publish: { video: true },
    consume: false,
    clip: c.clip,
    ...(c.keyframeMinIntervalMs !== undefined ? { keyframeMinIntervalMs: c.keyframeMinIntervalMs } : {}),
  });
  const requests: (KeyFrameEvent & { type: 'pli' | 'fir' })[] = [];
  const keyframes: KeyFrameEvent[] = [];
  publisher.events.on('keyFrameRequest', (e) => requests.push(e));
  publisher.events.on('keyFrameSent', (e) => keyframes.push(e));
  const jumps = () => publisher.producerStats().reduce((a, p) => a + p.keyframeJumps, 0);
  const joins: Promise<JoinResult | string>[] = [];
  const joinsIssuedMs: number[] = [];
  let t0: number;
  let jumps0: number;
  let observedMs: number;
  let keyframeJumps: number;
  let stats: StatsResult[];
  try {
    await sleep(SETTLE_MS + BASELINE_MS);
    t0 = performance.now();
    jumps0 = jumps();
    const step = viewers > 1 ? spreadMs / (viewers - 1) : 0;
    for (let i = 0; i < viewers; i++) {
      await sleep(Math.max(0, t0 + i * step - performance.now()));
      joinsIssuedMs.push(round(performance.now() - t0));
      joins.push(
        fleet
          .join(i, viewerArgs(server.url, roomId, i))
          .catch((error: unknown) => (error instanceof Error ? error.message : String(error))),
      );
    }
    await Promise.all(joins);
    await sleep(Math.max(0, t0 + spreadMs + STORM_TAIL_MS + AFTER_MS - performance.now()));
    // Normally everyone has video by now; a straggler gets a little longer, and is counted.
    stats = await waitForVideo(fleet, roomId, viewers, 10_000);
    observedMs = performance.now() - t0;
    keyframeJumps = jumps() - jumps0;
  } finally {
    await fleet.closeAll().catch(() => undefined);
    await publisher.close();
  }
  const rel = (list: readonly KeyFrameEvent[]) => list.map((e) => round(e.at - t0)).filter((t) => t >= -BASELINE_MS && t < observedMs);
  const startupRequests = requests.filter((e) => e.at - t0 < -BASELINE_MS).length;
  const pliMs = rel(requests.filter((r) => r.type === 'pli'));
  const firMs = rel(requests.filter((r) => r.type === 'fir'));
  const requestMs = [...pliMs, ...firMs];
  const keyframeMs = rel(keyframes);
  const stormMs = spreadMs + STORM_TAIL_MS;
  const perSecond: Trial['perSecond'] = [];
  for (let from = -BASELINE_MS; from < observedMs; from += 1000) {
    perSecond.push({ fromS: from / 1000, requests: countIn(requestMs, from, from + 1000), keyframes: countIn(keyframeMs, from, from + 1000) });
  }

  const results = await Promise.all(joins);
  const viewerPeers = stats.flatMap((s) => s.peers).filter((p) => p.roomId === roomId);
  const video = viewerPeers.flatMap((p) => p.consumers.filter((x) => x.kind === 'video').map((x) => ({ ...x, recvConnectedMs: p.recvConnectedMs })));
  const withVideo = video.filter((x) => x.firstPacketMs !== undefined);
  const joinToVideoMs = withVideo.map((x) => round(x.firstPacketMs!));
  const resumeToVideoMs = withVideo.flatMap((x) => (x.resumedMs !== undefined ? [round(x.firstPacketMs! - x.resumedMs)] : []));
  const keyframeWaitMs = withVideo.flatMap((x) =>
    x.resumedMs !== undefined && x.recvConnectedMs !== undefined ? [round(x.firstPacketMs! - Math.max(x.resumedMs, x.recvConnectedMs))] : [],
  );
  const stormRequests = countIn(requestMs, 0, stormMs);
  const stormKeyframes = countIn(keyframeMs, 0, stormMs);
  return {
    publisher: c.name,
    delayMs,
    round: roundNo,
    viewers,
    spreadMs,
    stormMs,
    joinsIssuedMs,
    pliMs,
    firMs,
    keyframeMs,
    perSecond,
    startupRequests,
    baseline: { requests: countIn(requestMs, -BASELINE_MS, 0), keyframes: countIn(keyframeMs, -BASELINE_MS, 0) },
    storm: {
      requests: stormRequests,
      requestsPerSecond: round(stormRequests / (stormMs / 1000), 2),
      peakRequestsPerSecond: peakPerSecond(requestMs),
      keyframes: stormKeyframes,
      keyframesPerSecond: round(stormKeyframes / (stormMs / 1000), 2),
    },
    total: {
      requests: countIn(requestMs, 0, Infinity),
      keyframes: countIn(keyframeMs, 0, Infinity),
      keyframeJumps,
      observedMs: round(observedMs, 0),
    },
    viewerPlis: video.reduce((a, x) => a + x.plisSent, 0),
    viewersWithVideo: new Set(viewerPeers.filter((p) => p.consumers.some((x) => x.kind === 'video' && x.firstPacketMs !== undefined)).map((p) => p.peerId)).size,
    failedJoins: results.filter((r): r is string => typeof r === 'string'),
    joinToResume: distribution(video.flatMap((x) => (x.resumedMs !== undefined ? [x.resumedMs] : []))),
    joinToVideo: distribution(joinToVideoMs),
    resumeToVideo: distribution(resumeToVideoMs),
    keyframeWait: distribution(keyframeWaitMs),
    samples: { joinToVideoMs, resumeToVideoMs, keyframeWaitMs },
    loadAverage,
  };
}

/** Per-round values of one figure, their median and their range. */
interface Spread {
  rounds: number[];
  median: number;
  min: number;
  max: number;
}

function spread(values: readonly (number | undefined)[]): Spread {
  const v = values.filter((x): x is number => x !== undefined);
  return { rounds: v, median: median(v) ?? NaN, min: Math.min(...v), max: Math.max(...v) };
}

const show = (s: Spread): string => `${s.median} [${s.min}–${s.max}]`;

interface Setting {
  publisher: PublisherCase['name'];
  delayMs: number;
  requestsPerSecond: Spread;
  peakRequestsPerSecond: Spread;
  /** From the first join to the end of the observation. */
  allRequests: Spread;
  keyframesPerSecond: Spread;
  joinToVideoP50: Spread;
  joinToVideoP95: Spread;
  keyframeWaitP50: Spread;
  keyframeWaitP95: Spread;
  /** Every viewer of every round together. */
  pooledJoinToVideo: Distribution;
}

function summarise(trials: readonly Trial[], publisher: PublisherCase['name'], delayMs: number): Setting {
  const mine = trials.filter((t) => t.publisher === publisher && t.delayMs === delayMs);
  return {
    publisher,
    delayMs,
    requestsPerSecond: spread(mine.map((t) => t.storm.requestsPerSecond)),
    peakRequestsPerSecond: spread(mine.map((t) => t.storm.peakRequestsPerSecond)),
    allRequests: spread(mine.map((t) => t.total.requests)),
    keyframesPerSecond: spread(mine.map((t) => t.storm.keyframesPerSecond)),
    joinToVideoP50: spread(mine.map((t) => t.joinToVideo.p50)),
    joinToVideoP95: spread(mine.map((t) => t.joinToVideo.p95)),
    keyframeWaitP50: spread(mine.map((t) => t.keyframeWait.p50)),
    keyframeWaitP95: spread(mine.map((t) => t.keyframeWait.p95)),
    pooledJoinToVideo: distribution(mine.flatMap((t) => t.samples.joinToVideoMs)),
  };
}

export async function keyframes(o: SuiteOptions): Promise<SuiteResult> {
  const viewers = o.quick ? 10 : scaled(30, o);
  const spreadMs = o.quick ? 1000 : 3000;
  const rounds = o.quick ? 1 : 3;
  const delays = o.quick ? [0, 500] : [0, 500, 1000];
  const publishers = o.quick ? PUBLISHERS.filter((c) => c.name !== 'gop-10s') : PUBLISHERS;
  for (const c of publishers) await ensureClip(c.clip);
  log(
    `keyframes: 1 video publisher, ${viewers} viewers joining within ${spreadMs / 1000} s; KEYFRAME_REQUEST_DELAY_MS ${delays.join(' / ')}; ` +
      `${rounds} round(s); publishers: ${publishers.map((c) => `${c.name}: ${c.label}`).join('; ')}`,
  );
  const fleet = await BotFleet.start(o.botProcesses);
  const trials: Trial[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const delayMs of delays) {
        const server = await startServer('noom', `keyframes-${delayMs}-${r}`, { WORKERS: '1', KEYFRAME_REQUEST_DELAY_MS: String(delayMs) });
        try {
          await warmUp(fleet, server);
          for (const c of publishers) {
            const t = await trial(fleet, server, c, delayMs, r, viewers, spreadMs);
            trials.push(t);
            log(
              `  ${c.name} delay ${delayMs} ms round ${r}: PLI+FIR ${t.storm.requests} in ${t.stormMs / 1000} s (${t.storm.requestsPerSecond}/s, peak ${t.storm.peakRequestsPerSecond} in 1 s; ` +
                `all ${t.total.requests}, FIR ${t.firMs.length}, baseline ${t.baseline.requests}), keyframes sent ${t.storm.keyframes} (${t.storm.keyframesPerSecond}/s); ` +
                `join → first video p50 ${t.joinToVideo.p50} / p95 ${t.joinToVideo.p95} ms, keyframe wait p50 ${t.keyframeWait.p50} / p95 ${t.keyframeWait.p95} ms; ` +
                `video ${t.viewersWithVideo}/${viewers}, failed joins ${t.failedJoins.length}, load ${t.loadAverage}`,
            );
            log(`    per second from -${BASELINE_MS / 1000} s, requests: ${t.perSecond.map((b) => b.requests).join(' ')}; keyframes: ${t.perSecond.map((b) => b.keyframes).join(' ')}`);
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await fleet.stop();
  }

  const settings = publishers.flatMap((c) => delays.map((d) => summarise(trials, c.name, d)));
  const line = (c: PublisherCase, what: string, f: (s: Setting) => string) =>
    `${c.name}, ${what}: ${settings
      .filter((s) => s.publisher === c.name)
      .map((s) => `delay ${s.delayMs} ms ${f(s)}`)
      .join('; ')}`;
  const summary = [
    `1 video publisher, ${viewers} viewers joining within ${spreadMs / 1000} s, ${rounds} round(s) per setting; median of rounds [min–max]; storm window = ${(spreadMs + STORM_TAIL_MS) / 1000} s from the first join`,
    `publishers: ${publishers.map((c) => `${c.name} = ${c.label}`).join('; ')}`,
    ...publishers.flatMap((c) => [
      line(c, 'PLI+FIR/s reaching the publisher', (s) => show(s.requestsPerSecond)),
      line(c, 'most PLI+FIR in any 1 s', (s) => show(s.peakRequestsPerSecond)),
      line(c, 'PLI+FIR per join storm (all, from the first join)', (s) => show(s.allRequests)),
      line(c, 'keyframes sent/s', (s) => show(s.keyframesPerSecond)),
      line(c, 'join → first video p50 / p95', (s) => `${show(s.joinToVideoP50)} / ${show(s.joinToVideoP95)} ms`),
      line(c, 'keyframe wait (resumed and connected → first video) p50 / p95', (s) => `${show(s.keyframeWaitP50)} / ${show(s.keyframeWaitP95)} ms`),
    ]),
    `viewers with video: ${trials.reduce((a, t) => a + t.viewersWithVideo, 0)} / ${trials.reduce((a, t) => a + t.viewers, 0)}; failed joins ${trials.reduce((a, t) => a + t.failedJoins.length, 0)}; FIRs ${trials.reduce((a, t) => a + t.firMs.length, 0)}; PLIs sent by viewers ${trials.reduce((a, t) => a + t.viewerPlis, 0)}`,
  ];
  return {
    name: 'keyframes',
    summary,
    data: {
      viewers,
      spreadMs,
      rounds,
      delays,
      settleMs: SETTLE_MS,
      baselineMs: BASELINE_MS,
      stormTailMs: STORM_TAIL_MS,
      afterMs: AFTER_MS,
      publishers,
      settings,
      trials,
    },
  };
}
