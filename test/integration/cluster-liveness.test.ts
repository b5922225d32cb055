/** Liveness: who is alive, seen by another node through a real redis-server. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createClient } from 'redis';
import type { ClusterNode } from '../../server/src/cluster/ClusterNode.js';
import { keys } from '../../server/src/cluster/keys.js';
import { NodeIdInUseError, type NodeDownReason } from '../../server/src/cluster/Liveness.js';
import { nextEvent, spawnNodeProcess, startClusterNode } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startTcpProxy } from '../support/tcpProxy.js';

let redis: TestRedis;
let watcher: ClusterNode;

before(async () => {
  redis = await startRedis();
  watcher = await startClusterNode(redis.url, 'watcher');
});

after(async () => {
  await watcher?.close();
  await redis?.stop();
});

const spawnNode = (nodeId: string) => spawnNodeProcess(redis.url, nodeId);

type Down = [nodeId: string, reason: NodeDownReason];
const downOf = (node: ClusterNode, id: string) =>
  nextEvent<Down>(node.liveness, 'nodedown', (nodeId) => nodeId === id, 20_000);

test('a node process killed with SIGKILL is reported nodedown within 5 s', async (t) => {
  const up = nextEvent<[{ nodeId: string; url: string }]>(watcher.liveness, 'nodeup', (n) => n.nodeId === 'victim', 60_000);
  const { child, output } = spawnNode('victim');
  try {
    const [record] = await up.catch((error: Error) => assert.fail(`${error.message}\n${output()}`));
    assert.match(record.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const down = downOf(watcher, 'victim');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    const [, reason] = await down;
    const elapsed = Date.now() - killedAt;
    t.diagnostic(`nodedown ${elapsed} ms after SIGKILL`);
    assert.equal(reason, 'expired');
    assert.ok(elapsed <= 5000, `nodedown ${elapsed} ms after SIGKILL`);
    assert.equal(watcher.liveness.isAlive('victim'), false);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a node process stopped with SIGTERM leaves at once and exits 0', async (t) => {
  const up = nextEvent(watcher.liveness, 'nodeup', (n: { nodeId: string }) => n.nodeId === 'leaver', 60_000);
  const { child, output } = spawnNode('leaver');
  try {
    await up.catch((error: Error) => assert.fail(`${error.message}\n${output()}`));
    const down = downOf(watcher, 'leaver');
    const exited = once(child, 'exit');
    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    const [, reason] = await down;
    const elapsed = Date.now() - stoppedAt;
    t.diagnostic(`nodedown ${elapsed} ms after SIGTERM`);
    assert.equal(reason, 'left');
    assert.ok(elapsed < 1000, `nodedown ${elapsed} ms after SIGTERM`);
    const [code] = await exited;
    assert.equal(code, 0, output());
    // Its key went with it: a new node may take the id at once.
    const again = await startClusterNode(redis.url, 'leaver');
    await again.close();
  } finally {
    child.kill('SIGKILL');
  }
});

test('a 2 s Redis restart produces no false nodedown, though the nodes come back at different moments', async () => {
  // The survivor reaches Redis through a proxy that stays cut 1.5 s longer: the watcher is
  // back first and finds the survivor's key gone with the rest of Redis' data.
  const proxy = await startTcpProxy(redis.port);
  const other = await startClusterNode(`redis://127.0.0.1:${proxy.port}`, 'survivor');
  const downs: string[] = [];
  const onDown = (id: string) => downs.push(id);
  watcher.liveness.on('nodedown', onDown);
  other.liveness.on('nodedown', onDown);
  try {
    await eventually('they see each other', () => watcher.liveness.isAlive('survivor') && other.liveness.isAlive('watcher'));
    const reconnected = Promise.all([nextEvent(watcher.liveness, 'reconnected'), nextEvent(other.liveness, 'reconnected')]);
    proxy.block();
    await redis.restart(2000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    proxy.unblock();
    await reconnected;
    // Longer than a TTL plus a poll after the grace period: a false nodedown would have come.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.deepEqual(downs, []);
    assert.ok(watcher.liveness.isAlive('survivor') && other.liveness.isAlive('watcher'));
    const raw = createClient({ url: redis.url });
    raw.on('error', () => undefined);
    await raw.connect();
    assert.equal(await raw.exists([keys.node('watcher'), keys.node('survivor')]), 2);
    await raw.close();
  } finally {
    watcher.liveness.off('nodedown', onDown);
    await other.close();
    await proxy.close();
  }
});

test('a node that died during a Redis outage is reported once Redis is back', async () => {
  const doomed = await startClusterNode(redis.url, 'doomed');
  try {
    await eventually('watcher sees doomed', () => watcher.liveness.isAlive('doomed'));
    const down = downOf(watcher, 'doomed');
    await redis.kill();
    await doomed.close(); // cannot announce it: Redis is away
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await redis.start();
    const [, reason] = await down;
    assert.equal(reason, 'expired');
  } finally {
    await doomed.close();
  }
});

test('malformed node records are ignored; a NODE_ID already in use is refused', async () => {
  const raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
  try {
    const ups: string[] = [];
    const onUp = (n: { nodeId: string }) => ups.push(n.nodeId);
    watcher.liveness.on('nodeup', onUp);
    await raw.set(keys.node('garbage'), '{"nodeId":', { expiration: { type: 'PX', value: 5000 } });
    await raw.set(keys.node('impostor'), JSON.stringify({ nodeId: 'someone-else', incarnation: 'x', url: 'u', pipeAnnouncedIp: 'p', startedAt: 1 }));
    await raw.sAdd(keys.nodes, ['garbage', 'impostor', 'bad id with spaces']);
    await raw.publish(keys.nodeEvents, 'nonsense');
    await raw.publish(keys.nodeEvents, JSON.stringify({ type: 'left', nodeId: 'watcher' }));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    watcher.liveness.off('nodeup', onUp);
    assert.deepEqual(ups, []);
    assert.ok(watcher.liveness.isAlive('watcher'));

    const started = Date.now();
    await assert.rejects(startClusterNode(redis.url, 'watcher'), NodeIdInUseError);
    assert.ok(Date.now() - started < 6000);
  } finally {
    await raw.close();
  }
});
