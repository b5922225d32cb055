/**
 * Aggregates what the children report into the run's timeline, per-track series and final
 * figures. Children send cumulative counters; rates are differences between two ticks of
 * the coordinator, so a late or lost sample only blurs one interval.
 */
import type { ChildMessage, PeerSummary, ProducerCounters, TrackCounters } from './ipc.js';
import type { PeerPlan } from './plan.js';
import type { ServerMetricsReport } from './serverMetrics.js';
import { summarize } from './stats.js';
import {
  REPORT_VERSION,
  type FailureReport,
  type LoadTestReport,
  type TimelinePoint,
  type TrackReport,
} from './report/types.js';

const MAX_WARNING_EXAMPLES = 20;

interface TrackState {
  report: TrackReport;
  last?: { packets: number; bytes: number; lost: number };
}

interface ChildState {
  active: number;
  receiving: number;
  tracks: TrackCounters[];
  producers: ProducerCounters[];
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
  readonly #joinAck: number[] = [];
  readonly #setup: number[] = [];
  readonly #timeline: TimelinePoint[] = [];
  readonly #warnings: string[] = [];
  #warningCount = 0;
  #started = 0;
  #joined = 0;
  #lastTick: { t: number; rx: number; tx: number; packets: number; lost: number; rtcp: number[] } | undefined;

  constructor(plan: PeerPlan[], t0: number) {
    this.#plan = plan;
    this.#t0 = t0;
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
    this.#failures.push({ index, roomId: p.roomId, role: p.role, displayName: p.displayName, phase, reason, t: this.#now() });
  }

  onMessage(child: number, msg: ChildMessage): void {
    switch (msg.type) {
      case 'joined': {
        this.#joined++;
        this.#joinAck.push(msg.joinAckMs);
        this.#setup.push(msg.setupMs);
        const p = this.#plan[msg.index];
        for (const prod of msg.producers) {
          const label = `${p?.roomId ?? '?'} / ${p?.displayName ?? msg.peerId} / ${prod.kind}`;
          this.#track(prod.producerId, prod.kind, label, p?.roomId ?? '', p?.displayName ?? msg.peerId);
        }
        break;
      }
      case 'failed':
        this.peerFailed(msg.index, msg.phase, msg.reason);
        break;
      case 'warning':
        this.#warningCount++;
        if (this.#warnings.length < MAX_WARNING_EXAMPLES) this.#warnings.push(msg.reason);
        break;
      case 'sample':
        this.#children.set(child, { active: msg.active, receiving: msg.receiving, tracks: msg.tracks, producers: msg.producers });
        break;
      case 'ready':
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
    for (const c of this.#children.values()) receiving += c.receiving;
    const last = this.#timeline.at(-1);
    return {
      planned: this.#plan.length,
      started: this.#started,
      joined: this.#joined,
      failed: new Set(this.#failures.map((f) => f.index)).size,
      receiving,
      rxKbps: last?.rxKbps ?? 0,
    };
  }

  /** Closes one sampling interval: timeline point and per-track points. */
  tick(): void {
    const t = this.#now();
    // Sum every child's cumulative counters per track and per producer.
    const rx = new Map<string, TrackCounters>();
    const tx = new Map<string, ProducerCounters>();
    let active = 0;
    let receiving = 0;
    for (const c of this.#children.values()) {
      active += c.active;
      receiving += c.receiving;
      for (const tr of c.tracks) {
        const sum = rx.get(tr.producerId);
        if (!sum) rx.set(tr.producerId, { ...tr });
        else {
          sum.consumers += tr.consumers;
          sum.packets += tr.packets;
          sum.bytes += tr.bytes;
          sum.lost += tr.lost;
          sum.nacksSent += tr.nacksSent;
          sum.plisSent += tr.plisSent;
        }
      }
      for (const p of c.producers) tx.set(p.producerId, p);
    }
    let rxBytes = 0;
    let rxPackets = 0;
    let rxLost = 0;
    let nacksSent = 0;
    let plisSent = 0;
    for (const [id, c] of rx) {
      const state = this.#track(id, c.kind);
      const totals = state.report.totals;
      Object.assign(totals, {
        consumers: c.consumers,
        packetsReceived: c.packets,
        bytesReceived: c.bytes,
        lost: c.lost,
        nacksSent: c.nacksSent,
        plisSent: c.plisSent,
      });
      if (state.last && this.#lastTick) {
        const dt = t - this.#lastTick.t;
        const bytes = Math.max(0, c.bytes - state.last.bytes);
        const packets = Math.max(0, c.packets - state.last.packets);
        const lost = Math.max(0, c.lost - state.last.lost);
        state.report.points.push({
          t: round(t),
          kbps: round((bytes * 8) / 1000 / dt / Math.max(1, c.consumers)),
          consumers: c.consumers,
          lossPct: packets + lost > 0 ? round((lost / (packets + lost)) * 100, 2) : 0,
        });
      }
      state.last = { packets: c.packets, bytes: c.bytes, lost: c.lost };
      rxBytes += c.bytes;
      rxPackets += c.packets;
      rxLost += c.lost;
      nacksSent += c.nacksSent;
      plisSent += c.plisSent;
    }
    let txBytes = 0;
    let nacksReceived = 0;
    let plisReceived = 0;
    let keyframeJumps = 0;
    for (const [id, p] of tx) {
      const totals = this.#track(id, p.kind).report.totals;
      Object.assign(totals, {
        packetsSent: p.packetsSent,
        nacksReceived: p.nacksReceived,
        plisReceived: p.plisReceived,
        firsReceived: p.firsReceived,
        keyframeJumps: p.keyframeJumps,
      });
      txBytes += p.bytesSent;
      nacksReceived += p.nacksReceived;
      plisReceived += p.plisReceived + p.firsReceived;
      keyframeJumps += p.keyframeJumps;
    }
    const rtcp = [nacksSent, plisSent, nacksReceived, plisReceived, keyframeJumps];
    const prev = this.#lastTick;
    const dt = prev ? t - prev.t : 0;
    const d = (now: number, before: number) => Math.max(0, now - before);
    const packetsD = prev ? d(rxPackets, prev.packets) : 0;
    const lostD = prev ? d(rxLost, prev.lost) : 0;
    const progress = this.progress();
    this.#timeline.push({
      t: round(t),
      started: this.#started,
      active,
      joined: this.#joined,
      failed: progress.failed,
      receiving,
      rxKbps: prev && dt > 0 ? round((d(rxBytes, prev.rx) * 8) / 1000 / dt) : 0,
      txKbps: prev && dt > 0 ? round((d(txBytes, prev.tx) * 8) / 1000 / dt) : 0,
      lossPct: packetsD + lostD > 0 ? round((lostD / (packetsD + lostD)) * 100, 2) : 0,
      nacksSent: prev ? d(rtcp[0]!, prev.rtcp[0]!) : 0,
      plisSent: prev ? d(rtcp[1]!, prev.rtcp[1]!) : 0,
      nacksReceived: prev ? d(rtcp[2]!, prev.rtcp[2]!) : 0,
      plisReceived: prev ? d(rtcp[3]!, prev.rtcp[3]!) : 0,
      keyframeJumps: prev ? d(rtcp[4]!, prev.rtcp[4]!) : 0,
    });
    this.#lastTick = { t, rx: rxBytes, tx: txBytes, packets: rxPackets, lost: rxLost, rtcp };
  }

  finish(opts: {
    options: LoadTestReport['options'];
    startedAt: Date;
    interrupted: boolean;
    peers: PeerSummary[];
    server: ServerMetricsReport;
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
        this.#failures.push({ index: p.index, roomId: p.roomId, role: p.role, displayName: p.displayName, phase: 'media', reason, t: this.#now() });
      }
    }
    // Final totals from the peers' own summaries: they include the last partial interval.
    const tracks = [...this.#tracks.values()].map((s) => s.report);
    const byId = new Map(tracks.map((t) => [t.producerId, t]));
    for (const t of tracks) Object.assign(t.totals, { consumers: 0, packetsReceived: 0, bytesReceived: 0, lost: 0, nacksSent: 0, plisSent: 0 });
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
    const sum = (f: (t: TrackReport['totals']) => number) => tracks.reduce((n, t) => n + f(t.totals), 0);
    const packetsReceived = sum((t) => t.packetsReceived);
    const lost = sum((t) => t.lost);
    const subscribers = peers.filter((p) => p.role === 'subscriber');
    const pick = (f: (p: PeerSummary) => number | undefined) => subscribers.flatMap((p) => f(p) ?? []);
    const reasons = new Map<string, number>();
    for (const f of this.#failures) reasons.set(f.reason, (reasons.get(f.reason) ?? 0) + 1);
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
        joined: this.#joined,
        failed: failedIndexes.size,
        withoutMedia,
      },
      joinLatencyMs: { ack: summarize(this.#joinAck), setup: summarize(this.#setup) },
      firstRtpMs: {
        any: summarize(pick((p) => p.firstMediaMs)),
        audio: summarize(pick((p) => p.firstAudioMs)),
        video: summarize(pick((p) => p.firstVideoMs)),
      },
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
      timeline: this.#timeline,
      tracks: tracks.sort((a, b) => a.label.localeCompare(b.label)),
      failures: [...this.#failures].sort((a, b) => a.t - b.t),
      failureReasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
      warnings: { count: this.#warningCount, examples: this.#warnings },
      server: opts.server,
      peerDetails: peers,
    };
  }
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
