import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JoinRequest, ProduceRequest, SERVER_EVENT_SCHEMAS } from '../../server/src/protocol/index.js';

test('room ids: letters, digits and _ . ~ - only', () => {
  assert.ok(JoinRequest.safeParse({ roomId: 'team-standup_2' }).success);
  assert.ok(JoinRequest.safeParse({ roomId: 'réunion' }).success);
  for (const roomId of ['', 'a b', '../etc', 'x'.repeat(65), 42, null]) {
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
});

test('server event schemas accept what the server sends', () => {
  assert.ok(SERVER_EVENT_SCHEMAS['activeSpeaker'].safeParse({ peerId: null }).success);
  assert.ok(SERVER_EVENT_SCHEMAS['chat:message'].safeParse({ id: 'm', peerId: 'p', displayName: 'A', text: 'hi', ts: 1 }).success);
  assert.equal(SERVER_EVENT_SCHEMAS['peer:left'].safeParse({}).success, false);
});
