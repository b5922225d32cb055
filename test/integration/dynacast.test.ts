/**
 * Dynacast through the real server: a publisher hears the highest simulcast layer that its
 * viewers watch, counted over the room's routers on two workers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { eventually } from '../support/eventually.js';
import { collect, connect, req, startTestServer } from '../support/server.js';
import { VP8_SIMULCAST_PARAMETERS } from '../support/rtp.js';

let noom: NoomServer;
const sockets: ProtocolSocket[] = [];
before(async () => {
  noom = await startTestServer({ WORKERS: '2', ROOM_PEERS_PER_ROUTER: '1', DYNACAST_HOLD_MS: '150' });
});
after(async () => {
  for (const s of sockets) s.close();
  await noom.close();
});
const open = async () => {
  const s = await connect(noom.url);
  sockets.push(s);
  return s;
};

test('a publisher is told which layers are watched, by viewers on either router', async () => {
  const [a, b, c] = [await open(), await open(), await open()];
  const ja = await req(a, 'room:join', { roomId: 'dyna', displayName: 'Pub' });
  const demand = collect(a, 'producer:demand');
  const sendA = await req(a, 'transport:create', { direction: 'send' });
  const { producerId } = await req(a, 'producer:create', {
    transportId: sendA.id,
    kind: 'video',
    source: 'camera',
    rtpParameters: VP8_SIMULCAST_PARAMETERS,
  });
  const last = () => demand.filter((d) => d.producerId === producerId).at(-1)?.maxSpatialLayer;
  await eventually('nobody watches: null', () => demand.length === 1);
  assert.deepEqual(demand[0], { producerId, maxSpatialLayer: null });

  const jb = await req(b, 'room:join', { roomId: 'dyna', displayName: 'Far' });
  const room = noom.rooms.get('dyna')!;
  const slot = (peerId: string) => room.peers.get(peerId)!.slotIndex;
  assert.notEqual(slot(jb.peerId), slot(ja.peerId), 'the viewer is on the other worker');
  const recvB = await req(b, 'transport:create', { direction: 'recv' });
  const cb = await req(b, 'consumer:create', { transportId: recvB.id, producerId, rtpCapabilities: jb.rtpCapabilities });
  await req(b, 'consumer:resume', { consumerId: cb.consumerId });
  await eventually('a far viewer wants every layer', () => last() === 2);
  await req(b, 'consumer:setPreferredLayers', { consumerId: cb.consumerId, spatialLayer: 0 });
  await eventually('a small tile wants layer 0', () => last() === 0);

  // A second viewer, wherever it lands, raises the demand at once.
  const jc = await req(c, 'room:join', { roomId: 'dyna', displayName: 'Near' });
  const recvC = await req(c, 'transport:create', { direction: 'recv' });
  const cc = await req(c, 'consumer:create', { transportId: recvC.id, producerId, rtpCapabilities: jc.rtpCapabilities });
  await req(c, 'consumer:setPreferredLayers', { consumerId: cc.consumerId, spatialLayer: 1 });
  await req(c, 'consumer:resume', { consumerId: cc.consumerId });
  await eventually('the larger tile counts', () => last() === 1);

  // Paused or gone viewers watch nothing.
  await req(c, 'consumer:pause', { consumerId: cc.consumerId });
  await eventually('back to the small tile', () => last() === 0);
  await req(b, 'consumer:close', { consumerId: cb.consumerId });
  await eventually('nobody watches again', () => last() === null);
  assert.deepEqual(
    demand.map((d) => d.maxSpatialLayer),
    [null, 2, 0, 1, 0, null],
    'each change said once, in order',
  );
});
