/** Broker: requests between two nodes through a real redis-server, and what it survives. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { z } from 'zod';
import { BrokerError, type RequestContext } from '../../server/src/cluster/Broker.js';
import type { ClusterNode } from '../../server/src/cluster/ClusterNode.js';
import { keys } from '../../server/src/cluster/keys.js';
import { startClusterNode } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const seenByB: RequestContext[] = [];

const Double = z.object({ n: z.number().int() });
const Doubled = z.object({ doubled: z.number(), by: z.string() });

before(async () => {
  redis = await startRedis();
  a = await startClusterNode(redis.url, 'node-a');
  b = await startClusterNode(redis.url, 'node-b');
  b.broker.handle('test:double', Double, ({ n }, context) => {
    seenByB.push(context);
    return { doubled: n * 2, by: b.nodeId };
  });
  b.broker.handle('test:fail', z.object({}), () => {
    throw Object.assign(new Error('no such producer p1'), { code: 'NOT_FOUND' });
  });
  b.broker.handle('test:hang', z.object({}), () => new Promise(() => undefined));
  await eventually('a sees b', () => a.liveness.isAlive('node-b'));
});

after(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

const brokerError = (code: BrokerError['code'], remoteCode?: string) => (error: unknown) =>
  error instanceof BrokerError && error.code === code && (remoteCode === undefined || error.details.remoteCode === remoteCode);

test('a request runs the handler on the other node and resolves with its parsed answer', async () => {
  const answer = await a.broker.request('node-b', 'test:double', { n: 21 }, { result: Doubled, requestId: 'req-42' });
  assert.deepEqual(answer, { doubled: 42, by: 'node-b' });
  const context = seenByB.find((c) => c.requestId === 'req-42');
  assert.deepEqual(context, { requestId: 'req-42', fromNode: 'node-a', type: 'test:double' });
});

test('a retry with the same request id reaches the handler with that id again', async () => {
  await a.broker.request('node-b', 'test:double', { n: 1 }, { requestId: 'retry-1' });
  await a.broker.request('node-b', 'test:double', { n: 1 }, { requestId: 'retry-1' });
  assert.equal(seenByB.filter((c) => c.requestId === 'retry-1').length, 2);
});

test('the handler schema refuses a bad payload: INVALID_MESSAGE, and the handler is not called', async () => {
  const before = seenByB.length;
  await assert.rejects(a.broker.request('node-b', 'test:double', { n: 'twenty' }), brokerError('INVALID_MESSAGE'));
  assert.equal(seenByB.length, before);
});

test('an answer that does not match the result schema is INVALID_MESSAGE', async () => {
  await assert.rejects(
    a.broker.request('node-b', 'test:double', { n: 2 }, { result: z.object({ tripled: z.number() }) }),
    brokerError('INVALID_MESSAGE'),
  );
});

test('a failing handler is REMOTE_ERROR with its code and message; an unknown type is UNKNOWN_TYPE', async () => {
  await assert.rejects(a.broker.request('node-b', 'test:fail', {}), (error: unknown) => {
    assert.ok(brokerError('REMOTE_ERROR', 'NOT_FOUND')(error));
    assert.equal((error as Error).message, 'no such producer p1');
    return true;
  });
  await assert.rejects(a.broker.request('node-b', 'test:nobody', {}), brokerError('REMOTE_ERROR', 'UNKNOWN_TYPE'));
});

test('a node that does not answer: TIMEOUT after the timeout', async () => {
  const started = Date.now();
  await assert.rejects(a.broker.request('node-b', 'test:hang', {}, { timeoutMs: 400 }), brokerError('TIMEOUT'));
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 390 && elapsed < 1500, `timed out after ${elapsed} ms`);
});

test('a node that is not alive: NODE_DOWN at once; one that leaves while asked: NODE_DOWN before the timeout', async () => {
  await assert.rejects(a.broker.request('node-nobody', 'test:double', { n: 1 }), brokerError('NODE_DOWN'));

  const c = await startClusterNode(redis.url, 'node-c');
  c.broker.handle('test:hang', z.object({}), () => new Promise(() => undefined));
  await eventually('a sees c', () => a.liveness.isAlive('node-c'));
  const started = Date.now();
  const refused = assert.rejects(a.broker.request('node-c', 'test:hang', {}, { timeoutMs: 10_000 }), brokerError('NODE_DOWN'));
  await new Promise((resolve) => setTimeout(resolve, 100));
  await c.close();
  await refused;
  assert.ok(Date.now() - started < 2000, `NODE_DOWN after ${Date.now() - started} ms`);
});

test('malformed stream entries and replies are dropped; a request with a return address gets INVALID_MESSAGE', async () => {
  const raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
  const spy = raw.duplicate();
  spy.on('error', () => undefined);
  await spy.connect();
  try {
    const repliesToA: unknown[] = [];
    await spy.subscribe(keys.replies('node-a'), (message) => repliesToA.push(JSON.parse(message)));
    const stream = keys.requests('node-b');
    await raw.xAdd(stream, '*', { x: '1' });
    await raw.xAdd(stream, '*', { m: 'not json' });
    await raw.xAdd(stream, '*', { m: JSON.stringify({ id: 'broken-1', from: 'node-a', type: 'test:double' }) });
    await raw.xAdd(stream, '*', { m: JSON.stringify({ id: 'x', from: '../../etc', type: 'test:double', timeoutMs: 1000, payload: { n: 1 } }) });
    await raw.xAdd(stream, '*', { m: 'x'.repeat(2 * 1024 * 1024) });
    // Garbage, a forged reply to an id nobody waits for, and a reply of the wrong shape.
    await raw.publish(keys.replies('node-a'), '{"id":');
    await raw.publish(keys.replies('node-a'), JSON.stringify({ id: 'nobody-waits', ok: true, result: 1 }));
    await raw.publish(keys.replies('node-a'), JSON.stringify({ id: 'y', ok: false }));

    await eventually('the error reply to the broken request', () =>
      repliesToA.some((r) => (r as { id?: string }).id === 'broken-1'),
    );
    const reply = repliesToA.find((r) => (r as { id?: string }).id === 'broken-1');
    assert.deepEqual(reply, { id: 'broken-1', ok: false, error: { code: 'INVALID_MESSAGE', message: 'malformed request' } });
    // Both nodes still work.
    assert.deepEqual(await a.broker.request('node-b', 'test:double', { n: 5 }, { result: Doubled }), { doubled: 10, by: 'node-b' });
  } finally {
    await spy.close();
    await raw.close();
  }
});

test('a request read after its caller gave up is dropped, not run', async () => {
  const d = await startClusterNode(redis.url, 'node-d');
  let runs = 0;
  d.broker.handle('test:count', z.object({}), () => ++runs);
  await eventually('a sees d', () => a.liveness.isAlive('node-d'));
  const raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
  try {
    // An entry stamped 10 s ago (Redis' clock) with a 1 s timeout, as a reader that was
    // away would find it.
    const [seconds] = await raw.time();
    const oldId = `${Number(seconds) * 1000 - 10_000}-0`;
    const request = { id: 'late-1', from: 'node-a', type: 'test:count', timeoutMs: 1000, payload: {} };
    await raw.xAdd(keys.requests('node-d'), oldId, { m: JSON.stringify(request) });
    assert.equal(await a.broker.request('node-d', 'test:count', {}), 1);
    assert.equal(runs, 1);
  } finally {
    await raw.close();
    await d.close();
  }
});

test('after a 2 s Redis restart requests flow again, both ways, without restarting the nodes', async () => {
  a.broker.handle('test:ping', z.object({}), () => 'pong-a');
  await redis.restart(2000);
  await eventually(
    'b answers a again',
    () => a.broker.request('node-b', 'test:double', { n: 3 }, { result: Doubled, timeoutMs: 1000 }).catch((e: Error) => e.message),
    (v) => typeof v === 'object',
    { timeoutMs: 15_000, intervalMs: 200 },
  );
  // Each node's reader reconnects on its own: the other direction may take a moment longer.
  const pong = await eventually(
    'a answers b again',
    () => b.broker.request('node-a', 'test:ping', {}, { timeoutMs: 1000 }).catch((e: Error) => e.message),
    (v) => v === 'pong-a',
    { timeoutMs: 15_000, intervalMs: 200 },
  );
  assert.equal(pong, 'pong-a');
});
