/**
 * Real-time, looping replay of a cached clip track into an RTP sink, with keyframe-on-demand:
 * a keyframe request (PLI/FIR) makes the stream jump ahead to the clip's next keyframe,
 * because mediasoup holds a new video consumer until one arrives.
 *
 * All replayers of a process share one timer ({@link pacer}) rather than a timer per
 * packet: with dozens of streams per process the timer overhead would otherwise dominate.
 */
import { randomInt } from 'node:crypto';
import type { ClipTrack } from './clip.js';
import { RTP_HEADER_LENGTH } from './rtpPacketizer.js';

const TICK_MS = 10;
/** By default, further keyframe requests inside this window are merged into one jump at its end. */
const KEYFRAME_MIN_INTERVAL_MS = 250;
/** Behind schedule by more than this (a stalled event loop): skip ahead instead of bursting. */
const MAX_LAG_MS = 500;

export interface ReplayTarget {
  ssrc: number;
  payloadType: number;
  /** Nominal frame rate, for the timestamp step of a keyframe jump (video). */
  fps?: number;
}

export interface ReplayerStats {
  packetsSent: number;
  bytesSent: number;
  keyframeRequests: number;
  keyframeJumps: number;
}

class Pacer {
  readonly #streams = new Set<RtpReplayer>();
  #timer: NodeJS.Timeout | undefined;

  add(r: RtpReplayer): void {
    this.#streams.add(r);
    this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
  }

  delete(r: RtpReplayer): void {
    this.#streams.delete(r);
    if (this.#streams.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    const now = performance.now();
    for (const r of this.#streams) {
      try {
        r.pump(now);
      } catch (error) {
        // One broken sink must not stop every other stream of the process.
        r.fail(error);
      }
    }
  }
}

const pacer = new Pacer();

export class RtpReplayer {
  readonly stats: ReplayerStats = { packetsSent: 0, bytesSent: 0, keyframeRequests: 0, keyframeJumps: 0 };
  readonly #track: ClipTrack;
  readonly #sink: (packet: Buffer) => void;
  readonly #target: ReplayTarget;
  readonly #onError: (error: unknown) => void;
  readonly #onKeyFrame: (() => void) | undefined;
  readonly #keyframeMinIntervalMs: number;
  /** Indexes of the packets that start a keyframe, for #onKeyFrame. */
  readonly #keyframeStarts: ReadonlySet<number>;
  readonly #isVp8: boolean;
  #index = 0;
  #loop = 0;
  /** Wall time (performance.now) at which the packet with clip time #anchorClipTs is due. */
  #anchorWall = 0;
  #anchorClipTs = 0;
  /** Output RTP timestamp of the anchor packet. */
  #anchorOutTs = randomInt(0, 2 ** 31);
  #seq = randomInt(0, 2 ** 15);
  #pictureId = randomInt(0, 2 ** 14);
  #lastOutTs = this.#anchorOutTs;
  #lastJumpAt = -Infinity;
  #keyframePending = false;
  #running = false;

  constructor(opts: {
    track: ClipTrack;
    target: ReplayTarget;
    sink: (packet: Buffer) => void;
    onError?: (error: unknown) => void;
    /** Called as the first packet of each keyframe goes out, periodic or requested. */
    onKeyFrame?: () => void;
    /** Requests within this long of the last keyframe jump wait for its end; 0 answers each at once. */
    keyframeMinIntervalMs?: number;
  }) {
    this.#track = opts.track;
    this.#target = opts.target;
    this.#sink = opts.sink;
    this.#onError = opts.onError ?? (() => undefined);
    this.#onKeyFrame = opts.onKeyFrame;
    this.#keyframeMinIntervalMs = opts.keyframeMinIntervalMs ?? KEYFRAME_MIN_INTERVAL_MS;
    this.#keyframeStarts = new Set(opts.track.keyframes);
    this.#isVp8 = opts.track.kind === 'video';
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#anchorWall = performance.now();
    this.#anchorClipTs = this.#clipTs(this.#index, this.#loop);
    pacer.add(this);
  }

  stop(): void {
    this.#running = false;
    pacer.delete(this);
  }

  /** Answer to a PLI / FIR: send the next keyframe now (rate-limited). */
  requestKeyFrame(): void {
    if (this.#track.keyframes.length === 0) return;
    this.stats.keyframeRequests++;
    this.#keyframePending = true;
    if (this.#running) this.pump(performance.now());
  }

  /** @internal Called by the pacer. */
  fail(error: unknown): void {
    this.stop();
    this.#onError(error);
  }

  /** @internal Sends every packet due at `now`. */
  pump(now: number): void {
    if (this.#keyframePending && now - this.#lastJumpAt >= this.#keyframeMinIntervalMs) this.#jumpToKeyframe(now);
    const track = this.#track;
    const msPerTick = 1000 / track.clockRate;
    if (now - this.#due(this.#index, this.#loop, msPerTick) > MAX_LAG_MS) this.#reanchor(now);
    while (this.#running && this.#due(this.#index, this.#loop, msPerTick) <= now) {
      this.#send(this.#index, this.#loop);
      if (++this.#index === track.packets) {
        this.#index = 0;
        this.#loop++;
      }
    }
  }

  #clipTs(index: number, loop: number): number {
    return this.#track.timestamps[index]! + loop * this.#track.loopDuration;
  }

  #due(index: number, loop: number, msPerTick: number): number {
    return this.#anchorWall + (this.#clipTs(index, loop) - this.#anchorClipTs) * msPerTick;
  }

  /** Restarts the schedule at `now` from the current packet, one frame after the last sent. */
  #reanchor(now: number): void {
    const step = Math.round(this.#track.clockRate / (this.#target.fps ?? 50));
    this.#anchorWall = now;
    this.#anchorClipTs = this.#clipTs(this.#index, this.#loop);
    this.#anchorOutTs = (this.#lastOutTs + step) >>> 0;
  }

  #jumpToKeyframe(now: number): void {
    this.#keyframePending = false;
    this.#lastJumpAt = now;
    const keyframes = this.#track.keyframes;
    // Already at the start of a keyframe: it goes out on schedule within one frame.
    if (keyframes.includes(this.#index)) return;
    const next = keyframes.find((k) => k > this.#index);
    if (next === undefined) {
      this.#index = keyframes[0]!;
      this.#loop++;
    } else {
      this.#index = next;
    }
    this.stats.keyframeJumps++;
    this.#reanchor(now);
  }

  #send(index: number, loop: number): void {
    const src = this.#track.rtp[index]!;
    const out = Buffer.allocUnsafe(src.length);
    src.copy(out);
    const ts = (this.#anchorOutTs + (this.#clipTs(index, loop) - this.#anchorClipTs)) >>> 0;
    out[1] = (out[1]! & 0x80) | (this.#target.payloadType & 0x7f);
    out.writeUInt16BE(this.#seq, 2);
    out.writeUInt32BE(ts, 4);
    out.writeUInt32BE(this.#target.ssrc >>> 0, 8);
    this.#seq = (this.#seq + 1) & 0xffff;
    if (this.#isVp8) {
      // Descriptor byte 0 bit S marks the first packet of a frame: a new picture.
      if ((out[RTP_HEADER_LENGTH]! & 0x10) !== 0) this.#pictureId = (this.#pictureId + 1) & 0x7fff;
      out.writeUInt16BE(0x8000 | this.#pictureId, RTP_HEADER_LENGTH + 2);
    }
    this.#lastOutTs = ts;
    this.stats.packetsSent++;
    this.stats.bytesSent += out.length - RTP_HEADER_LENGTH;
    this.#sink(out);
    if (this.#onKeyFrame && this.#keyframeStarts.has(index)) this.#onKeyFrame();
  }
}
