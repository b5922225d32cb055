/**
 * The load tester's verdict and exit status against a real server in trouble: the CLI runs
 * as CI runs it (`--json` on stdout, exit status), while the test breaks the server under it
 * (a worker killed, the server process killed, nothing listening, UDP loss, a publisher the
 * server never announces) and checks that the run fails, says why, and stops early when
 * nothing is left to measure. A healthy run passes with exit 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { NoomServer } from '../../server/src/app.js';
import { prepareMedia } from '../../scripts/loadtest/peer/index.js';
import type { CheckName } from '../../scripts/loadtest/verdict.js';
import type { LoadTestReport } from '../../scripts/loadtest/report/types.js';
import { blackoutUnavailable, startUdpLoss } from '../support/blackout.js';
import { eventually } from '../support/eventually.js';
import { startTestServer, TEST_ENV } from '../support/server.js';

const CLI = fileURLToPath(new URL('../../scripts/loadtest/cli.ts', import.meta.url));
const SERVER_MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));

/** The part of the --json summary these tests read. */
interface JsonSummary {
  verdict: 'pass' | 'fail' | 'interrupted';
  exitCode: number;
  failed: CheckName[];
  checks: { name: CheckName; pass: boolean; actual?: number; limit?: number; detail: string }[];
  stoppedEarly?: { t: number; reason: string };
  elapsedSec: number;
  peers: LoadTestReport['peers'];
  totals: LoadTestReport['totals'];
  health: LoadTestReport['health'];
  consumers: LoadTestReport['consumers'];
  failureReasons: LoadTestReport['failureReasons'];
}

interface CliRun {
  child: ChildProcess;
  /** Resolves when the CLI exits: its status, its parsed stdout, its stderr. */
  done: Promise<{ code: number | null; summary: JsonSummary; stderr: string; wallSec: number }>;
}

function runCli(args: string[]): CliRun {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--json', '--no-progress', '--processes', '1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = once(child, 'exit').then(([code]) => {
    let summary: JsonSummary;
    try {
      summary = JSON.parse(stdout) as JsonSummary;
    } catch {
      throw new Error(`no JSON summary on stdout (exit ${String(code)}):\n${stdout}\n${stderr}`);
    }
    return { code: code as number | null, summary, stderr, wallSec: (performance.now() - started) / 1000 };
  });
  return { child, done };
}


async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(() => prepareMedia());

describe('against an in-process server', () => {
  let noom: NoomServer;
  const runs: CliRun[] = [];
  before(async () => {
    noom = await startTestServer();
  });
  after(async () => {
    for (const r of runs) r.child.kill('SIGKILL');
    await noom?.close();
  });

  test('a healthy run passes every check and exits 0', async () => {
    const run = runCli(['--url', noom.url, '--room-prefix', 'ok', '--publishers', '2', '--subscribers', '2', '--duration', '8', '--ramp', '8']);
    runs.push(run);
    const { code, summary, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    assert.equal(summary.verdict, 'pass');
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.peers.joined, 4);
    // Every peer receives every other publisher's audio and video: 2 publishers × 2 tracks × 3 other peers.
    assert.deepEqual([summary.consumers.expected, summary.consumers.actual], [12, 12]);
    assert.ok(summary.totals.packetsReceived > 0);
    assert.equal(summary.health.episodes.length, 0, JSON.stringify(summary.health.episodes));
    assert.match(stderr, /verdict: PASS/);
    console.log(`healthy: ${summary.totals.packetsReceived} packets, loss ${summary.totals.lossPct} %, ${summary.checks.find((c) => c.name === 'firstRtpP95Ms')!.detail}`);
  });

  test('video-only publishers: only video is expected and received; the summary has a row per peer and per track', async () => {
    const run = runCli(['--url', noom.url, '--room-prefix', 'vo', '--publishers', '1', '--subscribers', '2', '--publish', 'video', '--duration', '7', '--ramp', '8']);
    runs.push(run);
    const { code, summary, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    assert.deepEqual([summary.consumers.expected, summary.consumers.actual], [2, 2]);
    assert.deepEqual(summary.consumers.tracks.map((t) => t.label), ['vo-1 / load-pub-1-1 / video']);
    assert.ok(summary.totals.packetsReceived > 0);
    for (const name of ['load-pub-1-1', 'load-sub-1-1', 'load-sub-1-2']) assert.match(stderr, new RegExp(`^${name} .* ok$`, 'm'));
    // … loss %, then its worst consumer's latency p95 and jitter (ms), down s, status.
    assert.match(stderr, /^load-sub-1-1 +sub +\d+ +\d+ +1\/1 +[1-9]\d* +0\.00 +\d+\.\d +\d+\.\d +0 +ok$/m);
    assert.match(stderr, /^vo-1 \/ load-pub-1-1 \/ video +2\/2 +[1-9]\d* +[1-9]\d*/m);
  });

  test('a worker killed mid-run: its peers fail (room:closed), the run stops early and exits 1', async () => {
    const run = runCli(['--url', noom.url, '--room-prefix', 'wk', '--publishers', '2', '--subscribers', '2', '--duration', '60', '--ramp', '8']);
    runs.push(run);
    await eventually('4 peers in the room', () => noom.rooms.get('wk-1')?.peers.size ?? 0, (n) => n === 4, { timeoutMs: 30_000 });
    // Media flowing before the kill, so the run has something to lose.
    await new Promise((r) => setTimeout(r, 2000));
    const pid = noom.pool.slots[0]!.worker.pid;
    process.kill(pid, 'SIGKILL');
    const { code, summary, stderr } = await run.done;
    assert.equal(code, 1, stderr);
    assert.equal(summary.verdict, 'fail');
    assert.ok(summary.failed.includes('peerFailures'), `failed: ${summary.failed.join(', ')}`);
    assert.equal(summary.health.failedAfterJoin, 4);
    assert.ok(
      summary.failureReasons.some((f) => f.reason === 'room:closed (workerclose)' && f.count === 4),
      JSON.stringify(summary.failureReasons),
    );
    assert.ok(summary.stoppedEarly, 'stopped early once every peer had failed');
    assert.ok(summary.elapsedSec < 40, `ran ${summary.elapsedSec} s of a 60 s hold`);
    console.log(`worker killed: stopped at ${summary.stoppedEarly.t} s of the run, ${summary.health.failedAfterJoin} peers failed after joining`);
    assert.match(stderr, /FAIL {2}peers failed after joining: 4 peers > limit 0 peers, over by 4 peers/);
  });

  test('a worker killed mid-run with --rejoin: every peer joins again, is down until its media is back, and the run passes', async () => {
    const run = runCli(['--url', noom.url, '--room-prefix', 'rj', '--publishers', '2', '--subscribers', '2', '--duration', '12', '--ramp', '8', '--rejoin']);
    runs.push(run);
    await eventually('4 peers in the room', () => noom.rooms.get('rj-1')?.peers.size ?? 0, (n) => n === 4, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    process.kill(noom.pool.slots[0]!.worker.pid, 'SIGKILL');
    const { code, summary, stderr } = await run.done;
    assert.equal(summary.health.rejoins, 4, stderr);
    assert.equal(summary.health.failedAfterJoin, 0);
    const episodes = summary.health.episodes.filter((e) => /^room:closed \(workerclose\): joined again$/.test(e.reason));
    assert.equal(episodes.length, 4, JSON.stringify(summary.health.episodes));
    // Each peer was down for a while and came back before the end, with every producer of the new room.
    for (const e of episodes) assert.ok(!e.open && e.to > e.from, JSON.stringify(e));
    assert.deepEqual([summary.consumers.expected, summary.consumers.actual], [12, 12]);
    const longest = Math.max(...episodes.map((e) => e.to - e.from));
    console.log(`worker killed, --rejoin: 4 rejoins, longest time down ${longest.toFixed(2)} s, verdict ${summary.verdict}`);
    assert.equal(code, 0, stderr);
  });

  test('5 % UDP loss in the network: the loss check fails and the run exits 1', { skip: blackoutUnavailable() }, async (t) => {
    // 5 %: enough to show, not so much that no transport gets through its handshakes.
    const loss = startUdpLoss(5);
    t.after(() => loss.end());
    const run = runCli(['--url', noom.url, '--room-prefix', 'loss', '--publishers', '2', '--subscribers', '2', '--duration', '8', '--ramp', '8']);
    runs.push(run);
    const { code, summary, stderr } = await run.done;
    loss.end();
    assert.equal(code, 1, stderr);
    assert.ok(summary.totals.packetsReceived > 0, 'media flowed');
    assert.ok(summary.failed.includes('lossPct'), `failed: ${summary.failed.join(', ')}`);
    const check = summary.checks.find((c) => c.name === 'lossPct')!;
    assert.ok(check.actual! > 1, `loss ${check.actual} %`);
    console.log(`5 % UDP dropped on arrival: the run measured ${summary.totals.lossPct} % receive loss (${summary.totals.lost} lost)`);
    assert.ok(summary.totals.lost > 0);
    assert.match(stderr, /FAIL {2}receive loss: [\d.]+ % > limit 1 %, over by [\d.]+ %/);
  });

  test('a publisher the server never announces (producer:new dropped): missing consumers fail the run', async () => {
    // A test-only filter on the server's own Socket.IO adapter: the second publisher's
    // producer:new never leaves the server. Peers that join after it still find its
    // producers in the join answer; the first publisher, already in, never hears of them.
    const adapter = noom.io.of('/').adapter;
    const broadcast = adapter.broadcast.bind(adapter);
    const hidden = (payload: unknown) => {
      const peerId = (payload as { peerId?: unknown }).peerId;
      return typeof peerId === 'string' && noom.rooms.get('un-1')?.peers.get(peerId)?.displayName === 'load-pub-1-2';
    };
    adapter.broadcast = (packet, opts) => {
      const data = (packet as { data?: unknown[] }).data;
      if (data?.[0] === 'producer:new' && hidden(data[1])) return;
      broadcast(packet, opts);
    };
    try {
      // One peer a second: the first publisher is in the room before the second one publishes.
      const run = runCli(['--url', noom.url, '--room-prefix', 'un', '--publishers', '2', '--subscribers', '1', '--duration', '8', '--ramp', '1']);
      runs.push(run);
      const { code, summary, stderr } = await run.done;
      assert.equal(code, 1, stderr);
      assert.ok(summary.failed.includes('missingConsumers'), `failed: ${summary.failed.join(', ')}`);
      const hiddenTracks = summary.consumers.tracks.filter((tr) => tr.label.includes('load-pub-1-2'));
      assert.deepEqual(
        hiddenTracks.map((tr) => [tr.expected, tr.actual]),
        [
          [2, 1],
          [2, 1],
        ],
      );
      assert.equal(summary.consumers.missing, 2);
      // The first publisher counts as down for lack of them, for longer than the gap limit.
      assert.ok(summary.failed.includes('mediaGap'));
      assert.ok(summary.health.episodes.some((e) => e.displayName === 'load-pub-1-1' && /no consumer of the (audio|video) of load-pub-1-2/.test(e.reason)));
      assert.match(stderr, /consumers of un-1 \/ load-pub-1-2 \/ (audio|video): 1 receiving, 2 expected/);
    } finally {
      adapter.broadcast = broadcast;
    }
  });
});

test('nothing listening: every peer fails at once, the run stops within a few seconds and exits 1', async () => {
  const port = await freePort();
  const { code, summary, wallSec, stderr } = await runCli(['--url', `http://127.0.0.1:${port}`, '--duration', '60', '--ramp', '5']).done;
  assert.equal(code, 1, stderr);
  assert.ok(summary.stoppedEarly, 'stopped early');
  assert.ok(summary.failed.includes('completed') && summary.failed.includes('joinFailures'), `failed: ${summary.failed.join(', ')}`);
  assert.equal(summary.peers.joined, 0);
  // The early stop comes 3 s after every peer is down; the rest is starting and stopping the child.
  assert.ok(summary.stoppedEarly.t < 8, `stopped at ${summary.stoppedEarly.t} s`);
  assert.ok(wallSec < 30, `exited after ${wallSec.toFixed(1)} s of a 60 s hold`);
  console.log(`nothing listening: stopped at ${summary.stoppedEarly.t} s, CLI exited after ${wallSec.toFixed(1)} s`);
});

test('the server process killed mid-run: the peers lose media, the run stops early and exits 1', async (t) => {
  let out = '';
  const server = spawn(process.execPath, ['--import', 'tsx', SERVER_MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_ENV, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  t.after(() => server.kill('SIGKILL'));
  await eventually('server start', () => out.includes('noom listening'), Boolean, { timeoutMs: 30_000 });
  const url = /"url":"([^"]+)"/.exec(out)![1]!;

  const run = runCli(['--url', url, '--publishers', '2', '--subscribers', '2', '--duration', '60', '--ramp', '8']);
  t.after(() => run.child.kill('SIGKILL'));
  const peers = async () => /^noom_peers (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
  await eventually('4 peers on the server', peers, (n) => n === '4', { timeoutMs: 30_000, intervalMs: 200 });
  await new Promise((r) => setTimeout(r, 2000));
  const killedAt = performance.now();
  server.kill('SIGKILL');
  const { code, summary, stderr } = await run.done;
  const afterKill = (performance.now() - killedAt) / 1000;
  assert.equal(code, 1, stderr);
  assert.ok(summary.stoppedEarly, 'stopped early');
  assert.ok(summary.failed.includes('mediaGap') || summary.failed.includes('peerFailures'), `failed: ${summary.failed.join(', ')}`);
  assert.equal(summary.health.peersWithMediaGaps + summary.health.failedAfterJoin >= 4, true, JSON.stringify(summary.health));
  // Down after the 5 s media-gap limit, stopped 3 s later: far from the 60 s hold.
  assert.ok(afterKill < 25, `exited ${afterKill.toFixed(1)} s after the kill`);
  console.log(`server killed: CLI exited ${afterKill.toFixed(1)} s after the kill; failed checks ${summary.failed.join(', ')}`);
});

test('a usage error exits 2, before any peer starts', async () => {
  for (const args of [['--url', 'ftp://x'], ['--url', 'http://127.0.0.1:1', '--max-media-gap', '0'], ['--url', 'http://127.0.0.1:1', '--max-loss', 'lots']]) {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.doesNotMatch(stderr, /starting \d+ load process/);
  }
});
