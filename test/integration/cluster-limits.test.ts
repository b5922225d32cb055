/**
 * Abuse limits over two nodes sharing a real redis-server: a client address has one
 * allowance for the whole cluster, whichever node its connections reach, and each node
 * still limits on its own while Redis is away.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { createClient } from 'redis';
import { eventually } from '../support/eventually.js';
import { startTwoNodes, type TwoNodes } from '../support/cluster.js';
import type { TestRedis } from '../support/redis.js';
import { errorCode, rawAck, socketTracker } from '../support/server.js';

let nodes: TwoNodes;
let redis: TestRedis;
let a: NoomServer;
let b: NoomServer;
const sockets = socketTracker();
const LIMITS = { RATE_LIMIT_EXEMPT: '', JOINS_PER_MIN: '4', INVALID_REQUESTS_PER_10S: '5' };

before(async () => {
  nodes = await startTwoNodes('lim', LIMITS);
  ({ redis, a, b } = nodes);
});

after(async () => {
  sockets.closeAll();
  await nodes?.close();
});

/** One join on a new connection to `server`, as a client hopping between nodes. */
async function joinOnce(server: NoomServer, roomId: string): Promise<string | undefined> {
  const s = await sockets.open(server.url);
  try {
    return errorCode(await rawAck(s, 'room:join', { roomId, displayName: 'Hopper' }));
  } finally {
    s.close();
  }
}

test('joins: 4 a minute per address for the whole cluster, whichever node the connections reach', async () => {
  const answers = [];
  for (const server of [a, b, a, b, a, b]) answers.push(await joinOnce(server, 'hop'));
  assert.deepEqual(answers, [undefined, undefined, undefined, undefined, 'RATE_LIMITED', 'RATE_LIMITED']);
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    assert.equal((await client.keys('noom:limit:join*')).length, 1, 'one counter in Redis for the address');
  } finally {
    await client.close();
  }
});

test('with Redis away, a node counts on its own: the 6th invalid request still drops the connection', async () => {
  await redis.kill();
  await eventually('node A to notice Redis is gone', () => !a.cluster!.redis.ready);
  const s = await sockets.open(a.url);
  const gone = new Promise<string>((resolve) => s.once('disconnect', (reason) => resolve(reason)));
  for (let i = 0; i < 5; i++) assert.equal(errorCode(await rawAck(s, 'producer:create', { nonsense: i })), 'INVALID_REQUEST');
  (s.emit as (ev: string, p: unknown) => void)('producer:create', { nonsense: 6 });
  const reason = await Promise.race([gone, new Promise((r) => setTimeout(() => r('still connected after 5 s'), 5000))]);
  assert.equal(reason, 'io server disconnect');
  await redis.start();
});
