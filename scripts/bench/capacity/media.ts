/**
 * Synthetic publisher media for the capacity benchmark: RTP packets that look like a
 * browser's VP8 camera and Opus microphone to the worker (valid RTP headers, RFC 7741 VP8
 * payload descriptors with a 15-bit PictureID, keyframe bits, marker on a frame's last
 * packet, 90 kHz / 48 kHz timestamps), with filler bytes instead of encoded pictures: the
 * worker forwards payloads without decoding them, so only sizes and headers matter.
 */
import { randomBytes } from 'node:crypto';
import { AUDIO_PAYLOAD_TYPE, RTP_HEADER_LENGTH, VIDEO_PAYLOAD_TYPE, VP8_DESCRIPTOR_LENGTH, rtpPacket } from '../../loadtest/peer/rtpPacketizer.js';

export { AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE };

export interface MediaShape {
  /** Video bitrate in bit/s between keyframes. */
  videoBitrate: number;
  videoFps: number;
  /** Largest video RTP packet, header included. */
  videoPacketBytes: number;
  /** A keyframe is this many times a delta frame. */
  keyframeScale: number;
  /** Opus: one packet per 20 ms; payload bytes per packet (80 ≈ 32 kbit/s). */
  audioPayloadBytes: number;
}

/** ~1 Mbit/s of 30 fps video in ~1,060-byte packets (120 packets/s) plus Opus at 50 packets/s. */
export const DEFAULT_SHAPE: MediaShape = {
  videoBitrate: 1_000_000,
  videoFps: 30,
  videoPacketBytes: 1_100,
  keyframeScale: 6,
  audioPayloadBytes: 100,
};

export const AUDIO_FRAME_MS = 20;
const FILLER = randomBytes(2_048);

/** One outgoing RTP stream: numbering and SSRC. */
export class RtpStream {
  #seq: number;
  #timestamp: number;
  packets = 0;
  bytes = 0;

  constructor(
    readonly ssrc: number,
    readonly payloadType: number,
  ) {
    this.#seq = Math.floor(Math.random() * 0x10000);
    this.#timestamp = Math.floor(Math.random() * 0x1_0000_0000);
  }

  /** Moves the RTP clock on by `ticks` (one frame). */
  advance(ticks: number): void {
    this.#timestamp = (this.#timestamp + ticks) >>> 0;
  }

  packet(payload: Buffer[], marker: boolean): Buffer {
    const out = rtpPacket({ payloadType: this.payloadType, marker, sequenceNumber: this.#seq, timestamp: this.#timestamp, payload });
    out.writeUInt32BE(this.ssrc, 8);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.packets++;
    this.bytes += out.length;
    return out;
  }

  get timestamp(): number {
    return this.#timestamp;
  }
}

/** VP8 frames cut into equal packets, numbered pictures, keyframes when asked for. */
export class Vp8Source {
  readonly stream: RtpStream;
  readonly #shape: MediaShape;
  #pictureId = Math.floor(Math.random() * 0x8000);
  keyframes = 0;

  constructor(ssrc: number, shape: MediaShape) {
    this.stream = new RtpStream(ssrc, VIDEO_PAYLOAD_TYPE);
    this.#shape = shape;
  }

  /** The packets of the next frame. */
  frame(keyframe: boolean): Buffer[] {
    const s = this.#shape;
    const deltaBytes = s.videoBitrate / 8 / s.videoFps;
    const frameBytes = Math.round(keyframe ? deltaBytes * s.keyframeScale : deltaBytes);
    const room = s.videoPacketBytes - RTP_HEADER_LENGTH - VP8_DESCRIPTOR_LENGTH;
    const count = Math.max(1, Math.ceil(frameBytes / room));
    const size = Math.ceil(frameBytes / count);
    const pid = this.#pictureId;
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
    if (keyframe) this.keyframes++;
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const start = i === 0;
      const descriptor = Buffer.from([0x80 | (start ? 0x10 : 0), 0x80, 0x80 | (pid >> 8), pid & 0xff]);
      const body = Buffer.from(FILLER.subarray(0, Math.min(size, frameBytes - i * size)));
      if (start) {
        // VP8 frame tag: bit 0 clear = keyframe (the bit mediasoup reads); show_frame set.
        body[0] = keyframe ? 0x10 : 0x11;
        if (keyframe && body.length >= 10) body.set([0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01], 3); // start code, 640×480
      }
      out.push(this.stream.packet([descriptor, body], i === count - 1));
    }
    this.stream.advance(Math.round(90_000 / s.videoFps));
    return out;
  }
}

/** One Opus packet per 20 ms. */
export class OpusSource {
  readonly stream: RtpStream;
  readonly #payload: Buffer;

  constructor(ssrc: number, shape: MediaShape) {
    this.stream = new RtpStream(ssrc, AUDIO_PAYLOAD_TYPE);
    // TOC byte: config 15 (hybrid fullband 20 ms), stereo, one frame; then filler.
    this.#payload = Buffer.concat([Buffer.from([0x7c]), FILLER.subarray(0, shape.audioPayloadBytes - 1)]);
  }

  frame(): Buffer {
    const p = this.stream.packet([this.#payload], false);
    this.stream.advance(48 * AUDIO_FRAME_MS);
    return p;
  }
}

/**
 * An RTCP sender report (RFC 3550 6.4.1) for a stream, as a browser sends about once a second.
 */
export function senderReport(stream: RtpStream): Buffer {
  const out = Buffer.alloc(28);
  out[0] = 0x80;
  out[1] = 200;
  out.writeUInt16BE(6, 2);
  out.writeUInt32BE(stream.ssrc, 4);
  const ms = Date.now() + 2_208_988_800_000; // NTP epoch
  out.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 8);
  out.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 0x1_0000_0000) >>> 0, 12);
  out.writeUInt32BE(stream.timestamp, 16);
  out.writeUInt32BE(stream.packets >>> 0, 20);
  out.writeUInt32BE(stream.bytes >>> 0, 24);
  return out;
}

/**
 * The media SSRCs a compound RTCP packet asks keyframes for: PLI (PT 206, FMT 1) and FIR
 * (PT 206, FMT 4). Anything malformed ends the walk.
 */
export function keyframeRequests(packet: Buffer): number[] {
  const ssrcs: number[] = [];
  let at = 0;
  while (at + 4 <= packet.length) {
    const fmt = packet[at]! & 0x1f;
    const pt = packet[at + 1]!;
    const length = (packet.readUInt16BE(at + 2) + 1) * 4;
    if ((packet[at]! & 0xc0) !== 0x80 || at + length > packet.length) break;
    if (pt === 206 && fmt === 1 && length >= 12) ssrcs.push(packet.readUInt32BE(at + 8));
    if (pt === 206 && fmt === 4 && length >= 20) ssrcs.push(packet.readUInt32BE(at + 12));
    at += length;
  }
  return ssrcs;
}
