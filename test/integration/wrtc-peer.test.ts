/**
 * Real-encoder peers (mediasoup-client on @roamhq/wrtc) and replaying peers (on werift) in
 * one room of a real in-process server: libwebrtc-encoded VP8 + Opus reaches werift
 * consumers, replayed media reaches wrtc consumers, and both engines share one process
 * (test/support/wrtcScenario.ts, run as a child). Then the load tester runs wrtc peers in
 * its child process (`--engine wrtc`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { NoomServer } from '../../server/src/app.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';
import { startTestServer } from '../support/server.js';

const SCENARIO = fileURLToPath(new URL('../support/wrtcScenario.ts', import.meta.url));
let noom: NoomServer;

before(async () => {
  noom = await startTestServer();
});

after(async () => {
  await noom?.close();
});

test('wrtc and werift peers exchange audio and video both ways', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', SCENARIO, noom.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.ok(out.split('\n').includes('SCENARIO OK'), `scenario failed (exit ${code}, signal ${signal}):\n${err}`);
});

test('the load tester runs wrtc peers with --engine wrtc', async () => {
  const { report } = await runLoadTest({
    url: noom.url,
    rooms: 1,
    publishers: 1,
    subscribers: 1,
    durationSec: 3,
    rampPerSec: 10,
    processes: 1,
    engine: 'wrtc',
    progress: false,
  });
  assert.equal(report.peers.joined, 2, `failures: ${JSON.stringify(report.failures)}`);
  assert.deepEqual(report.failures, []);
  const subscriber = report.peerDetails.find((p) => p.role === 'subscriber')!;
  assert.deepEqual(subscriber.consumers.map((c) => c.kind).sort(), ['audio', 'video']);
  for (const c of subscriber.consumers) assert.ok(c.packets > 0 && c.bytes > 0, `${c.kind} consumer received nothing`);
  const publisher = report.peerDetails.find((p) => p.role === 'publisher')!;
  for (const p of publisher.producers) assert.ok(p.packetsSent > 0, `${p.kind} producer sent nothing`);
});
