/**
 * Per-peer limits hold against a client that sends its requests without waiting for the
 * answers: the places are taken before the worker is asked, so a burst of requests in one
 * tick gets exactly as many successes as the limit allows. The worker's own view of the
 * router (its dump) is checked, not only the answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { errorCode, onlyRouter, rawAck, refusalOf, req, socketTracker, startTestServer } from '../support/server.js';
import { OPUS_PARAMETERS, VP8_PARAMETERS } from '../support/rtp.js';

let noom: NoomServer;
const sockets = socketTracker();
before(async () => {
  // maxConsumers = MAX_PEERS_PER_ROOM × MAX_PRODUCERS_PER_PEER = 4.
  noom = await startTestServer({ MAX_PEERS_PER_ROOM: '2', MAX_PRODUCERS_PER_PEER: '2' });
});
after(async () => {
  sockets.closeAll();
  await noom.close();
});

/** Sends every request in the same tick and waits for all the answers. */
async function burst(socket: ProtocolSocket, name: string, payloads: unknown[]): Promise<unknown[]> {
  return Promise.all(payloads.map((p) => rawAck(socket, name, p)));
}
const ownSsrc = (p: typeof OPUS_PARAMETERS, i: number) => ({ ...p, encodings: [{ ssrc: 1000 + i }] });
const oks = (answers: unknown[]) => answers.filter((a) => (a as { ok: boolean }).ok);

async function routerView(roomId: string) {
  const room = noom.rooms.get(roomId);
  assert.ok(room, `room ${roomId} exists`);
  const dump = await onlyRouter(room).dump();
  return {
    transports: dump.transportIds.length,
    producers: dump.mapProducerIdConsumerIds.length,
    consumersOf: (producerId: string) => dump.mapProducerIdConsumerIds.find((e) => e.key === producerId)?.values.length ?? 0,
    consumers: dump.mapProducerIdConsumerIds.reduce((n, e) => n + e.values.length, 0),
  };
}

test('200 transport:create sent at once: 4 transports (the per-peer limit), the rest FORBIDDEN', async () => {
  const s = await sockets.open(noom.url);
  await req(s, 'room:join', { roomId: 'race-transports' });
  const answers = await burst(s, 'transport:create', Array.from({ length: 200 }, (_, i) => ({ direction: i % 2 ? 'send' : 'recv' })));
  assert.equal(oks(answers).length, 4);
  assert.ok(answers.filter((a) => !(a as { ok: boolean }).ok).every((a) => refusalOf(a) === 'FORBIDDEN/limit'));
  assert.equal((await routerView('race-transports')).transports, 4);
});

test('50 mic producers sent at once: one; camera, mic and screen at once: at most MAX_PRODUCERS_PER_PEER', async () => {
  const s = await sockets.open(noom.url);
  await req(s, 'room:join', { roomId: 'race-producers' });
  const send = await req(s, 'transport:create', { direction: 'send' });
  // Each with SSRCs of its own, so that the worker itself would take them all.
  const mics = await burst(
    s,
    'producer:create',
    Array.from({ length: 50 }, (_, i) => ({ transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: ownSsrc(OPUS_PARAMETERS, i) })),
  );
  assert.equal(oks(mics).length, 1);
  assert.equal((await routerView('race-producers')).producers, 1);

  const s2 = await sockets.open(noom.url);
  await req(s2, 'room:join', { roomId: 'race-producers-2' });
  const send2 = await req(s2, 'transport:create', { direction: 'send' });
  const kinds = [
    { kind: 'audio', source: 'mic', rtpParameters: OPUS_PARAMETERS },
    { kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS },
    { kind: 'video', source: 'screen', rtpParameters: VP8_PARAMETERS },
    { kind: 'audio', source: 'screen', rtpParameters: OPUS_PARAMETERS },
  ];
  const mixed = await burst(
    s2,
    'producer:create',
    Array.from({ length: 40 }, (_, i) => ({ transportId: send2.id, ...kinds[i % 4], rtpParameters: ownSsrc(kinds[i % 4]!.rtpParameters, i) })),
  );
  assert.equal(oks(mixed).length, 2);
  assert.equal((await routerView('race-producers-2')).producers, 2);
});

test('consumers sent at once: one per producer per transport, at most the per-peer limit in all', async () => {
  const pub = await sockets.open(noom.url);
  const joined = await req(pub, 'room:join', { roomId: 'race-consumers' });
  const send = await req(pub, 'transport:create', { direction: 'send' });
  const { producerId: audio } = await req(pub, 'producer:create', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: OPUS_PARAMETERS });
  const { producerId: video } = await req(pub, 'producer:create', { transportId: send.id, kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS });

  const viewer = await sockets.open(noom.url);
  await req(viewer, 'room:join', { roomId: 'race-consumers' });
  const recv1 = await req(viewer, 'transport:create', { direction: 'recv' });
  const consume = (transportId: string, producerId: string) => ({ transportId, producerId, rtpCapabilities: joined.rtpCapabilities });

  // The same producer 100 times on one transport: one consumer.
  const same = await burst(viewer, 'consumer:create', Array.from({ length: 100 }, () => consume(recv1.id, video)));
  assert.equal(oks(same).length, 1);
  assert.ok(same.filter((a) => !(a as { ok: boolean }).ok).every((a) => errorCode(a) === 'INVALID_STATE'));
  assert.equal((await routerView('race-consumers')).consumersOf(video), 1);
  // Asked again later, still refused; once closed, it may be consumed again.
  assert.equal(errorCode(await rawAck(viewer, 'consumer:create', consume(recv1.id, video))), 'INVALID_STATE');
  const { consumerId } = (same.find((a) => (a as { ok: boolean }).ok) as { data: { consumerId: string } }).data;
  await req(viewer, 'consumer:close', { consumerId });
  await req(viewer, 'consumer:create', consume(recv1.id, video));

  // 3 transports × 2 producers = 6 distinct pairs, each asked 20 times at once: 4 consumers (the limit).
  const recv2 = await req(viewer, 'transport:create', { direction: 'recv' });
  const recv3 = await req(viewer, 'transport:create', { direction: 'recv' });
  const pairs = [recv1, recv2, recv3].flatMap((t) => [audio, video].map((p) => consume(t.id, p)));
  const many = await burst(viewer, 'consumer:create', Array.from({ length: 120 }, (_, i) => pairs[i % pairs.length]));
  assert.equal(oks(many).length, 3, 'one consumer existed already: 3 more reach the limit of 4');
  const view = await routerView('race-consumers');
  assert.equal(view.consumers, 4);
  assert.ok(view.consumersOf(video) <= 3 && view.consumersOf(audio) <= 3);
});

test('codec parameters are bounded in key count and size', async () => {
  const s = await sockets.open(noom.url);
  await req(s, 'room:join', { roomId: 'race-bodies' });
  const send = await req(s, 'transport:create', { direction: 'send' });
  const withParameters = (parameters: Record<string, unknown>) => ({
    transportId: send.id,
    kind: 'audio',
    source: 'mic',
    rtpParameters: { ...OPUS_PARAMETERS, codecs: [{ ...OPUS_PARAMETERS.codecs[0], parameters }] },
  });
  // 3,000 keys: far over the bound, under the 64 KiB frame limit (a larger frame closes the connection).
  const wide = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}`, 1]));
  const long = { 'sprop-stereo': 'x'.repeat(1000) };
  for (const bad of [wide, long]) {
    assert.equal(errorCode(await rawAck(s, 'producer:create', withParameters(bad))), 'INVALID_REQUEST');
  }
  const manyEncodings = { ...withParameters({ useinbandfec: 1 }), rtpParameters: { ...OPUS_PARAMETERS, encodings: Array.from({ length: 9 }, (_, i) => ({ ssrc: i + 1 })) } };
  assert.equal(errorCode(await rawAck(s, 'producer:create', manyEncodings)), 'INVALID_REQUEST');
  assert.equal((await rawAck(s, 'producer:create', withParameters({ useinbandfec: 1, stereo: 1 })) as { ok: boolean }).ok, true);
});
