/**
 * Two Noom servers sharing one real redis-server: room emits cross nodes through the
 * Socket.IO streams adapter, every node's public list is the cluster's, and /readyz follows
 * the node's link to Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { ChatMessage } from '../../protocol/index.js';
import { roomChannel } from '../../server/src/signaling/fanout.js';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { collect, req, socketTracker, startTestServer } from '../support/server.js';

let redis: TestRedis;
let a: NoomServer;
let b: NoomServer;
const sockets = socketTracker();

before(async () => {
  redis = await startRedis();
  a = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'sig-a' });
  b = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'sig-b' });
});

after(async () => {
  sockets.closeAll();
  await a?.close();
  await b?.close();
  await redis?.stop();
});

const open = (server: NoomServer) => sockets.open(server.url);

const message = (text: string): ChatMessage => ({ id: `m-${text}`, peerId: 'p-a', displayName: 'A', text, ts: Date.now() });

test('cluster mode is on: each server is a node that sees the other', async () => {
  assert.equal(a.cluster?.nodeId, 'sig-a');
  assert.equal(b.cluster?.nodeId, 'sig-b');
  await eventually('the nodes see each other', () => a.cluster!.liveness.isAlive('sig-b') && b.cluster!.liveness.isAlive('sig-a'));
});

test("a room emit on node A reaches the room's sockets on node B, and only them", async () => {
  const inRoom = await open(b);
  const elsewhere = await open(b);
  await req(inRoom, 'room:join', { roomId: 'shared' });
  await req(elsewhere, 'room:join', { roomId: 'other' });
  const got = collect(inRoom, 'chat:message');
  const notGot = collect(elsewhere, 'chat:message');

  a.io.to(roomChannel('shared')).emit('chat:message', message('hello from A'));
  await eventually('the emit from A on B', () => got.length === 1);
  assert.equal(got[0]!.text, 'hello from A');
  // Sockets of node B are visible from node A through the adapter.
  const remote = await a.io.in(roomChannel('shared')).fetchSockets();
  assert.deepEqual(remote.map((s) => s.id), [inRoom.id]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(notGot.length, 0);
});

test('chat sent by a member on node A reaches a member of the same room id on node B', async () => {
  const onA = await open(a);
  const onB = await open(b);
  await req(onA, 'room:join', { roomId: 'chat', displayName: 'Ann' });
  await req(onB, 'room:join', { roomId: 'chat', displayName: 'Bob' });
  const got = collect(onB, 'chat:message');
  await req(onA, 'chat:send', { text: 'across nodes' });
  await eventually('chat on B', () => got.some((m) => m.text === 'across nodes' && m.displayName === 'Ann'));
});

test("every node's rooms:update and rooms:list carry the whole cluster's rooms with cluster-wide counts", async () => {
  const watcherOnB = await open(b);
  const updates = collect(watcherOnB, 'rooms:update');
  const onA = await open(a);
  await req(onA, 'room:join', { roomId: 'only-on-a' });
  const alsoOnA = await open(a);
  await req(alsoOnA, 'room:join', { roomId: 'both' });
  const onB = await open(b);
  await req(onB, 'room:join', { roomId: 'both' });
  const count = (u: { rooms: { id: string; peerCount: number }[] }, id: string) => u.rooms.find((r) => r.id === id)?.peerCount;
  await eventually('B lists A\'s room and the shared one with two', () =>
    updates.some((u) => count(u, 'only-on-a') === 1 && count(u, 'both') === 2),
  );
  const listed = await req(watcherOnB, 'rooms:list', {});
  assert.equal(count(listed, 'both'), 2);
  await req(onB, 'room:leave', {});
  await eventually('the count follows a leave on the other node', () => count(updates.at(-1)!, 'both') === 1);
});

test('/readyz is 503 while the node cannot reach Redis (/healthz stays 200); emits cross again once it is back', async () => {
  assert.equal((await fetch(`${a.url}/readyz`)).status, 200);
  await redis.kill();
  try {
    await eventually('not ready', async () => (await fetch(`${a.url}/readyz`)).status, (s) => s === 503);
    assert.equal((await fetch(`${a.url}/healthz`)).status, 200);
  } finally {
    await redis.start();
  }
  await eventually('ready again', async () => (await fetch(`${a.url}/readyz`)).status, (s) => s === 200);
  await eventually('ready again on B', async () => (await fetch(`${b.url}/readyz`)).status, (s) => s === 200);

  const inRoom = await open(b);
  await req(inRoom, 'room:join', { roomId: 'after-outage' });
  const got = collect(inRoom, 'chat:message');
  // The adapters' readers resume on their own; the first emits may race that.
  await eventually(
    'an emit from A on B after the outage',
    () => {
      a.io.to(roomChannel('after-outage')).emit('chat:message', message('back'));
      return got.length > 0;
    },
    Boolean,
    { timeoutMs: 15_000, intervalMs: 500 },
  );
});
