/** Cluster mode at startup, as a process: a bad REDIS_URL or an unreachable Redis stops it clearly. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis } from '../support/redis.js';
import { TEST_ENV } from '../support/server.js';
import { eventually } from '../support/eventually.js';

const MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));

function run(env: Record<string, string>) {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out, exit: once(child, 'exit') as Promise<[number | null]> };
}

test('a REDIS_URL that is not a redis:// URL stops startup naming the variable, without echoing it', async () => {
  const { exit, output } = run({ REDIS_URL: 'http://user:hunter2@127.0.0.1:6379' });
  const [code] = await exit;
  assert.equal(code, 2, output());
  assert.match(output(), /invalid configuration: REDIS_URL: must start with redis:\/\/ or rediss:\/\//);
  assert.doesNotMatch(output(), /hunter2/);
});

test('an unreachable Redis stops startup with "cannot reach Redis at <url>: ECONNREFUSED", password masked', async () => {
  const port = await freePort();
  const started = Date.now();
  const { exit, output } = run({ REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` });
  const [code] = await exit;
  assert.equal(code, 1, output());
  assert.match(output(), new RegExp(`noom: failed to start: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  assert.doesNotMatch(output(), /hunter2/);
  // No worker was started for a node that cannot join its cluster.
  assert.doesNotMatch(output(), /mediasoup worker started/);
  assert.ok(Date.now() - started < 15_000);
});

test('a Redis that refuses our password stops startup with its reason, password masked', async () => {
  const redis = await startRedis({ password: 'right' });
  try {
    const { exit, output } = run({ REDIS_URL: `redis://:hunter2@127.0.0.1:${redis.port}` });
    const [code] = await exit;
    assert.equal(code, 1, output());
    assert.match(output(), new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}: WRONGPASS`));
    assert.doesNotMatch(output(), /hunter2/);
  } finally {
    await redis.stop();
  }
});

test('with a reachable Redis the node starts, is ready, and exits 0 on SIGTERM', async () => {
  const redis = await startRedis();
  const { child, exit, output } = run({ REDIS_URL: redis.url, LOG_LEVEL: 'info', NODE_ID: 'proc-1' });
  try {
    await eventually('server start', () => output().includes('noom listening'), Boolean, { timeoutMs: 60_000 });
    assert.match(output(), /"nodeId":"proc-1"/);
    const line = output().split('\n').find((l) => l.includes('noom listening'))!;
    const { url } = JSON.parse(line) as { url: string };
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    child.kill('SIGTERM');
    const [code] = await exit;
    assert.equal(code, 0, output());
  } finally {
    child.kill('SIGKILL');
    await redis.stop();
  }
});
