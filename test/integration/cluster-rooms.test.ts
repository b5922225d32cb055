/**
 * One room over two nodes sharing a real redis-server: peers on either node see, hear and
 * chat with each other (RTP counted through the PipeTransports between the nodes), the
 * public list and its counts are the cluster's on every node, two nodes creating one room
 * at once make one room, and producer pause / close cross the pipe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { ChatMessage, RoomSummary } from '../../protocol/index.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { createClient } from 'redis';
import { keys } from '../../server/src/cluster/keys.js';
import { parsePrometheusText } from '../../scripts/loadtest/prometheus.js';
import { eventually } from '../support/eventually.js';
import { VP8_SIMULCAST_PARAMETERS } from '../support/rtp.js';
import { twoNodeCall } from '../support/cluster.js';
import type { TestRedis } from '../support/redis.js';
import { collect, errorCode, rawAck, req, startTestServer } from '../support/server.js';

let redis: TestRedis;
let a: NoomServer;
let b: NoomServer;
const { sockets, peers } = twoNodeCall('rooms', {}, (nodes) => ({ redis, a, b } = nodes));

const open = (server: NoomServer) => sockets.open(server.url);
/** Node's producers piped in and out, from its /metrics. */
async function pipesOf(server: NoomServer): Promise<[number | undefined, number | undefined]> {
  const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
  const pipes = (direction: string) => metrics.find((m) => m.name === 'noom_cluster_pipes' && m.labels.direction === direction)?.value;
  return [pipes('in'), pipes('out')];
}
const listed = (rooms: RoomSummary[], id: string) => rooms.find((r) => r.id === id);
const apiRooms = async (server: NoomServer): Promise<RoomSummary[]> =>
  ((await (await fetch(`${server.url}/api/rooms`)).json()) as { rooms: RoomSummary[] }).rooms;
const packets = (p: SyntheticPeer, producerId: string) =>
  p.consumerStats().filter((c) => c.producerId === producerId && !c.closed).reduce((n, c) => n + c.packets, 0);

test('peers on two nodes receive every other peer\'s audio and video through the pipes', async () => {
  const servers = [a, b, a, b];
  for (const [i, name] of ['Ann', 'Ben', 'Cat', 'Dan'].entries()) {
    peers.push(await SyntheticPeer.join({ url: servers[i]!.url, roomId: 'spanning', displayName: name, publish: { audio: true, video: true } }));
  }
  const producers = peers.flatMap((p) => p.producerIds().map((id) => ({ id, peerId: p.peerId })));
  assert.equal(producers.length, 8);
  await Promise.all(peers.map((p) => p.waitForMedia({ consumers: 6, minPackets: 20, timeoutMs: 30_000 })));
  for (const p of peers) {
    for (const producer of producers) {
      if (producer.peerId !== p.peerId) assert.ok(packets(p, producer.id) > 0, `${p.peerId} got nothing from ${producer.id}`);
    }
  }
  // One pipe per producer per node pair, whoever many consume it: each node imports the
  // other node's four producers once, though two of its peers consume each.
  assert.deepEqual(a.cluster && a.rooms.get('spanning')!.media.importCount, 4);
  assert.deepEqual(b.rooms.get('spanning')!.media.importCount, 4);

  // /metrics counts the pipes both ways and the nodes.
  const metrics = parsePrometheusText(await (await fetch(`${b.url}/metrics`)).text());
  const value = (name: string, direction?: string) =>
    metrics.find((m) => m.name === name && (direction === undefined || m.labels.direction === direction))?.value;
  assert.deepEqual([value('noom_cluster_pipes', 'in'), value('noom_cluster_pipes', 'out'), value('noom_cluster_nodes')], [4, 4, 2]);

  // Both nodes list the room with the cluster-wide count.
  for (const server of [a, b]) {
    await eventually(`the count of 4 on ${server.cluster!.nodeId}`, async () => listed(await apiRooms(server), 'spanning')?.peerCount === 4);
  }
});

test('a producer paused, resumed and closed on one node is followed on the other', async () => {
  const ann = peers[0]!;
  const ben = peers[1]!;
  const annVideo = ann.producerStats().find((s) => s.kind === 'video')!.producerId;
  const paused = collect(ben.socket, 'producer:paused');
  const closed = collect(ben.socket, 'consumer:closed');
  await req(ann.socket, 'producer:pause', { producerId: annVideo });
  await eventually('Ben told of the pause', () => paused.some((e) => e.producerId === annVideo));
  const imported = b.rooms.get('spanning')!.media.producers.get(annVideo)!;
  await eventually('the imported producer paused on node B', () => imported.producer.paused);
  await req(ann.socket, 'producer:resume', { producerId: annVideo });
  await eventually('resumed on node B', () => !imported.producer.paused);
  const before = packets(ben, annVideo);
  await eventually('media flows again after the resume', () => packets(ben, annVideo) > before + 10);
  await req(ann.socket, 'producer:close', { producerId: annVideo });
  await eventually("Ben's consumer of it closed", () => closed.some((e) => e.producerId === annVideo));
  await eventually('the pipe gone from node B', () => !b.rooms.get('spanning')!.media.producers.has(annVideo));
  assert.equal(b.rooms.get('spanning')!.media.importCount, 3);
});

test("a viewer joining on node B makes the publisher on node A send a keyframe: the request crosses the pipe", async () => {
  const cat = peers[2]!;
  const plis = () => cat.producerStats().find((s) => s.kind === 'video')!.plisReceived;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const before = plis();
  const viewer = await SyntheticPeer.join({ url: b.url, roomId: 'spanning', displayName: 'Viewer' });
  try {
    await viewer.waitForMedia({ consumers: 7, minPackets: 10, timeoutMs: 20_000 });
    await eventually("a PLI at Cat's camera on node A", plis, (n) => n > before);
  } finally {
    await viewer.close();
  }
});

test('chat from both nodes arrives in one order everywhere, and a newcomer gets the history', async () => {
  const got = peers.map((p) => collect(p.socket, 'chat:message'));
  const texts: string[] = [];
  for (let i = 0; i < 20; i++) {
    const from = peers[i % 4]!;
    texts.push(`m${i}`);
    void req(from.socket, 'chat:send', { text: `m${i}` });
  }
  await eventually('every message everywhere', () => got.every((g) => g.length === 20));
  const orders = got.map((g) => g.map((m: ChatMessage) => m.text).join(','));
  assert.equal(new Set(orders).size, 1, `orders differ: ${orders.join(' | ')}`);
  assert.deepEqual([...orders[0]!.split(',')].sort(), [...texts].sort());

  const late = await open(b);
  const joined = await req(late, 'room:join', { roomId: 'spanning', displayName: 'Late' });
  assert.equal(joined.peers.length, 4);
  assert.ok(joined.chat.filter((m) => /^m\d+$/.test(m.text)).length === 20, 'history from both nodes');
  await req(late, 'room:leave', {});
});

test('two nodes creating one room at once make one room, with one password and an exact count', async () => {
  const [s1, s2, s3, s4] = await Promise.all([open(a), open(b), open(a), open(b)]);
  const joins = await Promise.all([
    rawAck(s1!, 'room:join', { roomId: 'race', password: 'one', public: true }),
    rawAck(s2!, 'room:join', { roomId: 'race', password: 'two', public: true }),
  ]);
  const ok = joins.filter((r) => errorCode(r) === undefined);
  assert.equal(ok.length, 1, `one creator wins: ${JSON.stringify(joins)}`);
  assert.equal(errorCode(joins.find((r) => errorCode(r) !== undefined)), 'FORBIDDEN');
  const winner = joins[0] === ok[0] ? 'one' : 'two';
  const third = await rawAck(s3!, 'room:join', { roomId: 'race', password: winner });
  assert.equal(errorCode(third), undefined);
  const wrong = await rawAck(s4!, 'room:join', { roomId: 'race', password: winner === 'one' ? 'two' : 'one' });
  assert.equal(errorCode(wrong), 'FORBIDDEN');
  for (const server of [a, b]) {
    await eventually(`race counted 2 on ${server.cluster!.nodeId}`, async () => {
      const r = listed(await apiRooms(server), 'race');
      return r?.peerCount === 2 && r.locked;
    });
  }
});

test('a full room is full on every node', async () => {
  const small = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'rooms-c', MAX_PEERS_PER_ROOM: '2' });
  try {
    const s = await Promise.all([open(small), open(a), open(b)]);
    const results = [];
    for (const socket of s) results.push(errorCode(await rawAck(socket, 'room:join', { roomId: 'tiny' })));
    assert.deepEqual(results, [undefined, undefined, 'ROOM_FULL']);
  } finally {
    await small.close();
  }
});

test("a listener on one node hears the speaker of the other named as the room's active speaker", async () => {
  const speaker = await SyntheticPeer.join({ url: a.url, roomId: 'talk', displayName: 'Speaker', publish: { audio: true, video: false } });
  peers.push(speaker);
  const listener = await SyntheticPeer.join({ url: b.url, roomId: 'talk', displayName: 'Listener' });
  peers.push(listener);
  const heard = collect(listener.socket, 'activeSpeaker');
  await listener.waitForMedia({ consumers: 1, minPackets: 20, timeoutMs: 20_000 });
  // Node B's observer hears the imported audio: the only voice in the room is on node A.
  await eventually('node B names the speaker on node A', () => heard.some((e) => e.peerId === speaker.peerId));
});

test('malformed relays, chat publications and directory entries are dropped; the room carries on', async () => {
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const onA = await open(a);
    const onB = await open(b);
    await req(onA, 'room:join', { roomId: 'sturdy', displayName: 'Ann' });
    // Garbage where the directory keeps members and producers: skipped when read.
    await client.hSet(keys.roomPeers('sturdy'), { 'not-json': '{', 'wrong-shape': JSON.stringify({ displayName: 7 }) });
    await client.hSet(keys.roomProducers('sturdy'), { bogus: JSON.stringify({ peerId: 'x', kind: 'smell' }) });
    const joined = await req(onB, 'room:join', { roomId: 'sturdy', displayName: 'Ben' });
    assert.deepEqual(joined.peers.map((p) => p.displayName), ['Ann']);
    assert.equal(joined.producers.length, 0);
    // Garbage on the chat channel and the relay: dropped by every node.
    await client.publish(keys.chat, 'not json');
    await client.publish(keys.chat, JSON.stringify({ roomId: 'sturdy', message: { id: 1 } }));
    a.io.serverSideEmit('noom:room', { roomId: 'sturdy', event: 'peer:joined', payload: { id: 5 }, from: 'rooms-a' });
    a.io.serverSideEmit('noom:room', { roomId: 'sturdy', event: 'room:closed', payload: { reason: 'shutdown' }, from: 'rooms-a' });
    a.io.serverSideEmit('noom:room', 'nonsense');
    const got = collect(onB, 'chat:message');
    const joinedAtB = collect(onB, 'peer:joined');
    await req(onA, 'chat:send', { text: 'after the garbage' });
    await eventually('chat still crosses', () => got.map((m) => m.text), (texts) => texts.includes('after the garbage'));
    assert.equal(got.length, 1, JSON.stringify(got));
    assert.equal(joinedAtB.length, 0);
    assert.equal(b.rooms.get('sturdy')!.remote.peers.size, 1);
  } finally {
    await client.quit();
  }
});

test("consuming a producer its node no longer has is NOT_FOUND, and leaves no pipe behind", async () => {
  const viewer = await SyntheticPeer.join({ url: b.url, roomId: 'ghostly', displayName: 'Viewer' });
  try {
    await SyntheticPeer.join({ url: a.url, roomId: 'ghostly', displayName: 'Host' }).then((p) => peers.push(p));
    // Node A announces a producer it does not have (as if it closed while the news travelled).
    const ghost = { producerId: '00000000-0000-4000-8000-000000000000', peerId: peers.at(-1)!.peerId, kind: 'video', source: 'camera', paused: false };
    a.io.serverSideEmit('noom:room', { roomId: 'ghostly', event: 'producer:new', payload: ghost, from: 'rooms-a' });
    await eventually("the ghost in node B's view", () => b.rooms.get('ghostly')!.remote.producers.has(ghost.producerId));
    const transports = async (server: NoomServer) => (await server.rooms.get('ghostly')!.media.routers[0]!.router.dump()).transportIds.length;
    const transportId = (await req(viewer.socket, 'transport:create', { direction: 'recv' })).id;
    const before = { pipes: await pipesOf(b), transports: await transports(b) };
    const res = await rawAck(viewer.socket, 'consumer:create', {
      transportId,
      producerId: ghost.producerId,
      rtpCapabilities: b.rooms.get('ghostly')!.media.rtpCapabilities,
    });
    assert.equal(errorCode(res), 'NOT_FOUND', JSON.stringify(res));
    assert.equal(b.rooms.get('ghostly')!.media.importCount, 0);
    // The pipe transport node B opened for it is gone again.
    assert.deepEqual({ pipes: await pipesOf(b), transports: await transports(b) }, before);
  } finally {
    await viewer.close();
  }
});

test('dynacast across nodes: the publisher on node A is told the layer its viewer on node B watches', async () => {
  const [pub, far] = [await open(a), await open(b)];
  await req(pub, 'room:join', { roomId: 'dyna', displayName: 'Pub' });
  const demand = collect(pub, 'producer:demand');
  const send = await req(pub, 'transport:create', { direction: 'send' });
  const { producerId } = await req(pub, 'producer:create', {
    transportId: send.id,
    kind: 'video',
    source: 'camera',
    rtpParameters: VP8_SIMULCAST_PARAMETERS,
  });
  const last = () => demand.filter((d) => d.producerId === producerId).at(-1)?.maxSpatialLayer;
  await eventually('nobody watches: null', () => demand.length === 1 && last() === null);
  const joined = await req(far, 'room:join', { roomId: 'dyna', displayName: 'Far' });
  const recv = await req(far, 'transport:create', { direction: 'recv' });
  const consumer = await req(far, 'consumer:create', { transportId: recv.id, producerId, rtpCapabilities: joined.rtpCapabilities });
  await req(far, 'consumer:resume', { consumerId: consumer.consumerId });
  await eventually('the far viewer wants every layer', () => last() === 2);
  await req(far, 'consumer:setPreferredLayers', { consumerId: consumer.consumerId, spatialLayer: 0 });
  await eventually('a small tile on node B wants layer 0', () => last() === 0, Boolean, { timeoutMs: 10_000 });
  await req(far, 'consumer:close', { consumerId: consumer.consumerId });
  await eventually('nobody watches once the pipe is gone', () => last() === null, Boolean, { timeoutMs: 10_000 });
});

test('a rename on one node reaches the other, and a newcomer there gets the new name', async () => {
  const [ann, ben] = [peers[0]!, peers[1]!];
  const updated = collect(ben.socket, 'peer:updated');
  await req(ann.socket, 'peer:rename', { displayName: 'Annabel' });
  await eventually('the rename on node B', () => updated.some((u) => u.peerId === ann.peerId && u.displayName === 'Annabel'));
  const late = await open(b);
  const joined = await req(late, 'room:join', { roomId: 'spanning', displayName: 'Late' });
  assert.equal(joined.peers.find((p) => p.id === ann.peerId)?.displayName, 'Annabel');
  await req(late, 'room:leave', {});
});

test('a lost pause mirror is repaired by the periodic check: the piped-in end follows its owner again', async () => {
  const [ben, cat] = [peers[1]!, peers[2]!];
  const catVideo = cat.producerStats().find((s) => s.kind === 'video')!.producerId;
  const imported = b.rooms.get('spanning')!.media.producers.get(catVideo)!;
  assert.ok(imported.imported && !imported.producer.paused);
  // As if node A's "resumed" never arrived: node B's end is paused while Cat sends.
  await imported.producer.pause();
  const stalled = packets(ben, catVideo);
  await eventually('node B resumes its end within a check or two', () => !imported.producer.paused, Boolean, { timeoutMs: 12_000 });
  await eventually("Ben receives Cat's camera again", () => packets(ben, catVideo) > stalled + 10);
});
