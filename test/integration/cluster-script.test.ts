/** `npm run cluster`: a private Redis and N built nodes; a node's death is reported; SIGINT stops everything. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { keys } from '../../server/src/cluster/keys.js';
import { eventually } from '../support/eventually.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/cluster.ts', import.meta.url));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('starts Redis and two nodes that form one cluster, reports a dead node, and SIGINT stops the rest', async () => {
  let out = '';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', SCRIPT, '--nodes', '2', '--base-port', '0', '--rtc-port-base', '0', '--quiet'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        HOST: '127.0.0.1',
        RTC_LISTEN_IP: '127.0.0.1',
        ANNOUNCED_IP: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  try {
    await eventually('cluster ready', () => out.includes('ready: 2 nodes') || child.exitCode !== null, Boolean, { timeoutMs: 120_000 });
    assert.match(out, /ready: 2 nodes/, out);
    const redisUrl = /\[cluster\] redis (redis:\/\/127\.0\.0\.1:\d+) \(pid (\d+)/.exec(out)!;
    const redisPid = Number(redisUrl[2]);
    const nodes = [...out.matchAll(/\[cluster\] (node-\d) (http:\/\/127\.0\.0\.1:\d+) \(pid (\d+)\)/g)].map((m) => ({
      id: m[1]!,
      url: m[2]!,
      pid: Number(m[3]),
    }));
    assert.deepEqual(nodes.map((n) => n.id).sort(), ['node-1', 'node-2']);
    for (const node of nodes) assert.equal((await fetch(`${node.url}/readyz`)).status, 200);

    const redis = createClient({ url: redisUrl[1] });
    redis.on('error', () => undefined);
    await redis.connect();
    assert.deepEqual((await redis.sMembers(keys.nodes)).sort(), ['node-1', 'node-2']);
    await redis.close();

    const victim = nodes.find((n) => n.id === 'node-2')!;
    process.kill(victim.pid, 'SIGKILL');
    await eventually('the death reported', () => /node-2 exited unexpectedly \(signal SIGKILL\)/.test(out));

    child.kill('SIGINT');
    const [code] = await exited;
    // A node died on its own during the run: the run did not go well.
    assert.equal(code, 1, out);
    assert.match(out, /stopping \(SIGINT\)[\s\S]*stopped/);
    for (const pid of [redisPid, ...nodes.map((n) => n.pid)]) {
      await eventually(`process ${pid} gone`, () => !alive(pid));
    }
  } finally {
    child.kill('SIGKILL');
  }
});
