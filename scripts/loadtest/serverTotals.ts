/**
 * What the server itself counted over a run, read from its /metrics: counters integrated
 * from the first scrape (last value − first value; a counter that went down was reset, e.g. a
 * restarted worker, and what it counted since is added), the join-duration histogram's bucket
 * deltas turned into quantiles, and the workers' CPU per forwarded packet.
 */
import { seriesKey, type PromSample } from './prometheus.js';
import { round } from './stats.js';

/** The series integrated over the run; everything else on the page is left to the charts. */
export const INTEGRATED =
  /^noom_(rtp_packets_forwarded_total|rtp_bytes_forwarded_total|rtp_packets_retransmitted_total|rtp_nacks_received_total|keyframe_requests_total|joins_total|worker_cpu_seconds_total|join_duration_seconds_(bucket|count))$/;

const JOIN_HISTOGRAM = 'noom_join_duration_seconds';

/** Counters a current Noom server exposes; one missing (an older server) is reported as such, not as 0. */
const EXPECTED = [
  'noom_rtp_packets_forwarded_total',
  'noom_rtp_packets_retransmitted_total',
  'noom_rtp_nacks_received_total',
  'noom_keyframe_requests_total',
  'noom_joins_total',
  'noom_worker_cpu_seconds_total',
  `${JOIN_HISTOGRAM}_count`,
] as const;

/** The server's join latency (room:join received → answered), from its histogram. */
export interface JoinDurationTotals {
  /** Joins answered over the run (ok or refused). */
  count: number;
  /** Linear interpolation inside the bucket, as Prometheus' histogram_quantile; absent without joins. */
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  /** Joins per cumulative bucket over the run: `le` in seconds, finite bounds only (`count` is +Inf's). */
  buckets: { le: number; count: number }[];
}

export interface ServerTotals {
  /** Run seconds of the first and the last scrape: the window every total covers. */
  fromSec: number;
  toSec: number;
  /** RTP packets and bytes sent to consumers, retransmissions excluded. */
  packetsForwarded: number;
  bytesForwarded: number;
  /** RTP packets sent to consumers again on their NACKs. */
  packetsRetransmitted: number;
  /** RTCP NACK packets the server received from consumers. */
  nacksReceived: number;
  /** PLI and FIR the server sent to publishers (for their consumers, or for lost packets). */
  keyframeRequests: { pli: number; fir: number };
  /** room:join answers by result (`ok` or an error code). */
  joins: { total: number; byResult: Record<string, number> };
  /** CPU time of the mediasoup workers, summed over workers. */
  workerCpuSec: number;
  /** Worker CPU per forwarded packet in µs; absent when nothing was forwarded. */
  workerCpuUsPerPacket?: number;
  joinDuration: JoinDurationTotals;
  /** Counters the server does not expose: their figures above are 0 for want of a count. */
  missing: string[];
}

/** Integrates every counter series over successive scrapes. */
export class CounterIntegrator {
  readonly #series = new Map<string, { name: string; labels: Record<string, string>; last: number; total: number }>();
  #scrapes = 0;

  /** One scrape's samples (counters only). */
  add(samples: readonly PromSample[]): void {
    const first = this.#scrapes === 0;
    this.#scrapes++;
    for (const s of samples) {
      if (!Number.isFinite(s.value)) continue;
      const key = seriesKey(s);
      const seen = this.#series.get(key);
      if (!seen) {
        // A labelled counter appears on its first increment: absent at the scrape before,
        // it stood at 0 then, and all of its value was counted during the run.
        this.#series.set(key, { name: s.name, labels: s.labels, last: s.value, total: first ? 0 : s.value });
        continue;
      }
      seen.total += s.value >= seen.last ? s.value - seen.last : s.value;
      seen.last = s.value;
    }
  }

  get scrapes(): number {
    return this.#scrapes;
  }

  has(name: string): boolean {
    for (const s of this.#series.values()) if (s.name === name) return true;
    return false;
  }

  /** Every series of that name with its total. */
  series(name: string): { labels: Record<string, string>; total: number }[] {
    return [...this.#series.values()].filter((s) => s.name === name).map(({ labels, total }) => ({ labels, total }));
  }

  /** Sum over the series of that name. */
  total(name: string): number {
    return this.series(name).reduce((n, s) => n + s.total, 0);
  }
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram, in the buckets' unit: the bucket holding the
 * q·count-th observation, linearly interpolated between its bounds (the first bucket starts
 * at 0). Observations above the last finite bound give that bound. Undefined without any.
 */
export function histogramQuantile(buckets: readonly { le: number; count: number }[], count: number, q: number): number | undefined {
  if (!(count > 0)) return undefined;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const b of [...buckets].filter((x) => Number.isFinite(x.le)).sort((a, b) => a.le - b.le)) {
    if (b.count >= rank && b.count > below) return lower + ((b.le - lower) * (rank - below)) / (b.count - below);
    lower = b.le;
    below = Math.max(below, b.count);
  }
  return lower;
}

function joinDuration(buckets: { le: number; count: number }[], count: number): JoinDurationTotals {
  const ms = (q: number) => {
    const v = histogramQuantile(buckets, count, q);
    return v === undefined ? {} : { [`p${Math.round(q * 100)}Ms`]: round(v * 1000) };
  };
  return { count, ...ms(0.5), ...ms(0.95), ...ms(0.99), buckets };
}

function cpuPerPacket(cpuSec: number, packets: number): { workerCpuUsPerPacket?: number } {
  return packets > 0 ? { workerCpuUsPerPacket: round((cpuSec * 1e6) / packets, 2) } : {};
}

/** The totals of one server's scrapes, between the first (at `fromSec`) and the last (at `toSec`). */
export function serverTotals(counters: CounterIntegrator, fromSec: number, toSec: number): ServerTotals {
  const byResult: Record<string, number> = {};
  for (const s of counters.series('noom_joins_total')) {
    const result = s.labels.result ?? '';
    byResult[result] = (byResult[result] ?? 0) + s.total;
  }
  const keyframes = { pli: 0, fir: 0 };
  for (const s of counters.series('noom_keyframe_requests_total')) {
    if (s.labels.type === 'pli' || s.labels.type === 'fir') keyframes[s.labels.type] += s.total;
  }
  const buckets = counters
    .series(`${JOIN_HISTOGRAM}_bucket`)
    .flatMap((s) => {
      const le = Number(s.labels.le);
      return Number.isFinite(le) ? [{ le, count: s.total }] : [];
    })
    .sort((a, b) => a.le - b.le);
  const packetsForwarded = counters.total('noom_rtp_packets_forwarded_total');
  const workerCpuSec = counters.total('noom_worker_cpu_seconds_total');
  return {
    fromSec: round(fromSec, 2),
    toSec: round(toSec, 2),
    packetsForwarded,
    bytesForwarded: counters.total('noom_rtp_bytes_forwarded_total'),
    packetsRetransmitted: counters.total('noom_rtp_packets_retransmitted_total'),
    nacksReceived: counters.total('noom_rtp_nacks_received_total'),
    keyframeRequests: keyframes,
    joins: { total: Object.values(byResult).reduce((a, b) => a + b, 0), byResult },
    workerCpuSec: round(workerCpuSec, 3),
    ...cpuPerPacket(workerCpuSec, packetsForwarded),
    joinDuration: joinDuration(buckets, counters.total(`${JOIN_HISTOGRAM}_count`)),
    missing: EXPECTED.filter((name) => !counters.has(name)),
  };
}

/** The nodes of a cluster as one server: counts added up, the histograms merged bucket by bucket. */
export function combineTotals(list: readonly ServerTotals[]): ServerTotals | undefined {
  if (list.length <= 1) return list[0];
  const sum = (f: (t: ServerTotals) => number) => list.reduce((n, t) => n + f(t), 0);
  const byResult: Record<string, number> = {};
  const buckets = new Map<number, number>();
  for (const t of list) {
    for (const [result, n] of Object.entries(t.joins.byResult)) byResult[result] = (byResult[result] ?? 0) + n;
    for (const b of t.joinDuration.buckets) buckets.set(b.le, (buckets.get(b.le) ?? 0) + b.count);
  }
  const packetsForwarded = sum((t) => t.packetsForwarded);
  const workerCpuSec = sum((t) => t.workerCpuSec);
  return {
    fromSec: Math.min(...list.map((t) => t.fromSec)),
    toSec: Math.max(...list.map((t) => t.toSec)),
    packetsForwarded,
    bytesForwarded: sum((t) => t.bytesForwarded),
    packetsRetransmitted: sum((t) => t.packetsRetransmitted),
    nacksReceived: sum((t) => t.nacksReceived),
    keyframeRequests: { pli: sum((t) => t.keyframeRequests.pli), fir: sum((t) => t.keyframeRequests.fir) },
    joins: { total: sum((t) => t.joins.total), byResult },
    workerCpuSec: round(workerCpuSec, 3),
    ...cpuPerPacket(workerCpuSec, packetsForwarded),
    joinDuration: joinDuration(
      [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le),
      sum((t) => t.joinDuration.count),
    ),
    missing: [...new Set(list.flatMap((t) => t.missing))].sort(),
  };
}
