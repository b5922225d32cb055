/** Room life over the real server: joins, leaves, names, chat, the live public list, cleanup. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { CHAT_HISTORY_SIZE, type ChatMessage } from '../../protocol/index.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { eventually } from '../support/eventually.js';
import { collect, connect, errorCode, rawAck, req, startTestServer, onlyRouter } from '../support/server.js';
import { OPUS_PARAMETERS, VP8_PARAMETERS, VP8_SIMULCAST_PARAMETERS } from '../support/rtp.js';

let noom: NoomServer;
const sockets: ProtocolSocket[] = [];
before(async () => {
  // The default coalescing window, so that a burst of joins on a busy machine still falls in one window.
  noom = await startTestServer({ CHAT_RATE_PER_10S: '1000', ROOMS_UPDATE_MS: '250' });
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

test('anonymous names, join and leave notices, rename seen by others', async () => {
  const [a, b] = [await open(), await open()];
  const ja = await req(a, 'room:join', { roomId: 'names' });
  assert.match(ja.displayName, /^\p{L}+ \p{L}+ \d+$/u);
  assert.deepEqual(ja.peers, []);
  const joined = collect(a, 'peer:joined');
  const updated = collect(a, 'peer:updated');
  const left = collect(a, 'peer:left');
  const jb = await req(b, 'room:join', { roomId: 'names', displayName: 'Bea' });
  assert.deepEqual(jb.peers, [{ id: ja.peerId, displayName: ja.displayName, role: 'moderator' }]);
  await eventually('peer:joined', () => joined.length === 1);
  assert.deepEqual(joined[0], { id: jb.peerId, displayName: 'Bea', role: 'participant' });
  await req(b, 'peer:rename', { displayName: 'Beatrix' });
  await eventually('peer:updated', () => updated.length === 1);
  assert.deepEqual(updated[0], { peerId: jb.peerId, displayName: 'Beatrix' });
  await req(b, 'room:leave', {});
  await eventually('peer:left', () => left.length === 1);
  assert.deepEqual(left[0], { peerId: jb.peerId });
});

test('chat reaches every peer in order with server ids and times; late joiners get the last 50', async () => {
  const [a, b, c] = [await open(), await open(), await open()];
  await req(a, 'room:join', { roomId: 'chat', displayName: 'Ann' });
  await req(b, 'room:join', { roomId: 'chat', displayName: 'Ben' });
  const atA = collect(a, 'chat:message');
  const atB = collect(b, 'chat:message');
  const before = Date.now();
  const sent: ChatMessage[] = [];
  for (let i = 0; i < 60; i++) sent.push((await req(i % 2 ? b : a, 'chat:send', { text: `  message ${i} ` })).message);
  await eventually('all 60 messages at both peers', () => atA.length === 60 && atB.length === 60);
  for (const seen of [atA, atB]) assert.deepEqual(seen.map((m) => m.text), sent.map((_, i) => `message ${i}`));
  assert.equal(new Set(sent.map((m) => m.id)).size, 60);
  assert.ok(sent.every((m, i) => m.ts >= before && (i === 0 || m.ts >= sent[i - 1]!.ts)));
  assert.deepEqual(sent[1]!.displayName, 'Ben');
  const late = await req(c, 'room:join', { roomId: 'chat' });
  assert.equal(late.chat.length, CHAT_HISTORY_SIZE);
  assert.deepEqual(late.chat.map((m) => m.text), sent.slice(-CHAT_HISTORY_SIZE).map((m) => m.text));
});

test('the lobby sees counts change live, and a burst of joins is one coalesced update', async () => {
  const lobby = await open();
  const updates = collect(lobby, 'rooms:update');
  const peers = await Promise.all(Array.from({ length: 5 }, () => open()));
  await Promise.all(peers.map((p) => req(p, 'room:join', { roomId: 'burst' })));
  await eventually('count 5', () => updates.some((u) => u.rooms.find((r) => r.id === 'burst')?.peerCount === 5));
  const withBurst = updates.filter((u) => u.rooms.some((r) => r.id === 'burst'));
  assert.ok(withBurst.length <= 2, `5 joins gave ${withBurst.length} updates`);
  const { rooms } = await req(lobby, 'rooms:list', {});
  assert.deepEqual(rooms.find((r) => r.id === 'burst'), { id: 'burst', name: 'burst', peerCount: 5, locked: false, maxPeers: 100 });

  await req(peers[0]!, 'room:leave', {});
  await eventually('count 4 after leave', () => updates.at(-1)?.rooms.find((r) => r.id === 'burst')?.peerCount === 4);
  peers[1]!.disconnect();
  await eventually('count 3 after disconnect', () => updates.at(-1)?.rooms.find((r) => r.id === 'burst')?.peerCount === 3);
  for (const p of peers.slice(2)) p.disconnect();
  await eventually('room gone from list', () => updates.at(-1)?.rooms.every((r) => r.id !== 'burst') === true);
});

test('room ids are read in their canonical form: the way a name is written picks no other room', async () => {
  const [a, b, c] = [await open(), await open(), await open()];
  const ja = await req(a, 'room:join', { roomId: 'Design Review', displayName: 'Ann' });
  assert.equal(ja.roomId, 'design-review', 'the answer names the room everyone shares');
  const jb = await req(b, 'room:join', { roomId: 'ＤＥＳＩＧＮ　ｒｅｖｉｅｗ', displayName: 'Ben' });
  assert.equal(jb.roomId, 'design-review');
  assert.deepEqual(jb.peers, [{ id: ja.peerId, displayName: 'Ann', role: 'moderator' }]);
  assert.equal(noom.rooms.get('design-review')?.peers.size, 2);
  // A look-alike is refused with the reason, not opened as a second room.
  const lookAlike = await rawAck(c, 'room:join', { roomId: 'dеsign-review' });
  assert.equal(errorCode(lookAlike), 'INVALID_REQUEST');
  assert.match(JSON.stringify(lookAlike), /cannot mix Latin and Cyrillic letters/);
  const { rooms } = await req(c, 'rooms:list', {});
  assert.deepEqual(rooms.filter((r) => r.id.includes('review')).map((r) => r.id), ['design-review']);
  await req(a, 'room:leave', {});
  await req(b, 'room:leave', {});
});

test('two people of one name are told apart, on joining and on renaming', async () => {
  const [a, b, c] = [await open(), await open(), await open()];
  const ja = await req(a, 'room:join', { roomId: 'twins', displayName: 'Alex' });
  const jb = await req(b, 'room:join', { roomId: 'twins', displayName: 'ALEX' });
  assert.equal(ja.displayName, 'Alex');
  assert.equal(jb.displayName, 'ALEX (2)', 'the join answer gives the name everyone sees');
  assert.deepEqual(jb.peers.map((p) => p.displayName), ['Alex']);
  const jc = await req(c, 'room:join', { roomId: 'twins', displayName: 'Casey' });
  const seenByRenamer = collect(c, 'peer:updated');
  const seenByA = collect(a, 'peer:updated');
  await req(c, 'peer:rename', { displayName: 'alex' });
  await eventually('the rename, told apart, to reach both', () => seenByRenamer.length === 1 && seenByA.length === 1);
  assert.deepEqual(seenByRenamer[0], { peerId: jc.peerId, displayName: 'alex (3)' });
  assert.deepEqual(seenByA[0], { peerId: jc.peerId, displayName: 'alex (3)' });
  for (const s of [a, b, c]) await req(s, 'room:leave', {});
});

test('private rooms stay out of the public list', async () => {
  const a = await open();
  await req(a, 'room:join', { roomId: 'secret-room', public: false });
  const { rooms } = await req(a, 'rooms:list', {});
  assert.equal(rooms.some((r) => r.id === 'secret-room'), false);
  await req(a, 'room:leave', {});
});

test('a peer that disconnects mid-negotiation leaves nothing in the router; the empty room closes', async () => {
  const [a, b] = [await open(), await open()];
  const loadBefore = noom.pool.slots[0]!.load;
  await req(a, 'room:join', { roomId: 'cleanup' });
  const jb = await req(b, 'room:join', { roomId: 'cleanup' });
  const room = noom.rooms.get('cleanup');
  assert.ok(room);
  const router = onlyRouter(room);
  const sendA = await req(a, 'transport:create', { direction: 'send' });
  await req(a, 'transport:create', { direction: 'recv' });
  const audio = await req(a, 'producer:create', { transportId: sendA.id, kind: 'audio', source: 'mic', rtpParameters: OPUS_PARAMETERS });
  await req(a, 'producer:create', { transportId: sendA.id, kind: 'video', source: 'camera', rtpParameters: VP8_SIMULCAST_PARAMETERS });
  const recvB = await req(b, 'transport:create', { direction: 'recv' });
  const consumer = await req(b, 'consumer:create', { transportId: recvB.id, producerId: audio.producerId, rtpCapabilities: jb.rtpCapabilities });
  assert.equal(consumer.producerPaused, false);
  const sendB = await req(b, 'transport:create', { direction: 'send' });
  await req(b, 'producer:create', { transportId: sendB.id, kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS });

  const closedAtB = collect(b, 'consumer:closed');
  const producersClosedAtB = collect(b, 'producer:closed');
  // A disconnects while its DTLS connect is still outstanding.
  void rawAck(a, 'transport:connect', { transportId: sendA.id, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB' }] } }).catch(() => undefined);
  a.disconnect();
  await eventually('B told about closed consumer and producers', () => closedAtB.length === 1 && producersClosedAtB.length === 2);
  assert.equal(closedAtB[0]!.producerId, audio.producerId);
  const dump = await router.dump();
  assert.equal(dump.transportIds.length, 2, 'only B transports remain');
  assert.equal(dump.mapProducerIdConsumerIds.length, 1, 'only B producer remains');
  assert.equal(dump.mapConsumerIdProducerId.length, 0, 'no consumers remain');

  b.disconnect();
  await eventually('emptied room closed after the grace period', () => room.closed && !noom.rooms.rooms.has('cleanup'));
  assert.equal(router.closed, true);
  assert.equal(noom.pool.slots[0]!.load, loadBefore, 'placement load released');
});

test('simulcast producers give simulcast consumers; pause, resume, layers and close are relayed', async () => {
  const [a, b] = [await open(), await open()];
  const ja = await req(a, 'room:join', { roomId: 'controls' });
  const jb = await req(b, 'room:join', { roomId: 'controls' });
  const sendA = await req(a, 'transport:create', { direction: 'send' });
  const recvB = await req(b, 'transport:create', { direction: 'recv' });
  const news = collect(b, 'producer:new');
  const paused = collect(b, 'producer:paused');
  const resumed = collect(b, 'producer:resumed');
  const closedProducers = collect(b, 'producer:closed');
  const closedConsumers = collect(b, 'consumer:closed');
  const { producerId } = await req(a, 'producer:create', {
    transportId: sendA.id,
    kind: 'video',
    source: 'camera',
    rtpParameters: VP8_SIMULCAST_PARAMETERS,
  });
  await eventually('producer:new at B', () => news.length === 1);
  assert.deepEqual(news[0], { producerId, peerId: ja.peerId, kind: 'video', source: 'camera', paused: false });
  const consumer = await req(b, 'consumer:create', { transportId: recvB.id, producerId, rtpCapabilities: jb.rtpCapabilities });
  assert.equal(consumer.type, 'simulcast');
  assert.equal(consumer.kind, 'video');
  assert.equal(consumer.source, 'camera');
  await req(b, 'consumer:setPreferredLayers', { consumerId: consumer.consumerId, spatialLayer: 1, temporalLayer: 2 });
  await req(b, 'consumer:resume', { consumerId: consumer.consumerId });
  await req(b, 'consumer:pause', { consumerId: consumer.consumerId });
  await req(a, 'producer:pause', { producerId });
  await eventually('producer:paused', () => paused.length === 1);
  await req(a, 'producer:resume', { producerId });
  await eventually('producer:resumed', () => resumed.length === 1);
  // The same source twice is refused; a screen share is its own producer.
  const again = await rawAck(a, 'producer:create', { transportId: sendA.id, kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS });
  assert.equal(errorCode(again), 'INVALID_STATE');
  const screen = await req(a, 'producer:create', { transportId: sendA.id, kind: 'video', source: 'screen', rtpParameters: VP8_PARAMETERS });
  await eventually('screen producer:new', () => news.some((n) => n.producerId === screen.producerId && n.source === 'screen'));
  await req(a, 'producer:close', { producerId });
  await eventually('producer:closed and consumer:closed at B', () => closedProducers.length === 1 && closedConsumers.length === 1);
  assert.deepEqual(closedConsumers[0], { consumerId: consumer.consumerId, producerId });
  assert.equal(errorCode(await rawAck(b, 'consumer:resume', { consumerId: consumer.consumerId })), 'NOT_FOUND');
  // A late joiner is told about the producers that remain.
  const c = await open();
  const jc = await req(c, 'room:join', { roomId: 'controls' });
  assert.deepEqual(jc.producers.map((p) => p.producerId), [screen.producerId]);
  // Closing one's own receive transport closes its consumers, and the client is told.
  const screenAtB = await req(b, 'consumer:create', { transportId: recvB.id, producerId: screen.producerId, rtpCapabilities: jb.rtpCapabilities });
  await req(b, 'transport:close', { transportId: recvB.id });
  await eventually('consumer:closed for the closed transport', () => closedConsumers.some((c) => c.consumerId === screenAtB.consumerId));
  assert.equal(errorCode(await rawAck(b, 'consumer:resume', { consumerId: screenAtB.consumerId })), 'NOT_FOUND');
  await req(a, 'transport:close', { transportId: sendA.id });
  await eventually('transport:close closes its producers', () => closedProducers.some((p) => p.producerId === screen.producerId));
});

test('when a worker dies its rooms close, peers are told, and rejoining lands on the replacement', async () => {
  const a = await open();
  await req(a, 'room:join', { roomId: 'doomed', displayName: 'Dee' });
  const closed = collect(a, 'room:closed');
  const oldPid = noom.pool.slots[0]!.worker.pid;
  process.kill(oldPid, 'SIGKILL');
  await eventually('room:closed', () => closed.length === 1);
  assert.deepEqual(closed[0], { reason: 'workerclose' });
  assert.equal(errorCode(await rawAck(a, 'chat:send', { text: 'anyone?' })), 'INVALID_STATE');
  await eventually('worker replaced', () => noom.pool.slots.length === 1 && noom.pool.slots[0]!.worker.pid !== oldPid);
  const again = await req(a, 'room:join', { roomId: 'doomed', displayName: 'Dee' });
  assert.equal(again.peers.length, 0);
  const health = (await (await fetch(`${noom.url}/healthz`)).json()) as { workers: { pid: number }[] };
  assert.notEqual(health.workers[0]!.pid, oldPid);
});

test('room events never overtake the join answer, even for simultaneous joins', async () => {
  for (let round = 0; round < 5; round++) {
    const socks = await Promise.all(Array.from({ length: 4 }, () => open()));
    const logs = socks.map((s) => {
      const log: string[] = [];
      s.on('peer:joined', () => log.push('peer:joined'));
      return log;
    });
    // The ack is logged in the callback itself: a promise would log it a microtask late.
    socks.forEach((s, i) => s.emit('room:join', { roomId: `together-${round}` }, () => logs[i]!.push('ack')));
    await eventually('every join answered', () => logs.every((l) => l.includes('ack')));
    const joinedSeen = () => logs.reduce((n, l) => n + l.filter((e) => e === 'peer:joined').length, 0);
    // The first of four hears of three, the next of two, and so on.
    await eventually('six peer:joined in all', () => joinedSeen() === 6);
    for (const log of logs) assert.equal(log.filter((e) => e === 'ack').length, 1);
    for (const log of logs) assert.equal(log[0], 'ack', log.join(','));
    for (const s of socks) s.disconnect();
  }
});
