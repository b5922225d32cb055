/**
 * A call over two nodes when things die: a node process SIGKILLed mid-call is cleaned up on
 * the survivor within 5 s (peers, producers, consumers, pipes, directory, counts), a node
 * stopped with SIGTERM leaves at once, and a Redis restart mid-call leaves the media
 * flowing and the signaling, the counts and the directory whole once Redis is back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createClient } from 'redis';
import type { NoomServer } from '../../server/src/app.js';
import type { RoomSummary } from '../../protocol/index.js';
import { keys } from '../../server/src/cluster/keys.js';
import { prepareMedia, SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { nextEvent, spawnNodeProcess } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { collect, req, startTestServer } from '../support/server.js';

let redis: TestRedis;
let a: NoomServer;
const peers: SyntheticPeer[] = [];
const children: ChildProcess[] = [];

before(async () => {
  await prepareMedia();
  redis = await startRedis();
  a = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'fail-a' });
});

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  for (const c of children) c.kill('SIGKILL');
  await a?.close();
  await redis?.stop();
});

const countOn = async (server: NoomServer, roomId: string): Promise<number | undefined> => {
  const { rooms } = (await (await fetch(`${server.url}/api/rooms`)).json()) as { rooms: RoomSummary[] };
  return rooms.find((r) => r.id === roomId)?.peerCount;
};
const packets = (p: SyntheticPeer) => p.consumerStats().reduce((n, c) => n + c.packets, 0);

/** Starts a node process and resolves with its URL once node A has seen it join. */
async function startNodeProcess(nodeId: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const up = nextEvent<[{ nodeId: string; url: string }]>(a.cluster!.liveness, 'nodeup', (n) => n.nodeId === nodeId, 60_000);
  const { child, output } = spawnNodeProcess(redis.url, nodeId);
  children.push(child);
  const [record] = await up.catch((error: Error) => assert.fail(`${error.message}\n${output()}`));
  return { child, url: record.url, output };
}

async function joinAlternately(roomId: string, urls: string[], names: string[]): Promise<SyntheticPeer[]> {
  const joined: SyntheticPeer[] = [];
  for (const [i, name] of names.entries()) {
    joined.push(await SyntheticPeer.join({ url: urls[i % urls.length]!, roomId, displayName: name, publish: { audio: true, video: true } }));
  }
  peers.push(...joined);
  await Promise.all(joined.map((p) => p.waitForMedia({ consumers: 2 * (names.length - 1), minPackets: 10, timeoutMs: 30_000 })));
  return joined;
}

test('a node SIGKILLed mid-call is cleaned up on the survivor within 5 s', async (t) => {
  const b = await startNodeProcess('fail-b');
  const [ann, ben, cat, dan] = await joinAlternately('doomed', [a.url, b.url], ['Ann', 'Ben', 'Cat', 'Dan']);
  const survivors = [ann!, cat!];
  const victims = [ben!, dan!];
  assert.equal(await countOn(a, 'doomed'), 4);
  const victimIds = new Set(victims.map((v) => v.peerId));
  const victimProducers = new Set(victims.flatMap((v) => v.producerIds()));
  const left = survivors.map((s) => collect(s.socket, 'peer:left'));
  const producersClosed = survivors.map((s) => collect(s.socket, 'producer:closed'));
  const consumersClosed = survivors.map((s) => collect(s.socket, 'consumer:closed'));
  const room = a.rooms.get('doomed')!;
  assert.equal(room.media.importCount, 4);

  const killedAt = Date.now();
  b.child.kill('SIGKILL');
  await eventually(
    'peer:left for both victims at both survivors',
    () => left.every((l) => victimIds.size === new Set(l.map((e) => e.peerId).filter((id) => victimIds.has(id))).size),
    Boolean,
    { timeoutMs: 10_000 },
  );
  const elapsed = Date.now() - killedAt;
  t.diagnostic(`survivors told ${elapsed} ms after SIGKILL`);
  assert.ok(elapsed <= 5000, `cleanup took ${elapsed} ms`);
  const ids = (events: { producerId: string }[]) => [...new Set(events.map((e) => e.producerId))].sort();
  for (const [i] of survivors.entries()) {
    assert.deepEqual(ids(producersClosed[i]!), [...victimProducers].sort());
    // Consumers close when the worker reports their producer gone, a moment after.
    await eventually(`consumer:closed for every victim producer at survivor ${i}`, () => ids(consumersClosed[i]!), (got) =>
      got.join() === [...victimProducers].sort().join(),
    );
  }
  // No ghost: not in the room's view, not piped, not in the directory, not counted.
  assert.equal(room.remote.peers.size, 0);
  assert.equal(room.remote.producers.size, 0);
  assert.equal(room.media.importCount, 0);
  await eventually('the count down to the survivors', async () => (await countOn(a, 'doomed')) === 2, Boolean, { timeoutMs: 3000 });
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const entries = [...Object.values(await client.hGetAll(keys.roomPeers('doomed'))), ...Object.values(await client.hGetAll(keys.roomProducers('doomed')))];
    assert.equal(entries.filter((e) => e.includes('"fail-b"')).length, 0, 'entries of the dead node left in Redis');
    assert.equal(entries.length, 2 + 4);
  } finally {
    await client.quit();
  }
  // The survivors still hear each other.
  const before = survivors.map(packets);
  await eventually('media between the survivors', () => survivors.every((s, i) => packets(s) > before[i]! + 20));
});

test('a node stopped with SIGTERM leaves at once: its peers are gone from the others within a second', async (t) => {
  const c = await startNodeProcess('fail-c');
  const joined = await joinAlternately('polite', [a.url, c.url], ['Eve', 'Fay']);
  const eve = joined[0]!;
  const left = collect(eve.socket, 'peer:left');
  const stoppedAt = Date.now();
  c.child.kill('SIGTERM');
  await eventually("Fay's departure at Eve", () => left.some((e) => e.peerId === joined[1]!.peerId), Boolean, { timeoutMs: 5000 });
  const elapsed = Date.now() - stoppedAt;
  t.diagnostic(`peer:left ${elapsed} ms after SIGTERM`);
  assert.ok(elapsed < 1500, `${elapsed} ms`);
  await eventually('counted 1', async () => (await countOn(a, 'polite')) === 1, Boolean, { timeoutMs: 3000 });
});

test('Redis restarted mid-call: media keeps flowing, then signaling, counts and the directory recover', async () => {
  const d = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'fail-d' });
  try {
    await eventually('the nodes see each other', () => a.cluster!.liveness.isAlive('fail-d'));
    const joined = await joinAlternately('sturdy', [a.url, d.url], ['Gus', 'Hal', 'Ivy']);
    const before = joined.map(packets);
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Media does not go through Redis: every peer still receives while it is away.
    assert.ok(joined.every((p, i) => packets(p) > before[i]! + 20), 'media stalled during the outage');
    await redis.start();
    // Redis came back empty: the nodes write their shares back.
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      await eventually(
        'every member and producer back in the directory',
        async () => [await client.hLen(keys.roomPeers('sturdy')), await client.hLen(keys.roomProducers('sturdy'))],
        ([members, producers]) => members === 3 && producers === 6,
        { timeoutMs: 10_000 },
      );
    } finally {
      await client.quit();
    }
    const chats = joined.map((p) => collect(p.socket, 'chat:message'));
    await eventually(
      'chat across nodes again',
      async () => {
        await req(joined[1]!.socket, 'chat:send', { text: 'still here' }).catch(() => undefined);
        return chats.every((c) => c.some((m) => m.text === 'still here'));
      },
      Boolean,
      { timeoutMs: 10_000 },
    );
    // No ghost and no one missing in any view after the re-sync.
    for (const server of [a, d]) {
      const room = server.rooms.get('sturdy')!;
      assert.equal(room.peerCount + room.remote.peers.size, 3);
      assert.equal(room.remote.producers.size, 2 * room.remote.peers.size);
    }
    const late = await SyntheticPeer.join({ url: d.url, roomId: 'sturdy', displayName: 'Joy' });
    peers.push(late);
    await late.waitForMedia({ consumers: 6, minPackets: 10, timeoutMs: 30_000 });
    // The directory counted the three written back, and the list on both nodes says so.
    for (const server of [a, d]) {
      await eventually(`4 in the list of ${server.cluster!.nodeId}`, async () => (await countOn(server, 'sturdy')) === 4, Boolean, { timeoutMs: 5000 });
    }
  } finally {
    await d.close();
  }
});

test('a node restarted at once under the same NODE_ID serves again, and its new members stay past the clean-up of its earlier run', async () => {
  const first = await startNodeProcess('fail-e');
  const [, ann] = await joinAlternately('phoenix', [first.url, a.url], ['Old', 'Ann']);
  first.child.kill('SIGKILL');
  // The new run waits for the id, then for the others to see the old run die, before it is ready.
  const again = await startNodeProcess('fail-e');
  await eventually('the new run ready', async () => (await fetch(`${again.url}/readyz`)).status === 200, Boolean, { timeoutMs: 15_000 });
  const left = collect(ann!.socket, 'peer:left');
  const fresh = await SyntheticPeer.join({ url: again.url, roomId: 'phoenix', displayName: 'New', publish: { audio: true, video: true } });
  peers.push(fresh);
  await fresh.waitForMedia({ consumers: 2, minPackets: 10, timeoutMs: 30_000 });
  await eventually("Ann receives the new run's member", () => ann!.consumerStats().filter((c) => c.peerId === fresh.peerId && c.packets > 10).length === 2);
  // Past every clean-up of the old run (TTL, polls, the periodic check): the new member stays.
  await new Promise((resolve) => setTimeout(resolve, 6000));
  assert.ok(!left.some((e) => e.peerId === fresh.peerId), 'the new member was reported gone');
  assert.ok(a.rooms.get('phoenix')!.remote.peers.has(fresh.peerId));
  assert.equal(await countOn(a, 'phoenix'), 2);
});
