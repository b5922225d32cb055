/**
 * The little RTP a recorder needs: reading the header of a packet mediasoup sends, writing
 * packets of its own, telling a VP8 keyframe, and RTCP sender reports (which let ffmpeg put
 * the audio and the video of one recording on one clock).
 */

export interface RtpView {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** Offset of the payload in the packet. */
  payloadOffset: number;
  /** Payload length, padding excluded. */
  payloadLength: number;
}

/** The header of an RTP packet; undefined for RTCP and anything that is not RTP version 2. */
export function readRtp(packet: Buffer): RtpView | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  const pt = packet[1]! & 0x7f;
  // RTCP shares the socket (rtcp-mux): its packet types 200-204 read as payload types 72-76.
  if (pt >= 72 && pt <= 76) return undefined;
  const csrcs = packet[0]! & 0x0f;
  let offset = 12 + csrcs * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
  if (end < offset) return undefined;
  return {
    payloadType: pt,
    marker: (packet[1]! & 0x80) !== 0,
    sequenceNumber: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payloadOffset: offset,
    payloadLength: end - offset,
  };
}

/** A new RTP packet (no extensions, no padding). */
export function writeRtp(h: { payloadType: number; marker: boolean; sequenceNumber: number; timestamp: number; ssrc: number }, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + payload.length);
  out[0] = 0x80;
  out[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out.writeUInt16BE(h.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(h.timestamp >>> 0, 4);
  out.writeUInt32BE(h.ssrc >>> 0, 8);
  payload.copy(out, 12);
  return out;
}

/**
 * Whether a VP8 RTP payload (RFC 7741) starts a keyframe: the first packet of partition 0
 * whose VP8 header has the inverse key frame bit clear.
 */
export function isVp8KeyframeStart(payload: Buffer): boolean {
  if (payload.length < 1) return false;
  const d = payload[0]!;
  const start = (d & 0x10) !== 0;
  const partition = d & 0x07;
  if (!start || partition !== 0) return false;
  let i = 1;
  if (d & 0x80) {
    if (payload.length < 2) return false;
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) i += payload[i]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID / KEYIDX
  }
  if (payload.length <= i) return false;
  return (payload[i]! & 0x01) === 0;
}

/** VP8 RTP payloads of one frame: a one-byte descriptor (S bit on the first) before each piece. */
export function vp8Payloads(frame: Buffer, maxPayload = 1100): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < frame.length; at += maxPayload) {
    const piece = frame.subarray(at, Math.min(frame.length, at + maxPayload));
    out.push(Buffer.concat([Buffer.from([at === 0 ? 0x10 : 0x00]), piece]));
  }
  return out;
}

const NTP_EPOCH_OFFSET_S = 2_208_988_800;

/** An RTCP sender report (no report blocks): wall clock `atMs` is RTP time `rtpTimestamp` on `ssrc`. */
export function senderReport(ssrc: number, atMs: number, rtpTimestamp: number, packets: number, octets: number): Buffer {
  const out = Buffer.alloc(28);
  out[0] = 0x80;
  out[1] = 200;
  out.writeUInt16BE(6, 2);
  out.writeUInt32BE(ssrc >>> 0, 4);
  const seconds = Math.floor(atMs / 1000);
  out.writeUInt32BE((seconds + NTP_EPOCH_OFFSET_S) >>> 0, 8);
  out.writeUInt32BE(Math.floor(((atMs % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  out.writeUInt32BE(rtpTimestamp >>> 0, 16);
  out.writeUInt32BE(packets >>> 0, 20);
  out.writeUInt32BE(octets >>> 0, 24);
  return out;
}
