/**
 * One continuous VP8 stream out of whichever video source the recording shows now. The
 * output keeps its own SSRC, sequence numbers and timestamps, so ffmpeg sees one stream
 * however often the source changes: a new source is taken from its first keyframe on (the
 * old one goes on until then), its timestamps shifted to continue from the recording's
 * clock. With no source, a still black keyframe goes out four times a second, so the video
 * never stops and ffmpeg always knows the stream.
 */
import { isVp8KeyframeStart, vp8Payloads, writeRtp, type RtpView } from './rtp.js';

export const VIDEO_PAYLOAD_TYPE = 96;
const PLACEHOLDER_EVERY_MS = 250;

export interface VideoSwitcherOptions {
  ssrc: number;
  /** The recording's clock, in 90 kHz units, now. */
  now90k: () => number;
  send: (packet: Buffer) => void;
  /** A VP8 keyframe shown when no source is (a black frame). */
  placeholder: Buffer;
  /** The source on `ssrc` is the one shown from now on. */
  onSwitched: (ssrc: number | undefined) => void;
}

export class VideoSwitcher {
  readonly #o: VideoSwitcherOptions;
  #current: number | undefined;
  #pending: number | undefined;
  #offset = 0;
  #seq = Math.floor(Math.random() * 0xffff);
  #lastTs = 0;
  #lastPlaceholderAt = -Infinity;
  packets = 0;
  octets = 0;
  /** Source changes so far (the first source included). */
  switches = 0;

  constructor(o: VideoSwitcherOptions) {
    this.#o = o;
  }

  get current(): number | undefined {
    return this.#current;
  }

  get pending(): number | undefined {
    return this.#pending;
  }

  /** Shows the source on `ssrc` from its next keyframe on; undefined shows the placeholder at once. */
  want(ssrc: number | undefined): void {
    if (ssrc === undefined) {
      this.#pending = undefined;
      if (this.#current !== undefined) {
        this.#current = undefined;
        this.#o.onSwitched(undefined);
      }
      return;
    }
    this.#pending = ssrc === this.#current ? undefined : ssrc;
  }

  /** A source that is gone: it is not shown any more. */
  drop(ssrc: number): void {
    if (this.#pending === ssrc) this.#pending = undefined;
    if (this.#current === ssrc) {
      this.#current = undefined;
      this.#o.onSwitched(undefined);
    }
  }

  onPacket(packet: Buffer, h: RtpView): void {
    if (h.payloadLength === 0) return;
    const payload = packet.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength);
    if (h.ssrc === this.#pending && isVp8KeyframeStart(payload)) {
      this.#current = h.ssrc;
      this.#pending = undefined;
      // The new source's frames continue on the recording's clock from now.
      this.#offset = (this.#nextTs() - h.timestamp) >>> 0;
      this.switches++;
      this.#o.onSwitched(h.ssrc);
    }
    if (h.ssrc !== this.#current) return;
    this.#emit(payload, h.marker, (h.timestamp + this.#offset) >>> 0);
  }

  /** Called often (every 20 ms): sends the placeholder when nothing is shown. */
  tick(nowMs: number): void {
    if (this.#current !== undefined || nowMs - this.#lastPlaceholderAt < PLACEHOLDER_EVERY_MS) return;
    this.#lastPlaceholderAt = nowMs;
    const ts = this.#nextTs();
    const pieces = vp8Payloads(this.#o.placeholder);
    pieces.forEach((p, i) => this.#emit(p, i === pieces.length - 1, ts));
  }

  /** The clock now, never behind what was sent (timestamps must not go back). */
  #nextTs(): number {
    const now = this.#o.now90k() >>> 0;
    if (this.packets === 0) return now;
    return ((now - this.#lastTs) | 0) > 0 ? now : (this.#lastTs + 1) >>> 0;
  }

  #emit(payload: Buffer, marker: boolean, timestamp: number): void {
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#lastTs = timestamp;
    const packet = writeRtp({ payloadType: VIDEO_PAYLOAD_TYPE, marker, sequenceNumber: this.#seq, timestamp, ssrc: this.#o.ssrc }, payload);
    this.packets++;
    this.octets += payload.length;
    this.#o.send(packet);
  }
}
