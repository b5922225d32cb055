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
import { request, type RequestError } from '../../protocol/index.js';
import { socketTracker } from '../support/server.js';

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

/** One join on a new connection to `server`, as a client hopping between nodes: its error code, or undefined. */
async function joinOnce(server: NoomServer, roomId: string): Promise<string | undefined> {
  const s = await sockets.open(server.url);
  try {
    // With Redis away a join waits for the directory's deadline: longer than a plain request's 5 s on a busy machine.
    return await request(s, 'room:join', { roomId, displayName: 'Hopper' }, 15_000).then(
      () => undefined,
      (error: RequestError) => error.code,
    );
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
    // The flood allowances, spent on every message, are each node's own: no Redis call per message.
    assert.deepEqual(await client.keys('noom:limit:bytes*'), []);
  } finally {
    await client.close();
  }
});

test('with Redis away, each node counts on its own: the 5th join in a minute is still RATE_LIMITED', async () => {
  await redis.kill();
  await eventually('node A to notice Redis is gone', () => !a.cluster!.redis.ready);
  // Counted in node A's memory from 0 (the library's insurance limiter); the joins themselves
  // fail for want of the directory, but they are not refused by the limit.
  const first = await Promise.all(Array.from({ length: 4 }, () => joinOnce(a, 'outage')));
  assert.deepEqual(first, ['INTERNAL', 'INTERNAL', 'INTERNAL', 'INTERNAL']);
  assert.equal(await joinOnce(a, 'outage'), 'RATE_LIMITED');
  await redis.start();
});
