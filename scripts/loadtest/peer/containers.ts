/**
 * Readers for the two containers ffmpeg writes for the clip: IVF (VP8 frames) and Ogg
 * (Opus packets). Both are tiny, fixed formats; a library for either would be larger than
 * the reader.
 */

export interface IvfFrame {
  /** Presentation time in the IVF timebase (frames, for a timebase of 1/fps). */
  pts: number;
  data: Buffer;
}

export interface IvfFile {
  width: number;
  height: number;
  timebaseDen: number;
  timebaseNum: number;
  frames: IvfFrame[];
}

export function parseIvf(buf: Buffer): IvfFile {
  if (buf.length < 32 || buf.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const headerLength = buf.readUInt16LE(6);
  const fourcc = buf.toString('ascii', 8, 12);
  if (fourcc !== 'VP80') throw new Error(`IVF codec ${fourcc}, expected VP80`);
  const file: IvfFile = {
    width: buf.readUInt16LE(12),
    height: buf.readUInt16LE(14),
    timebaseDen: buf.readUInt32LE(16),
    timebaseNum: buf.readUInt32LE(20),
    frames: [],
  };
  let at = headerLength;
  while (at + 12 <= buf.length) {
    const size = buf.readUInt32LE(at);
    const pts = Number(buf.readBigUInt64LE(at + 4));
    const start = at + 12;
    if (start + size > buf.length) throw new Error('truncated IVF frame');
    file.frames.push({ pts, data: buf.subarray(start, start + size) });
    at = start + size;
  }
  return file;
}

/**
 * Audio packets of the first logical stream of an Ogg file, without the two Opus header
 * packets (OpusHead, OpusTags).
 */
export function parseOggOpus(buf: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let at = 0;
  while (at + 27 <= buf.length) {
    if (buf.toString('ascii', at, at + 4) !== 'OggS') throw new Error(`bad Ogg page at ${at}`);
    const segments = buf[at + 26]!;
    const table = buf.subarray(at + 27, at + 27 + segments);
    let body = at + 27 + segments;
    for (const lacing of table) {
      partial.push(buf.subarray(body, body + lacing));
      body += lacing;
      // A lacing value below 255 ends a packet; 255 means it continues.
      if (lacing < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    at = body;
  }
  const audio = packets.filter((p) => {
    const magic = p.toString('ascii', 0, 8);
    return magic !== 'OpusHead' && magic !== 'OpusTags';
  });
  return audio;
}

/** VP8 payload header: the inverse key frame flag is bit 0 of the first byte (RFC 6386). */
export function isVp8KeyFrame(frame: Buffer): boolean {
  return frame.length > 0 && (frame[0]! & 0x01) === 0;
}
