/**
 * Aggregates what the children report into the run's timeline, per-track series and final
 * figures. Children send cumulative counters; rates are differences between two ticks of
 * the coordinator, so a late or lost sample only blurs one interval.
 */
import type { ChildMessage, ExpectedProducer, PeerSummary, SampleMessage } from './ipc.js';
import type { PeerPlan } from './plan.js';
import { combineServerReports, type ServerMetricsReport } from './serverMetrics.js';
import { round, summarize } from './stats.js';
import { mediaQuality } from './mediaQuality.js';
import { judge, type Thresholds } from './verdict.js';
import { speakerReport } from './speakers.js';
import type { UdpCounters } from './udpCounters.js';
import {
  REPORT_VERSION,
  type ConsumerExpectation,
  type DownEpisode,
  type FailureReport,
  type LoadTestReport,
  type NodeReport,
  type TimelinePoint,
  type TrackReport,
} from './report/types.js';

const MAX_WARNING_EXAMPLES = 20;
const MAX_EPISODES = 200;

/** A joined peer: its server id and what it publishes. */
interface JoinedPeer {
  peerId: string;
  producers: { producerId: string; kind: 'audio' | 'video' }[];
  /** Run seconds when it joined (or joined again, or moved). */
  at: number;
}

/** A peer down now; `gap` when for lack of media (health), not a failure for good. */
interface OpenDown {
  from: number;
  reason: string;
  gap: boolean;
}

interface TrackState {
  report: TrackReport;
}

/** A child's counters at one moment: the sample message without its envelope. */
type ChildSample = Omit<SampleMessage, 'type' | 'seq'>;

interface ChildState {
  now: ChildSample;
  /** The sample the previous interval ended with. */
  prev?: ChildSample;
}

export interface Progress {
  planned: number;
  started: number;
  joined: number;
  failed: number;
  receiving: number;
  rxKbps: number;
}

const emptyTotals = (): TrackReport['totals'] => ({
  consumers: 0,
  packetsReceived: 0,
  bytesReceived: 0,
  lost: 0,
  nacksSent: 0,
  plisSent: 0,
  packetsSent: 0,
  nacksReceived: 0,
  plisReceived: 0,
  firsReceived: 0,
  keyframeJumps: 0,
});

export class RunCollector {
  readonly #plan: PeerPlan[];
  readonly #t0: number;
  readonly #children = new Map<number, ChildState>();
  readonly #tracks = new Map<string, TrackState>();
  readonly #failures: FailureReport[] = [];
  /** room:join request → ack of each peer that joined, by index. */
  readonly #joinAck = new Map<number, number>();
  readonly #setup: number[] = [];
  readonly #timeline: TimelinePoint[] = [];
  readonly #warnings: string[] = [];
  #warningCount = 0;
  #started = 0;
  #rejoins = 0;
  #moves = 0;
  readonly #joined = new Map<number, JoinedPeer>();
  readonly #joinFailed = new Set<number>();
  /** Joined peers that failed for good, with when (s). */
  readonly #failedAfterJoin = new Map<number, number>();
  readonly #down = new Map<number, OpenDown>();
  readonly #episodes: (Omit<DownEpisode, 'to' | 'open'> & { to?: number; gap: boolean })[] = [];
  /** room:join ack → first RTP, streamed by the children as it happens. */
  readonly #firstMedia = new Map<number, number>();
  readonly #onExpect: (roomId: string, producers: ExpectedProducer[]) => void;

  /**
   * `onExpect` is told, whenever it changes, which producers every peer of a room should be
   * receiving: those of its publishers that joined and have not failed.
   */
  constructor(plan: PeerPlan[], t0: number, onExpect: (roomId: string, producers: ExpectedProducer[]) => void = () => undefined) {
    this.#plan = plan;
    this.#t0 = t0;
    this.#onExpect = onExpect;
  }

  /** Run seconds of an epoch-ms time from a child. */
  #runSec(epochMs: number): number {
    return (epochMs - performance.timeOrigin - this.#t0) / 1000;
  }

  #expectationsChanged(roomId: string): void {
    const producers: ExpectedProducer[] = [];
    for (const [index, j] of this.#joined) {
      const p = this.#plan[index];
      if (p?.roomId !== roomId || this.#failedAfterJoin.has(index)) continue;
      for (const prod of j.producers) producers.push({ ...prod, peerId: j.peerId, displayName: p.displayName });
    }
    this.#onExpect(roomId, producers);
  }

  /** A peer that failed, joined or not, or is without media now. */
  #isDown(index: number): boolean {
    return this.#joinFailed.has(index) || this.#failedAfterJoin.has(index) || this.#down.has(index);
  }

  /** Every one of the first `count` peers has failed or is without media (count > 0). */
  allDown(count: number): boolean {
    if (count === 0) return false;
    for (let i = 0; i < count; i++) if (!this.#isDown(i)) return false;
    return true;
  }

  #closeDown(index: number, to: number): void {
    const d = this.#down.get(index);
    if (!d) return;
    this.#down.delete(index);
    const e = this.#episodes.find((x) => x.index === index && x.to === undefined && x.gap);
    if (e) e.to = Math.max(e.from, to);
  }

  #openDown(index: number, from: number, reason: string, gap: boolean): void {
    const p = this.#plan[index];
    if (!p) return;
    this.#down.set(index, { from, reason, gap });
    this.#episodes.push({ index, roomId: p.roomId, displayName: p.displayName, reason, from, gap });
  }

  #now(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  peerStarted(): void {
    this.#started++;
  }

  /** A peer that could not even be handed to a child (its process is gone). */
  peerFailed(index: number, phase: FailureReport['phase'], reason: string): void {
    const p = this.#plan[index];
    if (!p) return;
    const t = this.#now();
    this.#failures.push({ index, roomId: p.roomId, role: p.role, displayName: p.displayName, url: p.url, phase, reason, t });
    if (phase === 'media' || this.#joinFailed.has(index) || this.#failedAfterJoin.has(index)) return;
    if (!this.#joined.has(index)) {
      this.#joinFailed.add(index);
      return;
    }
    this.#closeDown(index, t);
    this.#failedAfterJoin.set(index, t);
    this.#openDown(index, t, reason, false);
    this.#down.delete(index);
    if (this.#joined.get(index)!.producers.length > 0) this.#expectationsChanged(p.roomId);
  }

  onMessage(child: number, msg: ChildMessage): void {
    switch (msg.type) {
      case 'joined': {
        this.#joinAck.set(msg.index, msg.joinAckMs);
        this.#setup.push(msg.setupMs);
        const p = this.#plan[msg.index];
        this.#joined.set(msg.index, { peerId: msg.peerId, producers: msg.producers, at: this.#now() });
        if (p && msg.producers.length > 0) this.#expectationsChanged(p.roomId);
        for (const prod of msg.producers) {
          const label = `${p?.roomId ?? '?'} / ${p?.displayName ?? msg.peerId} / ${prod.kind}`;
          this.#track(prod.producerId, prod.kind, label, p?.roomId ?? '', p?.displayName ?? msg.peerId);
        }
        break;
      }
      case 'rejoined': {
        const p = this.#plan[msg.index];
        this.#joined.set(msg.index, { peerId: msg.peerId, producers: msg.producers, at: this.#now() });
        for (const prod of msg.producers) {
          this.#track(prod.producerId, prod.kind, `${p?.roomId ?? '?'} / ${p?.displayName ?? msg.peerId} / ${prod.kind}`, p?.roomId ?? '', p?.displayName ?? msg.peerId);
        }
        if (msg.movedTo !== undefined) this.#moves++;
        else this.#rejoins++;
        if (p) this.#expectationsChanged(p.roomId);
        break;
      }
      case 'failed':
        this.peerFailed(msg.index, msg.phase, msg.reason);
        break;
      case 'health':
        if (this.#failedAfterJoin.has(msg.index)) break;
        if (msg.down) {
          if (!this.#down.has(msg.index)) this.#openDown(msg.index, this.#runSec(msg.at), msg.reason, true);
        } else {
          this.#closeDown(msg.index, this.#runSec(msg.at));
        }
        break;
      case 'firstMedia':
        this.#firstMedia.set(msg.index, msg.ms);
        break;
      case 'warning':
        this.#warningCount++;
        if (this.#warnings.length < MAX_WARNING_EXAMPLES) this.#warnings.push(msg.reason);
        break;
      case 'sample':
      {
        const state = this.#children.get(child);
        const { type: _type, seq: _seq, ...now } = msg;
        if (state) state.now = now;
        else this.#children.set(child, { now });
      }
        break;
      case 'ready':
      case 'peers':
      case 'final':
        break;
    }
  }

  #track(producerId: string, kind: 'audio' | 'video', label?: string, roomId = '', publisher = ''): TrackState {
    let t = this.#tracks.get(producerId);
    if (!t) {
      t = {
        report: { producerId, label: label ?? `${producerId} / ${kind}`, roomId, publisher, kind, points: [], totals: emptyTotals() },
      };
      this.#tracks.set(producerId, t);
    } else if (label && t.report.label !== label) {
      Object.assign(t.report, { label, roomId, publisher });
    }
    return t;
  }

  progress(): Progress {
    let receiving = 0;
    for (const c of this.#children.values()) receiving += c.now.receiving;
    const last = this.#timeline.at(-1);
    return {
      planned: this.#plan.length,
      started: this.#started,
      joined: this.#joinAck.size,
      failed: new Set(this.#failures.map((f) => f.index)).size,
      receiving,
      rxKbps: last?.rxKbps ?? 0,
    };
  }

  /**
   * Closes one sampling interval: a timeline point and a point per track. Each child's
   * counters are differenced over that child's own sample times, so a child answering
   * late shifts nothing; a child that did not answer adds nothing to this interval.
   */
  tick(): void {
    const t = this.#now();
    const rates = new Map<string, { kind: 'audio' | 'video'; bytesPerSec: number; packets: number; lost: number }>();
    let rxBytesPerSec = 0;
    let txBytesPerSec = 0;
    let cpuPct = 0;
    let busiestChildPct = 0;
    let loopDelayMaxMs = 0;
    let packets = 0;
    let lost = 0;
    const rtcp = { nacksSent: 0, plisSent: 0, nacksReceived: 0, plisReceived: 0, keyframeJumps: 0 };
    let active = 0;
    let receiving = 0;
    for (const c of this.#children.values()) {
      active += c.now.active;
      receiving += c.now.receiving;
      const prev = c.prev;
      c.prev = c.now;
      if (!prev || c.now.at <= prev.at) continue;
      const dt = (c.now.at - prev.at) / 1000;
      const d = (a: number, b: number | undefined) => Math.max(0, a - (b ?? 0));
      const childPct = (d(c.now.cpuMs, prev.cpuMs) / 1000 / dt) * 100;
      cpuPct += childPct;
      busiestChildPct = Math.max(busiestChildPct, childPct);
      loopDelayMaxMs = Math.max(loopDelayMaxMs, c.now.loopDelayMaxMs);
      const before = new Map(prev.tracks.map((x) => [x.producerId, x]));
      for (const tr of c.now.tracks) {
        const b = before.get(tr.producerId);
        const r = rates.get(tr.producerId) ?? { kind: tr.kind, bytesPerSec: 0, packets: 0, lost: 0 };
        r.bytesPerSec += d(tr.bytes, b?.bytes) / dt;
        r.packets += d(tr.packets, b?.packets);
        r.lost += d(tr.lost, b?.lost);
        rates.set(tr.producerId, r);
        rtcp.nacksSent += d(tr.nacksSent, b?.nacksSent);
        rtcp.plisSent += d(tr.plisSent, b?.plisSent);
      }
      const sent = new Map(prev.producers.map((x) => [x.producerId, x]));
      for (const p of c.now.producers) {
        const b = sent.get(p.producerId);
        txBytesPerSec += d(p.bytesSent, b?.bytesSent) / dt;
        rtcp.nacksReceived += d(p.nacksReceived, b?.nacksReceived);
        rtcp.plisReceived += d(p.plisReceived + p.firsReceived, (b?.plisReceived ?? 0) + (b?.firsReceived ?? 0));
        rtcp.keyframeJumps += d(p.keyframeJumps, b?.keyframeJumps);
      }
    }
    // Live totals and consumer counts: the children's cumulative counters summed.
    const consumers = new Map<string, number>();
    for (const c of this.#children.values()) {
      for (const tr of c.now.tracks) consumers.set(tr.producerId, (consumers.get(tr.producerId) ?? 0) + tr.consumers);
    }
    for (const [id, r] of rates) {
      const n = consumers.get(id) ?? 0;
      this.#track(id, r.kind).report.points.push({
        t: round(t),
        kbps: round((r.bytesPerSec * 8) / 1000 / Math.max(1, n)),
        consumers: n,
        lossPct: r.packets + r.lost > 0 ? round((r.lost / (r.packets + r.lost)) * 100, 2) : 0,
      });
      rxBytesPerSec += r.bytesPerSec;
      packets += r.packets;
      lost += r.lost;
    }
    const progress = this.progress();
    this.#timeline.push({
      t: round(t),
      started: this.#started,
      active,
      joined: this.#joinAck.size,
      failed: progress.failed,
      receiving,
      down: this.#failedAfterJoin.size + this.#down.size,
      rxKbps: round((rxBytesPerSec * 8) / 1000),
      txKbps: round((txBytesPerSec * 8) / 1000),
      lossPct: packets + lost > 0 ? round((lost / (packets + lost)) * 100, 2) : 0,
      ...rtcp,
      generatorCpuPct: round(cpuPct),
      generatorBusiestChildPct: round(busiestChildPct),
      generatorLoopDelayMaxMs: round(loopDelayMaxMs),
    });
  }

  finish(opts: {
    options: LoadTestReport['options'];
    startedAt: Date;
    interrupted: boolean;
    peers: PeerSummary[];
    /** Each server's /metrics sampling, in the order of `--url`. */
    servers: { url: string; metrics: ServerMetricsReport }[];
    thresholds: Thresholds;
    stoppedEarly?: { t: number; reason: string };
    /** This machine's UDP counters over the run, where readable. */
    udp?: UdpCounters;
  }): LoadTestReport {
    const peers = [...opts.peers].sort((a, b) => a.index - b.index);
    const failedIndexes = new Set(this.#failures.map((f) => f.index));
    let withoutMedia = 0;
    for (const p of peers) {
      const open = p.consumers.filter((c) => !c.closed || c.packets > 0);
      const starved = open.length === 0 ? p.role === 'subscriber' : open.some((c) => c.packets === 0);
      if (starved && !failedIndexes.has(p.index)) {
        withoutMedia++;
        const reason =
          open.length === 0 ? 'no consumer was created' : `${open.filter((c) => c.packets === 0).length} consumer(s) got no RTP`;
        this.#failures.push({ index: p.index, roomId: p.roomId, role: p.role, displayName: p.displayName, url: p.url, phase: 'media', reason, t: this.#now() });
      }
    }
    // Final totals from the peers' own summaries: they include the last partial interval.
    const tracks = [...this.#tracks.values()].map((s) => s.report);
    const byId = new Map(tracks.map((t) => [t.producerId, t]));
    for (const t of tracks) Object.assign(t.totals, { consumers: 0, packetsReceived: 0, bytesReceived: 0, lost: 0, nacksSent: 0, plisSent: 0 });
    const summarized = new Set(peers.map((p) => p.index));
    const withoutSummary = [...this.#joined.keys()].filter((i) => !summarized.has(i)).length;
    if (withoutSummary > 0) this.#totalsFromSamples(byId);
    else this.#totalsFromSummaries(byId, peers);
    const quality = mediaQuality(peers);
    for (const t of tracks) {
      const q = quality.tracks.get(t.producerId);
      if (q) t.quality = q;
    }
    const sum = (f: (t: TrackReport['totals']) => number) => tracks.reduce((n, t) => n + f(t.totals), 0);
    const packetsReceived = sum((t) => t.packetsReceived);
    const lost = sum((t) => t.lost);
    const subscribers = peers.filter((p) => p.role === 'subscriber');
    const pick = (f: (p: PeerSummary) => number | undefined) => subscribers.flatMap((p) => f(p) ?? []);
    // Streamed as it happened, so a peer whose summary did not arrive still counts.
    const firstAny = new Map(subscribers.flatMap((p) => (p.firstMediaMs !== undefined ? [[p.index, p.firstMediaMs] as const] : [])));
    for (const [index, ms] of this.#firstMedia) if (this.#plan[index]?.role === 'subscriber') firstAny.set(index, ms);
    const health = this.#health(opts.thresholds.maxMediaGapSec);
    const consumers = this.#consumerExpectations(opts.thresholds.maxMediaGapSec);
    const firstRtpMs = {
      any: summarize([...firstAny.values()]),
      audio: summarize(pick((p) => p.firstAudioMs)),
      video: summarize(pick((p) => p.firstVideoMs)),
    };
    const publishingRooms = new Set([...this.#joined].flatMap(([i, j]) => (j.producers.length > 0 ? [this.#plan[i]?.roomId] : [])));
    const firstRtpExpected = [...this.#joined.keys()].filter(
      (i) => this.#plan[i]?.role === 'subscriber' && publishingRooms.has(this.#plan[i]?.roomId),
    ).length;
    const reasons = new Map<string, number>();
    for (const f of this.#failures) reasons.set(f.reason, (reasons.get(f.reason) ?? 0) + 1);
    const cpu = this.#timeline.slice(1).map((p) => p.generatorCpuPct);
    const childDrops = [...this.#children.values()].map((c) => c.now.udpDrops);
    const socketDrops = childDrops.some((d) => d !== undefined) ? childDrops.reduce<number>((a, d) => a + (d ?? 0), 0) : undefined;
    const generator = {
      busiestChildPeakPct: Math.max(0, ...this.#timeline.map((p) => p.generatorBusiestChildPct)),
      loopDelayMaxMs: Math.max(0, ...this.#timeline.map((p) => p.generatorLoopDelayMaxMs)),
      ...(socketDrops !== undefined ? { socketDrops } : {}),
      ...(opts.udp ? { udp: opts.udp } : {}),
    };
    const endedAt = new Date();
    return {
      version: REPORT_VERSION,
      startedAt: opts.startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      elapsedSec: round((endedAt.getTime() - opts.startedAt.getTime()) / 1000),
      interrupted: opts.interrupted,
      options: opts.options,
      peers: {
        planned: this.#plan.length,
        started: this.#started,
        joined: this.#joinAck.size,
        failed: failedIndexes.size,
        withoutMedia,
        withoutSummary,
      },
      joinLatencyMs: { ack: summarize([...this.#joinAck.values()]), setup: summarize(this.#setup) },
      firstRtpMs,
      totals: {
        packetsReceived,
        bytesReceived: sum((t) => t.bytesReceived),
        lost,
        lossPct: packetsReceived + lost > 0 ? round((lost / (packetsReceived + lost)) * 100, 3) : 0,
        nacksSent: sum((t) => t.nacksSent),
        plisSent: sum((t) => t.plisSent),
        nacksReceived: sum((t) => t.nacksReceived),
        plisReceived: sum((t) => t.plisReceived),
        firsReceived: sum((t) => t.firsReceived),
        keyframeJumps: sum((t) => t.keyframeJumps),
      },
      generatorCpuPct: {
        mean: cpu.length ? round(cpu.reduce((a, b) => a + b, 0) / cpu.length) : 0,
        max: cpu.length ? Math.max(...cpu) : 0,
      },
      generator,
      timeline: this.#timeline,
      tracks: tracks.sort((a, b) => a.label.localeCompare(b.label)),
      failures: [...this.#failures].sort((a, b) => a.t - b.t),
      failureReasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
      warnings: { count: this.#warningCount, examples: this.#warnings },
      server: combineServerReports(opts.servers.map((n) => n.metrics)),
      nodes: opts.servers.map((n) => this.#node(n.url, n.metrics, peers)),
      peerDetails: peers,
      ...(opts.stoppedEarly ? { stoppedEarly: opts.stoppedEarly } : {}),
      health,
      consumers,
      ...(opts.options.speakerTurnSec !== undefined
        ? { speakers: speakerReport(this.#plan, peers, opts.options.speakerTurnSec * 1000) }
        : {}),
      mediaQuality: quality.run,
      verdict: judge(
        {
          lossPct: packetsReceived + lost > 0 ? (lost / (packetsReceived + lost)) * 100 : 0,
          packets: packetsReceived + lost,
          joinFailures: this.#joinFailed.size,
          peerFailures: health.failedAfterJoin,
          ...(firstRtpMs.any.p95 !== undefined ? { firstRtpP95Ms: firstRtpMs.any.p95 } : {}),
          firstRtpExpected,
          longestMediaGapSec: health.longestMediaGapSec,
          peersWithMediaGaps: health.peersWithMediaGaps,
          missingConsumers: consumers.missing,
          expectedConsumers: consumers.expected,
          ...(opts.stoppedEarly ? { stoppedEarly: `${opts.stoppedEarly.reason} (at ${opts.stoppedEarly.t} s)` } : {}),
          withoutSummary,
          generatorBusiestChildPct: generator.busiestChildPeakPct,
          generatorLoopDelayMaxMs: generator.loopDelayMaxMs,
          ...(socketDrops !== undefined ? { generatorSocketDrops: socketDrops } : {}),
          ...(quality.run.latencyP95Ms.p95 !== undefined ? { latencyP95Ms: quality.run.latencyP95Ms.p95 } : {}),
          ...(quality.run.jitterMs.p95 !== undefined ? { jitterP95Ms: quality.run.jitterMs.p95 } : {}),
        },
        opts.thresholds,
      ),
    };
  }

  /** Totals from the peers' own summaries: they include the last partial interval. */
  #totalsFromSummaries(byId: Map<string, TrackReport>, peers: PeerSummary[]): void {
    for (const p of peers) {
      for (const c of p.consumers) {
        const t = byId.get(c.producerId);
        if (!t) continue;
        t.totals.consumers++;
        t.totals.packetsReceived += c.packets;
        t.totals.bytesReceived += c.bytes;
        t.totals.lost += c.lost;
        t.totals.nacksSent += c.nacksSent;
        t.totals.plisSent += c.plisSent;
      }
      for (const pr of p.producers) {
        const t = byId.get(pr.producerId);
        if (t) Object.assign(t.totals, { packetsSent: pr.packetsSent, nacksReceived: pr.nacksReceived, plisReceived: pr.plisReceived, firsReceived: pr.firsReceived, keyframeJumps: pr.keyframeJumps });
      }
    }
  }

  /**
   * Totals from the children's last cumulative samples, for when some peers' end-of-run
   * summaries never arrived: exact up to the last sample rather than short by whole peers.
   */
  #totalsFromSamples(byId: Map<string, TrackReport>): void {
    for (const c of this.#children.values()) {
      for (const tr of c.now.tracks) {
        const t = byId.get(tr.producerId);
        if (!t) continue;
        t.totals.consumers += tr.consumers;
        t.totals.packetsReceived += tr.packets;
        t.totals.bytesReceived += tr.bytes;
        t.totals.lost += tr.lost;
        t.totals.nacksSent += tr.nacksSent;
        t.totals.plisSent += tr.plisSent;
      }
      for (const pr of c.now.producers) {
        const t = byId.get(pr.producerId);
        if (t) Object.assign(t.totals, { packetsSent: pr.packetsSent, nacksReceived: pr.nacksReceived, plisReceived: pr.plisReceived, firsReceived: pr.firsReceived, keyframeJumps: pr.keyframeJumps });
      }
    }
  }

  #health(limitSec: number): LoadTestReport['health'] {
    const end = this.#now();
    const episodes: DownEpisode[] = this.#episodes.map(({ gap: _gap, to, ...e }) => ({
      ...e,
      from: round(e.from, 2),
      to: round(to ?? end, 2),
      open: to === undefined,
    }));
    let longest = 0;
    const gapped = new Set<number>();
    let peerSeconds = 0;
    for (const e of this.#episodes) {
      const length = (e.to ?? end) - e.from;
      peerSeconds += length;
      if (!e.gap) continue;
      longest = Math.max(longest, length);
      // A rejoin's episode may be shorter than the limit; the watch's never are.
      if (length > limitSec) gapped.add(e.index);
    }
    return {
      mediaGapLimitSec: limitSec,
      failedAfterJoin: this.#failedAfterJoin.size,
      rejoins: this.#rejoins,
      moves: this.#moves,
      peersWithMediaGaps: gapped.size,
      longestMediaGapSec: round(longest, 2),
      peerSecondsDown: round(peerSeconds, 1),
      episodes: episodes.sort((a, b) => a.from - b.from).slice(0, MAX_EPISODES),
    };
  }

  /**
   * At the end: every track of a publisher that is up should reach every other peer of its
   * room that is up, with media (the children's last samples say which consumers receive).
   * Peers that joined within the media-gap limit of the end are given that long, as the
   * watch gives them, before anything is expected of them or of their tracks.
   */
  #consumerExpectations(limitSec: number): LoadTestReport['consumers'] {
    const end = this.#now();
    const settled = (j: JoinedPeer) => end - j.at >= limitSec;
    const receiving = new Map<string, number>();
    for (const c of this.#children.values()) {
      for (const tr of c.now.tracks) receiving.set(tr.producerId, (receiving.get(tr.producerId) ?? 0) + tr.receiving);
    }
    const upByRoom = new Map<string, number>();
    for (const [index, j] of this.#joined) {
      const roomId = this.#plan[index]?.roomId;
      if (roomId === undefined || this.#failedAfterJoin.has(index) || !settled(j)) continue;
      upByRoom.set(roomId, (upByRoom.get(roomId) ?? 0) + 1);
    }
    const tracks: ConsumerExpectation[] = [];
    for (const [index, j] of this.#joined) {
      const p = this.#plan[index];
      if (!p || this.#failedAfterJoin.has(index)) continue;
      for (const prod of j.producers) {
        tracks.push({
          producerId: prod.producerId,
          label: `${p.roomId} / ${p.displayName} / ${prod.kind}`,
          expected: settled(j) ? (upByRoom.get(p.roomId) ?? 1) - 1 : 0,
          actual: receiving.get(prod.producerId) ?? 0,
        });
      }
    }
    tracks.sort((a, b) => a.label.localeCompare(b.label));
    const expected = tracks.reduce((n, t) => n + t.expected, 0);
    const missing = tracks.reduce((n, t) => n + Math.max(0, t.expected - t.actual), 0);
    return { expected, actual: expected - missing, missing, tracks };
  }

  /** One server's share of the run, once the failures are complete. */
  #node(url: string, metrics: ServerMetricsReport, peers: PeerSummary[]): NodeReport {
    const nodeOf = new Map(peers.map((p) => [p.peerId, p.url]));
    const failures = this.#failures.filter((f) => f.url === url);
    const received = { packets: 0, bytes: 0, fromOtherNodes: { packets: 0, bytes: 0 } };
    for (const c of peers.filter((p) => p.url === url).flatMap((p) => p.consumers)) {
      received.packets += c.packets;
      received.bytes += c.bytes;
      const from = nodeOf.get(c.peerId);
      if (from === undefined || from === url) continue;
      received.fromOtherNodes.packets += c.packets;
      received.fromOtherNodes.bytes += c.bytes;
    }
    const joinAck = [...this.#joinAck].flatMap(([index, ms]) => (this.#plan[index]?.url === url ? [ms] : []));
    const { series: _series, ...status } = metrics;
    return {
      url,
      peers: {
        planned: this.#plan.filter((p) => p.url === url).length,
        joined: joinAck.length,
        failed: new Set(failures.filter((f) => f.phase !== 'media').map((f) => f.index)).size,
        withoutMedia: failures.filter((f) => f.phase === 'media').length,
      },
      joinAckMs: summarize(joinAck),
      received,
      metrics: status,
    };
  }
}

