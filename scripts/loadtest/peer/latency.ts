/**
 * End-to-end latency and interarrival jitter of one received RTP stream.
 *
 * Latency: each replayed packet carries its send time in the abs-capture-time header
 * extension (http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time, a 64-bit NTP
 * timestamp). mediasoup proxies that extension to every consumer of a producer that
 * negotiated it (it rewrites only the capture clock offset), and browsers in the same room
 * receive it as they would from another browser, so nothing else in the media changes. On
 * receive, latency = receive time − send time, both wall-clock: it is exact when sender and
 * receiver share a clock (every peer of one run on one machine); across machines the figure
 * carries the clocks' offset and needs them synchronized (NTP/PTP) to mean anything.
 *
 * Jitter: RFC 3550 section 6.4.1 interarrival jitter, from RTP timestamps and arrival times,
 * in the consumer's codec clock, reported in ms.
 */

export const ABS_CAPTURE_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 2 ** 32;

/**
 * Wall-clock epoch ms with sub-ms resolution. Every process of a run reads the same system
 * clock; performance.now() keeps it monotonic within a process.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The 8-byte form of abs-capture-time (no capture clock offset): NTP UQ32.32 of `epochMs`. */
export function encodeAbsCaptureTime(epochMs: number): Buffer {
  const seconds = epochMs / 1000 + NTP_UNIX_OFFSET_S;
  const whole = Math.floor(seconds);
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(whole >>> 0, 0);
  out.writeUInt32BE(Math.min(TWO_32 - 1, Math.round((seconds - whole) * TWO_32)) >>> 0, 4);
  return out;
}

/**
 * Epoch ms of an abs-capture-time payload (8 bytes, or 16 with a capture clock offset), or
 * undefined for anything else. The offset is ignored: mediasoup fills it with its estimate
 * of the publisher's clock against its own, which is 0 for peers sharing one clock and
 * would not make a receiver's clock comparable anyway.
 */
export function decodeAbsCaptureTime(payload: Buffer): number | undefined {
  if (payload.length !== 8 && payload.length !== 16) return undefined;
  const seconds = payload.readUInt32BE(0) + payload.readUInt32BE(4) / TWO_32;
  return (seconds - NTP_UNIX_OFFSET_S) * 1000;
}

/** Smallest value told apart by the histogram (ms); anything at or below falls in bucket 0. */
const HIST_MIN_MS = 0.05;
/** Each bucket 3 % wider than the previous: percentiles within ±1.5 %. */
const HIST_GROWTH = 1.03;
const LOG_GROWTH = Math.log(HIST_GROWTH);
/** Up to 0.05 ms × 1.03^450 ≈ 30 s; longer values share the last bucket. */
const HIST_BUCKETS = 452;

/**
 * A log-bucketed histogram of positive values: constant memory (1.8 KB) whatever the
 * number of samples, so a process can keep one per consumer by the thousand.
 */
export class LogHistogram {
  readonly #counts = new Uint32Array(HIST_BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    const i = value <= HIST_MIN_MS ? 0 : Math.min(HIST_BUCKETS - 1, 1 + Math.floor(Math.log(value / HIST_MIN_MS) / LOG_GROWTH));
    this.#counts[i]!++;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  get mean(): number | undefined {
    return this.#count > 0 ? this.#sum / this.#count : undefined;
  }

  get max(): number | undefined {
    return this.#count > 0 ? this.#max : undefined;
  }

  /**
   * Nearest-rank quantile (q in 0..1): the geometric middle of the bucket holding that rank,
   * kept within the smallest and largest value seen.
   */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    const rank = Math.min(this.#count, Math.max(1, Math.ceil(q * this.#count)));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen < rank) continue;
      const mid = i === 0 ? HIST_MIN_MS : HIST_MIN_MS * HIST_GROWTH ** (i - 0.5);
      return Math.min(this.#max, Math.max(this.#min, mid));
    }
    return this.#max;
  }
}

/** One consumer's end-to-end latency (ms) over the packets that carried a send time. */
export interface LatencySummary {
  /** Packets that carried a send time. */
  count: number;
  p50: number;
  p95: number;
  mean: number;
  max: number;
}

/**
 * RFC 3550 interarrival jitter, in RTP timestamp units. RTP timestamps are unwrapped
 * (32-bit) against the previous packet, so a stream may start anywhere and wrap.
 */
export class InterarrivalJitter {
  readonly #clockRate: number;
  #lastTs: number | undefined;
  /** Unwrapped RTP timestamp of the last packet. */
  #unwrapped = 0;
  #lastTransit: number | undefined;
  #jitter = 0;

  constructor(clockRate: number) {
    if (!(clockRate > 0)) throw new RangeError(`invalid clock rate ${clockRate}`);
    this.#clockRate = clockRate;
  }

  /** A packet with RTP timestamp `rtpTs` arrived at `arrivalMs` (any monotonic ms clock). */
  add(rtpTs: number, arrivalMs: number): void {
    if (this.#lastTs === undefined) {
      this.#unwrapped = rtpTs;
    } else {
      // Signed 32-bit difference: a late (reordered) packet steps back, a wrap steps forward.
      this.#unwrapped += ((rtpTs - this.#lastTs) << 0);
    }
    this.#lastTs = rtpTs >>> 0;
    const transit = (arrivalMs * this.#clockRate) / 1000 - this.#unwrapped;
    if (this.#lastTransit !== undefined) {
      const d = Math.abs(transit - this.#lastTransit);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }

  /** In RTP timestamp units, as RTCP receiver reports carry it (before rounding). */
  get units(): number {
    return this.#jitter;
  }

  get ms(): number {
    return (this.#jitter / this.#clockRate) * 1000;
  }
}

/**
 * Whether RTP sequence number `seq` is newer than `highest` (mod 2^16, within half the
 * space); any sequence number is newer than none.
 */
export function isNewerSeq(seq: number, highest: number | undefined): boolean {
  if (highest === undefined) return true;
  const delta = (seq - highest) & 0xffff;
  return delta !== 0 && delta < 0x8000;
}

/** Latency and jitter of one received stream; fed by the receive path, read by the stats. */
export class StreamQuality {
  readonly #jitter: InterarrivalJitter;
  readonly #latency = new LogHistogram();
  #packets = 0;

  constructor(clockRate: number) {
    this.#jitter = new InterarrivalJitter(clockRate);
  }

  /**
   * A packet arrived at `arrivalMs` (wallClockMs()); `sentAtMs` is its send time from the
   * abs-capture-time extension, when it carried one. A clock stepping backwards can make a
   * latency negative: it is counted as 0. A packet older than one already received (a
   * retransmission, or reordered) counts for latency, since it did arrive that late, but not
   * for jitter, as in libwebrtc: its RTP timestamp says nothing about the path's variation.
   */
  onPacket(rtpTs: number, arrivalMs: number, sentAtMs?: number, inOrder = true): void {
    this.#packets++;
    if (inOrder) this.#jitter.add(rtpTs, arrivalMs);
    if (sentAtMs !== undefined) this.#latency.add(Math.max(0, arrivalMs - sentAtMs));
  }

  /** RFC 3550 jitter in ms; undefined before two packets. */
  get jitterMs(): number | undefined {
    return this.#packets >= 2 ? this.#jitter.ms : undefined;
  }

  latency(): LatencySummary | undefined {
    const h = this.#latency;
    if (h.count === 0) return undefined;
    return { count: h.count, p50: h.quantile(0.5)!, p95: h.quantile(0.95)!, mean: h.mean!, max: h.max! };
  }
}
