/** The server as a process: npm start's entry, health probes, clean shutdown, bad config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from '../support/eventually.js';
import { TEST_ENV } from '../support/server.js';

const MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));

function run(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('serves /healthz with its workers and exits 0 on SIGTERM leaving no worker behind', async () => {
  const { child, output } = run({ ...TEST_ENV, LOG_LEVEL: 'info', WORKERS: '2' });
  try {
    await eventually('server start', () => output().includes('noom listening'));
    const url = /"url":"([^"]+)"/.exec(output())![1]!;
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { status: string; workers: { pid: number }[] };
    assert.equal(body.status, 'ok');
    assert.equal(body.workers.length, 2);
    assert.ok(body.workers.every((w) => alive(w.pid)));
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /noom_workers 2/);

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, output());
    await eventually('worker processes gone', () => body.workers.every((w) => !alive(w.pid)));
  } finally {
    child.kill('SIGKILL');
  }
});

test('an invalid variable stops startup with its name', async () => {
  const { child, output } = run({ ...TEST_ENV, PORT: 'eighty' });
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(output(), /invalid configuration: PORT/);
});

test('with TLS_CERT and TLS_KEY the server speaks HTTPS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noom-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const { child, output } = run({ ...TEST_ENV, LOG_LEVEL: 'info', TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') });
  try {
    await eventually('server start', () => output().includes('noom listening'));
    const url = /"url":"([^"]+)"/.exec(output())![1]!;
    assert.match(url, /^https:\/\//);
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${url}/healthz`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(status, 200);
  } finally {
    child.kill('SIGKILL');
  }
});
