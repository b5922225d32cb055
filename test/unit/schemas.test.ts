import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JoinRequest, ProduceRequest, SERVER_EVENT_SCHEMAS } from '../../protocol/index.js';
import { chatText } from '../../server/src/rooms/Room.js';

test('room ids: strings only (the naming rule itself is in room-names.test.ts)', () => {
  assert.ok(JoinRequest.safeParse({ roomId: 'team-standup_2' }).success);
  for (const roomId of [42, null, undefined, ['a'], 'x'.repeat(10_000)]) {
    assert.equal(JoinRequest.safeParse({ roomId }).success, false, String(roomId));
  }
});

test('display names are trimmed, bounded and free of control characters', () => {
  assert.equal(JoinRequest.parse({ roomId: 'r', displayName: '  Ada  ' }).displayName, 'Ada');
  assert.equal(JoinRequest.safeParse({ roomId: 'r', displayName: 'a\u0000b' }).success, false);
  assert.equal(JoinRequest.safeParse({ roomId: 'r', displayName: 'x'.repeat(41) }).success, false);
});

test('producer requests need a known kind and source and sane RTP parameters', () => {
  const base = { transportId: 't', kind: 'video', source: 'camera', rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }] } };
  assert.ok(ProduceRequest.safeParse(base).success);
  assert.equal(ProduceRequest.safeParse({ ...base, kind: 'data' }).success, false);
  assert.equal(ProduceRequest.safeParse({ ...base, source: 'webcam' }).success, false);
  assert.equal(ProduceRequest.safeParse({ ...base, rtpParameters: { codecs: [] } }).success, false);
  assert.equal(ProduceRequest.safeParse({ ...base, rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 300, clockRate: 90000 }] } }).success, false);
  // The kind, the codecs and the source agree.
  assert.equal(ProduceRequest.safeParse({ ...base, kind: 'audio', source: 'screen' }).success, false, 'audio kind, VP8 codec');
  assert.equal(ProduceRequest.safeParse({ ...base, source: 'mic' }).success, false, 'a video microphone');
  const opus = { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }] };
  assert.equal(ProduceRequest.safeParse({ ...base, rtpParameters: opus }).success, false, 'video kind, Opus codec');
  assert.ok(ProduceRequest.safeParse({ ...base, kind: 'audio', source: 'mic', rtpParameters: opus }).success);
  // Numbers the worker's wire format cannot hold never reach mediasoup.
  const withEncoding = (encoding: object) => ({ ...base, rtpParameters: { ...base.rtpParameters, encodings: [encoding] } });
  assert.ok(ProduceRequest.safeParse(withEncoding({ ssrc: 1234, maxBitrate: 500_000 })).success);
  assert.equal(ProduceRequest.safeParse(withEncoding({ maxBitrate: 0.5 })).success, false);
  assert.equal(ProduceRequest.safeParse(withEncoding({ ssrc: 2 ** 32 })).success, false);
  // Keys mediasoup does not know are dropped, not passed along.
  const parsed = ProduceRequest.parse(withEncoding({ ssrc: 1, maxFramerate: 'fast' }));
  assert.deepEqual(parsed.rtpParameters.encodings, [{ ssrc: 1 }]);
});

test('chat text is trimmed and loses control characters but keeps lines and tabs', () => {
  assert.equal(chatText('  hi\u0000\u001b[31m there\u007f  '), 'hi[31m there');
  assert.equal(chatText('line one\n\tline two'), 'line one\n\tline two');
  assert.throws(() => chatText('\u0000\u0001 '), /empty message/);
});

test('server event schemas accept what the server sends', () => {
  assert.ok(SERVER_EVENT_SCHEMAS['activeSpeaker'].safeParse({ peerId: null }).success);
  assert.ok(SERVER_EVENT_SCHEMAS['chat:message'].safeParse({ id: 'm', peerId: 'p', displayName: 'A', text: 'hi', ts: 1 }).success);
  assert.equal(SERVER_EVENT_SCHEMAS['peer:left'].safeParse({}).success, false);
  const draining = SERVER_EVENT_SCHEMAS['server:draining'];
  assert.ok(draining.safeParse({ deadline: 1_700_000_030_000, remainingMs: 30_000, otherNodes: 0 }).success);
  assert.equal(draining.safeParse({ deadline: 1_700_000_030_000, remainingMs: -1, otherNodes: 0 }).success, false);
  assert.equal(draining.safeParse({ deadline: 1_700_000_030_000, remainingMs: 30_000 }).success, false);
});
