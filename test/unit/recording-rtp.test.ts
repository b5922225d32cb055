/**
 * The recorder's RTP pieces on hand-made packets: VP8 keyframe detection (RFC 7741
 * descriptors with and without extensions), and the video switcher's one continuous stream
 * (sequence numbers without gaps, timestamps that never go back, a new source only from its
 * keyframe on).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVp8KeyframeStart, readRtp, senderReport, writeRtp } from '../../server/src/recording/rtp.js';
import { VideoSwitcher } from '../../server/src/recording/VideoSwitcher.js';

/** A VP8 payload: descriptor (S=1, partition 0, optional extensions) + the first byte of a frame. */
function vp8(keyframe: boolean, o: { start?: boolean; extended?: boolean } = {}): Buffer {
  const start = o.start ?? true;
  const frameByte = keyframe ? 0x10 : 0x11; // bit 0 clear: keyframe
  if (!o.extended) return Buffer.from([start ? 0x10 : 0x00, frameByte, 0, 0]);
  // X=1, then I (15-bit picture id), L (TL0PICIDX), T (TID)
  return Buffer.from([0x90 | (start ? 0 : 0), 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40, frameByte, 0, 0]);
}

const packet = (ssrc: number, seq: number, ts: number, payload: Buffer, marker = true) =>
  writeRtp({ payloadType: 101, marker, sequenceNumber: seq, timestamp: ts, ssrc }, payload);

test('VP8 keyframes are told from other frames, with and without descriptor extensions', () => {
  assert.equal(isVp8KeyframeStart(vp8(true)), true);
  assert.equal(isVp8KeyframeStart(vp8(false)), false);
  assert.equal(isVp8KeyframeStart(vp8(true, { extended: true })), true);
  assert.equal(isVp8KeyframeStart(vp8(false, { extended: true })), false);
  assert.equal(isVp8KeyframeStart(vp8(true, { start: false })), false, 'not the first packet of the frame');
  assert.equal(isVp8KeyframeStart(Buffer.alloc(0)), false);
});

test('RTP headers are read past CSRCs, extensions and padding; RTCP is not RTP', () => {
  const base = packet(0xabcdef01, 65535, 0xfffffff0, Buffer.from([1, 2, 3]));
  const h = readRtp(base)!;
  assert.deepEqual([h.ssrc, h.sequenceNumber, h.timestamp, h.payloadLength, h.marker], [0xabcdef01, 65535, 0xfffffff0, 3, true]);
  // One-byte header extension (4 bytes) and 2 bytes of padding.
  const ext = Buffer.concat([base.subarray(0, 12), Buffer.from([0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]), Buffer.from([9, 8, 0, 2])]);
  ext[0] = 0x80 | 0x10 | 0x20;
  const e = readRtp(ext)!;
  assert.equal(e.payloadOffset, 20);
  assert.equal(e.payloadLength, 2);
  assert.equal(readRtp(senderReport(1, Date.now(), 0, 0, 0)), undefined);
});

test('the switcher sends one gapless stream and takes a new source from its keyframe on', () => {
  const out: Buffer[] = [];
  const switched: (number | undefined)[] = [];
  let clock = 1000;
  const s = new VideoSwitcher({ ssrc: 77, now90k: () => clock, send: (p) => out.push(p), placeholder: Buffer.alloc(1500, 1), onSwitched: (x) => switched.push(x) });
  // Nothing shown: the placeholder (1500 bytes: two packets, one timestamp).
  s.tick(0);
  assert.equal(out.length, 2);
  s.want(1);
  s.onPacket(packet(1, 10, 5000, vp8(false)), readRtp(packet(1, 10, 5000, vp8(false)))!);
  assert.equal(out.length, 2, 'a delta frame of the new source is not sent');
  clock = 4000;
  for (const [seq, ts, key] of [[11, 8000, true], [12, 11000, false]] as const) {
    const p = packet(1, seq, ts, vp8(key));
    s.onPacket(p, readRtp(p)!);
  }
  assert.deepEqual(switched, [1]);
  s.tick(10_000);
  assert.equal(out.length, 4, 'no placeholder while a source is shown');
  // Source 2 asked for; source 1 goes on until 2's keyframe.
  s.want(2);
  const d1 = packet(1, 13, 14000, vp8(false));
  s.onPacket(d1, readRtp(d1)!);
  const foreign = packet(3, 1, 1, vp8(true));
  s.onPacket(foreign, readRtp(foreign)!);
  clock = 12_000;
  const k2 = packet(2, 500, 123, vp8(true));
  s.onPacket(k2, readRtp(k2)!);
  const late1 = packet(1, 14, 17000, vp8(false));
  s.onPacket(late1, readRtp(late1)!);
  assert.deepEqual(switched, [1, 2]);
  const headers = out.map((p) => readRtp(p)!);
  assert.ok(headers.every((h) => h.ssrc === 77));
  headers.slice(1).forEach((h, i) => assert.equal(h.sequenceNumber, (headers[i]!.sequenceNumber + 1) & 0xffff, 'no gap'));
  headers.slice(1).forEach((h, i) => assert.ok(((h.timestamp - headers[i]!.timestamp) | 0) >= 0, 'never back'));
  // Source 1's frames keep their spacing; source 2 starts at the clock.
  assert.equal(headers[3]!.timestamp - headers[2]!.timestamp, 3000);
  assert.equal(headers.at(-1)!.timestamp, 12_000);
  assert.equal(out.length, 6, 'source 3 and source 1 after the switch are not sent');
});
