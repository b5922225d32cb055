/**
 * Hostile and mistaken requests: every one gets a typed error, none crashes, hangs or
 * leaves objects behind, and the server keeps serving.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { eventually } from '../support/eventually.js';
import { connect, errorCode, rawAck, req, startTestServer } from '../support/server.js';
import { VP8_PARAMETERS } from '../support/rtp.js';

let noom: NoomServer;
let sock: ProtocolSocket;
before(async () => {
  noom = await startTestServer({ MAX_PEERS_PER_ROOM: '2', MAX_PRODUCERS_PER_PEER: '1', CHAT_RATE_PER_10S: '3' });
  sock = await connect(noom.url);
});
after(async () => {
  sock.close();
  await noom.close();
});

test('requests before joining are INVALID_STATE', async () => {
  for (const [name, payload] of [
    ['transport:create', { direction: 'send' }],
    ['chat:send', { text: 'hi' }],
    ['room:leave', {}],
    ['producer:pause', { producerId: 'x' }],
    ['peer:rename', { displayName: 'x' }],
  ] as const) {
    assert.equal(errorCode(await rawAck(sock, name, payload)), 'INVALID_STATE', name);
  }
});

test('malformed payloads are INVALID_REQUEST with the field named', async () => {
  const cases: [string, unknown][] = [
    ['room:join', {}],
    ['room:join', { roomId: 12 }],
    ['room:join', 'lobby'],
    ['room:join', null],
    ['room:join', { roomId: 'a/b/c' }],
    ['room:join', { roomId: 'ok', displayName: 'x'.repeat(500) }],
    ['transport:create', { direction: 'sideways' }],
    ['chat:send', { text: 42 }],
    ['consumer:setPreferredLayers', { consumerId: 'c', spatialLayer: -1 }],
  ];
  for (const [name, payload] of cases) {
    const res = (await rawAck(sock, name, payload)) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'INVALID_REQUEST', `${name} ${JSON.stringify(payload)}`);
    assert.ok(res.error.message.length > 0);
    assert.doesNotMatch(res.error.message, /at .*\.ts:\d+/, 'no stack traces');
  }
});

test('unknown events and requests without an ack neither crash nor hang the server', async () => {
  (sock.emit as (ev: string, ...a: unknown[]) => void)('no:such:event', { a: 1 });
  (sock.emit as (ev: string, ...a: unknown[]) => void)('room:join', { roomId: 'no-ack-room' });
  (sock.emit as (ev: string, ...a: unknown[]) => void)('chat:send');
  const res = await req(sock, 'rooms:list', {});
  assert.ok(Array.isArray(res.rooms));
  // A request the server does not know is answered, so a client waiting on it does not hang.
  const unknown = (await rawAck(sock, 'room:teleport', { roomId: 'x' })) as { ok: boolean; error: { message: string } };
  assert.equal(unknown.ok, false);
  assert.equal(errorCode(unknown), 'INVALID_REQUEST');
  assert.match(unknown.error.message, /unknown request "room:teleport"/);
  // The ack-less join still happens: the socket ends up in the room.
  await eventually('the ack-less join to land', () => noom.rooms.get('no-ack-room')?.peerCount === 1);
  const again = await rawAck(sock, 'room:join', { roomId: 'other' });
  assert.equal(errorCode(again), 'INVALID_STATE');
  await req(sock, 'room:leave', {});
});

test('unknown ids are NOT_FOUND, wrong directions and duplicates INVALID_STATE', async () => {
  await req(sock, 'room:join', { roomId: 'ids', displayName: 'Ida' });
  for (const [name, payload] of [
    ['transport:connect', { transportId: 'nope', dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }],
    ['transport:restartIce', { transportId: 'nope' }],
    ['producer:create', { transportId: 'nope', kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS }],
    ['producer:pause', { producerId: 'nope' }],
    ['producer:close', { producerId: 'nope' }],
    ['consumer:resume', { consumerId: 'nope' }],
    ['consumer:setPreferredLayers', { consumerId: 'nope', spatialLayer: 0 }],
  ] as const) {
    assert.equal(errorCode(await rawAck(sock, name, payload)), 'NOT_FOUND', name);
  }
  const recv = await req(sock, 'transport:create', { direction: 'recv' });
  assert.equal(
    errorCode(await rawAck(sock, 'producer:create', { transportId: recv.id, kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS })),
    'INVALID_STATE',
  );
  const send = await req(sock, 'transport:create', { direction: 'send' });
  assert.equal(
    errorCode(await rawAck(sock, 'consumer:create', { transportId: send.id, producerId: 'x', rtpCapabilities: {} })),
    'NOT_FOUND',
  );
  // mediasoup's own validation: a codec the router does not have.
  const h265 = { codecs: [{ mimeType: 'video/H265', payloadType: 100, clockRate: 90000 }], encodings: [{ ssrc: 5 }] };
  assert.equal(
    errorCode(await rawAck(sock, 'producer:create', { transportId: send.id, kind: 'video', source: 'camera', rtpParameters: h265 })),
    'INVALID_REQUEST',
  );
  await req(sock, 'producer:create', { transportId: send.id, kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS });
  // MAX_PRODUCERS_PER_PEER=1
  assert.equal(
    errorCode(await rawAck(sock, 'producer:create', { transportId: send.id, kind: 'video', source: 'screen', rtpParameters: { ...VP8_PARAMETERS, encodings: [{ ssrc: 9 }] } })),
    'FORBIDDEN',
  );
  const dtls = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] };
  await req(sock, 'transport:connect', { transportId: send.id, dtlsParameters: dtls as never });
  assert.equal(errorCode(await rawAck(sock, 'transport:connect', { transportId: send.id, dtlsParameters: dtls })), 'INVALID_STATE');
  await req(sock, 'room:leave', {});
});

test('full rooms are ROOM_FULL, locked rooms FORBIDDEN without the password', async () => {
  const [a, b, c] = await Promise.all([connect(noom.url), connect(noom.url), connect(noom.url)]);
  try {
    await req(a, 'room:join', { roomId: 'small', password: 'pw' });
    assert.equal(errorCode(await rawAck(b, 'room:join', { roomId: 'small' })), 'FORBIDDEN');
    assert.equal(errorCode(await rawAck(b, 'room:join', { roomId: 'small', password: 'wrong' })), 'FORBIDDEN');
    await req(b, 'room:join', { roomId: 'small', password: 'pw' });
    assert.equal(errorCode(await rawAck(c, 'room:join', { roomId: 'small', password: 'pw' })), 'ROOM_FULL');
    const { rooms } = await req(c, 'rooms:list', {});
    assert.deepEqual(rooms.find((r) => r.id === 'small'), { id: 'small', name: 'small', peerCount: 2, locked: true, maxPeers: 2 });
  } finally {
    for (const s of [a, b, c]) s.close();
  }
});

test('chat: empty and over-long messages are refused, floods are RATE_LIMITED', async () => {
  await req(sock, 'room:join', { roomId: 'chatty' });
  assert.equal(errorCode(await rawAck(sock, 'chat:send', { text: '   ' })), 'INVALID_REQUEST');
  assert.equal(errorCode(await rawAck(sock, 'chat:send', { text: 'x'.repeat(1001) })), 'INVALID_REQUEST');
  const results = [];
  for (let i = 0; i < 5; i++) results.push(errorCode(await rawAck(sock, 'chat:send', { text: `m${i}` })));
  assert.deepEqual(results, [undefined, undefined, undefined, 'RATE_LIMITED', 'RATE_LIMITED']);
  await req(sock, 'room:leave', {});
});

test('ICE restarts are RATE_LIMITED per transport beyond a burst of 4', async () => {
  await req(sock, 'room:join', { roomId: 'restless' });
  const send = await req(sock, 'transport:create', { direction: 'send' });
  const recv = await req(sock, 'transport:create', { direction: 'recv' });
  const results = [];
  for (let i = 0; i < 6; i++) results.push(errorCode(await rawAck(sock, 'transport:restartIce', { transportId: send.id })));
  assert.deepEqual(results, [undefined, undefined, undefined, undefined, 'RATE_LIMITED', 'RATE_LIMITED']);
  // Each transport has its own allowance.
  assert.equal(errorCode(await rawAck(sock, 'transport:restartIce', { transportId: recv.id })), undefined);
  await req(sock, 'room:leave', {});
});

test('after all of that the server is healthy', async () => {
  const res = await fetch(`${noom.url}/healthz`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { workers: { pid: number }[] };
  assert.equal(body.workers.length, 1);
  assert.equal((await req(sock, 'rooms:list', {})).rooms.length >= 0, true);
});
