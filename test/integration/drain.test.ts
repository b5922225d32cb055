/**
 * SIGTERM as a rolling restart sees it, on the server as a process (server/src/main.ts) with
 * real WebRTC peers in a call. The signal goes to the server's whole process group, as a
 * terminal's Ctrl-C or `kill -- -<pgid>` sends it, so the mediasoup workers get it too.
 * Drain: /readyz 503 at once, joins refused with DRAINING, every client told
 * `server:draining`, media flowing until the deadline, then `room:closed` reason `shutdown`,
 * exit 0 and no worker left, with an idle keep-alive connection and a half-sent HTTP request
 * open. A second signal stops it at once; a server with nobody in a call stops at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { prepareMedia, SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { eventually } from '../support/eventually.js';
import { collect, connect, rawAck, errorCode, TEST_ENV } from '../support/server.js';

const MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));

interface ServerProcess {
  child: ChildProcess;
  url: string;
  workerPids: number[];
  output: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Sends `signal` to the server's process group. */
  signal(signal: NodeJS.Signals): void;
}

const children: ChildProcess[] = [];
const peers: SyntheticPeer[] = [];
const sockets: net.Socket[] = [];

before(() => prepareMedia());

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  for (const s of sockets) s.destroy();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL');
});

async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  let out = '';
  // Its own process group, as a server started from a shell is in: the signals go to the group.
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_ENV, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await eventually('server start', () => out.includes('noom listening'), Boolean, { timeoutMs: 30_000 });
  const url = /"url":"([^"]+)"/.exec(out)![1]!;
  const health = (await (await fetch(`${url}/healthz`)).json()) as { workers: { pid: number }[] };
  return {
    child,
    url,
    workerPids: health.workers.map((w) => w.pid),
    output: () => out,
    exited,
    signal: (signal) => process.kill(-child.pid!, signal),
  };
}

/** The exit code, or a failure if the process is still up after `ms` (the drains here are far longer). */
async function exitWithin(server: ServerProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the server is still up ${ms} ms later\n${server.output().slice(-2000)}`)), ms);
  });
  try {
    const [code, signal] = await Promise.race([server.exited, late]);
    assert.equal(signal, null, server.output());
    return code;
  } finally {
    clearTimeout(timer);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** HTTP connections that must not hold the exit: one idle after a keep-alive request, one with a request half sent. */
async function openIdleAndHalfSent(url: string): Promise<void> {
  const { port } = new URL(url);
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    http.get(`${url}/healthz`, { agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
  // The agent keeps that connection open and idle; no request follows.
  const half = net.connect(Number(port), '127.0.0.1');
  await once(half, 'connect');
  half.on('error', () => undefined);
  half.write('GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  sockets.push(half);
}

async function callOfTwo(url: string, roomId: string): Promise<[SyntheticPeer, SyntheticPeer]> {
  const a = await SyntheticPeer.join({ url, roomId, displayName: 'Ann', publish: { audio: true, video: true } });
  const b = await SyntheticPeer.join({ url, roomId, displayName: 'Ben', publish: { audio: true, video: true } });
  peers.push(a, b);
  await Promise.all([a, b].map((p) => p.waitForMedia({ consumers: 2, minPackets: 10, timeoutMs: 30_000 })));
  return [a, b];
}

const DRAIN_S = 4;
const packets = (p: SyntheticPeer) => p.consumerStats().reduce((n, c) => n + c.packets, 0);

test('SIGTERM drains: no new joins, everyone told, media until the deadline, then shutdown, exit 0 and no worker left', async (t) => {
  const server = await startServer({ WORKERS: '2', DRAIN_TIMEOUT: String(DRAIN_S) });
  const [ann, ben] = await callOfTwo(server.url, 'rolling');
  const draining = [ann, ben].map((p) => collect(p.socket, 'server:draining'));
  const closedAt: number[] = [];
  const closed = [ann, ben].map((p) => {
    const seen = collect(p.socket, 'room:closed');
    p.socket.on('room:closed', () => closedAt.push(Date.now()));
    return seen;
  });
  await openIdleAndHalfSent(server.url);

  const signalledAt = Date.now();
  server.signal('SIGTERM');
  await eventually('server:draining at both peers', () => draining.every((d) => d.length === 1));
  const notice = draining[0]![0]!;
  assert.equal(notice.otherNodes, 0);
  assert.ok(notice.remainingMs > 0 && notice.remainingMs <= DRAIN_S * 1000, `remainingMs ${notice.remainingMs}`);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
  const newcomer = await connect(server.url);
  assert.equal(errorCode(await rawAck(newcomer, 'room:join', { roomId: 'rolling' })), 'DRAINING');
  newcomer.close();

  // The call goes on through the drain: both still receive each other's audio and video.
  const before = [ann, ben].map(packets);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, notice.deadline - Date.now() - 1000)));
  assert.deepEqual(closed, [[], []], 'the room closed before the deadline');
  [ann, ben].forEach((p, i) => assert.ok(packets(p) > before[i]! + 50, `peer ${i}: media stopped during the drain`));

  await eventually('room:closed at both peers', () => closed.every((c) => c.length === 1), Boolean, { timeoutMs: 10_000 });
  assert.deepEqual(closed, [[{ reason: 'shutdown' }], [{ reason: 'shutdown' }]]);
  assert.ok(closedAt.every((at) => at >= notice.deadline - 50), 'the room closed before the announced deadline');
  const code = await exitWithin(server, 10_000);
  t.diagnostic(`exit ${Date.now() - signalledAt} ms after SIGTERM (drain ${DRAIN_S} s)`);
  assert.equal(code, 0, server.output());
  await eventually('every worker process gone', () => server.workerPids.every((pid) => !alive(pid)), Boolean, { timeoutMs: 3000 });
});
test('a second signal stops the drain at once: rooms closed with shutdown, exit 143, no worker left', async (t) => {
  const server = await startServer({ DRAIN_TIMEOUT: '120' });
  const [ann, ben] = await callOfTwo(server.url, 'impatient');
  const draining = collect(ann.socket, 'server:draining');
  const closed = [ann, ben].map((p) => collect(p.socket, 'room:closed'));
  server.signal('SIGTERM');
  await eventually('server:draining', () => draining.length === 1);
  // Past the window in which a repeated signal counts as the same one.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(server.child.exitCode, null, 'the server did not wait for the drain');
  const secondAt = Date.now();
  server.signal('SIGTERM');
  const code = await exitWithin(server, 20_000);
  const elapsed = Date.now() - secondAt;
  t.diagnostic(`exit ${elapsed} ms after the second SIGTERM`);
  assert.equal(code, 143, server.output());
  assert.ok(Date.now() < draining[0]!.deadline - 100_000, 'waited for the drain');
  assert.deepEqual(closed, [[{ reason: 'shutdown' }], [{ reason: 'shutdown' }]]);
  await eventually('every worker process gone', () => server.workerPids.every((pid) => !alive(pid)), Boolean, { timeoutMs: 3000 });
});

test('with nobody in a call SIGTERM exits at once, open HTTP connections or not', async (t) => {
  const server = await startServer({ DRAIN_TIMEOUT: '120' });
  await openIdleAndHalfSent(server.url);
  const lobby = await connect(server.url);
  const draining = collect(lobby, 'server:draining');
  const signalledAt = Date.now();
  server.signal('SIGTERM');
  const code = await exitWithin(server, 20_000);
  t.diagnostic(`exit ${Date.now() - signalledAt} ms after SIGTERM`);
  lobby.close();
  assert.equal(code, 0, server.output());
  assert.equal(draining.length, 1);
  assert.ok(Date.now() < draining[0]!.deadline - 100_000, 'waited for the drain');
  await eventually('every worker process gone', () => server.workerPids.every((pid) => !alive(pid)), Boolean, { timeoutMs: 3000 });
});
