/**
 * Turns encoded VP8 frames and Opus packets into RTP packets (RFC 3550) once, so that
 * replaying costs a header rewrite per packet and nothing else.
 *
 * Packets are stored with SSRC 0, sequence numbers and timestamps counted from 0; the
 * replayer rewrites those four header fields for each producer.
 */

export const RTP_HEADER_LENGTH = 12;
/** Payload bytes per VP8 packet: leaves room for header extensions and SRTP under 1200. */
const VP8_MAX_PAYLOAD = 1100;
/** X=1, I=1, M=1: a 15-bit PictureID follows, as browsers send it. */
export const VP8_DESCRIPTOR_LENGTH = 4;

export const VIDEO_PAYLOAD_TYPE = 96;
export const AUDIO_PAYLOAD_TYPE = 111;

export function rtpPacket(opts: {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  payload: Buffer[];
}): Buffer {
  const length = opts.payload.reduce((n, b) => n + b.length, RTP_HEADER_LENGTH);
  const out = Buffer.alloc(length);
  out[0] = 0x80;
  out[1] = (opts.marker ? 0x80 : 0) | (opts.payloadType & 0x7f);
  out.writeUInt16BE(opts.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(opts.timestamp >>> 0, 4);
  out.writeUInt32BE(0, 8);
  let at = RTP_HEADER_LENGTH;
  for (const b of opts.payload) {
    b.copy(out, at);
    at += b.length;
  }
  return out;
}

/**
 * RFC 7741 payload descriptor. The PictureID is left 0 here; the replayer numbers pictures
 * as it sends them, so it stays continuous across loops and keyframe jumps.
 */
function vp8Descriptor(start: boolean): Buffer {
  return Buffer.from([0x80 | (start ? 0x10 : 0), 0x80, 0x80, 0x00]);
}

export function packetizeVp8Frame(frame: Buffer, timestamp: number, firstSeq: number): Buffer[] {
  const count = Math.max(1, Math.ceil(frame.length / VP8_MAX_PAYLOAD));
  // Equal-sized fragments rather than full ones plus a runt: fewer tiny packets.
  const size = Math.ceil(frame.length / count);
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    packets.push(
      rtpPacket({
        payloadType: VIDEO_PAYLOAD_TYPE,
        marker: i === count - 1,
        sequenceNumber: firstSeq + i,
        timestamp,
        payload: [vp8Descriptor(i === 0), frame.subarray(i * size, Math.min(frame.length, (i + 1) * size))],
      }),
    );
  }
  return packets;
}

/** Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716 section 3.1). */
export function opusPacketSamples(packet: Buffer): number {
  const toc = packet[0] ?? 0;
  const config = toc >> 3;
  let frameMs: number;
  if (config < 12) frameMs = [10, 20, 40, 60][config % 4]!;
  else if (config < 16) frameMs = [10, 20][config % 2]!;
  else frameMs = [2.5, 5, 10, 20][config % 4]!;
  const code = toc & 0x03;
  const frames = code === 0 ? 1 : code === 3 ? (packet[1] ?? 0) & 0x3f : 2;
  return Math.round(frameMs * 48 * frames);
}
