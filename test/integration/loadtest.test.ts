/**
 * The load tester end to end against a real in-process Noom server: child processes of
 * synthetic peers publish and consume real RTP through mediasoup, and the run ends with
 * both report files written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NoomServer } from '../../server/src/app.js';
import { startTestServer } from '../support/server.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';

let noom: NoomServer;
let outDir: string;

before(async () => {
  noom = await startTestServer();
  outDir = await mkdtemp(join(tmpdir(), 'noom-loadtest-'));
});

after(async () => {
  await noom?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

test('a small load test delivers media to every subscriber and writes both reports', async () => {
  const { report, files } = await runLoadTest({
    url: noom.url,
    rooms: 1,
    publishers: 2,
    subscribers: 6,
    durationSec: 10,
    rampPerSec: 8,
    processes: 2,
    outDir,
    progress: false,
  });

  assert.equal(report.peers.planned, 8);
  assert.equal(report.peers.joined, 8, `failures: ${JSON.stringify(report.failures)}`);
  assert.deepEqual(report.failures, []);

  const subscribers = report.peerDetails.filter((p) => p.role === 'subscriber');
  assert.equal(subscribers.length, 6);
  for (const s of subscribers) {
    // Two publishers × (audio + video), every consumer with media that actually arrived.
    assert.equal(s.consumers.length, 4, `${s.displayName} consumers`);
    for (const c of s.consumers) {
      assert.ok(c.packets > 0, `${s.displayName}: ${c.kind} consumer ${c.consumerId} received nothing`);
      assert.ok(c.bytes > 0);
    }
    assert.ok(s.firstVideoMs !== undefined && s.firstAudioMs !== undefined);
  }
  const publishers = report.peerDetails.filter((p) => p.role === 'publisher');
  for (const p of publishers) {
    assert.equal(p.producers.length, 2);
    // Each publisher consumes the other one.
    assert.equal(p.consumers.length, 2);
    for (const c of p.consumers) assert.ok(c.packets > 0, `${p.displayName}: ${c.kind} got nothing`);
  }
  assert.equal(report.tracks.length, 4);
  assert.equal(report.firstRtpMs.any.count, 6);
  assert.equal(report.joinLatencyMs.ack.count, 8);
  assert.ok(report.timeline.length > 0);

  assert.ok(files, 'report files written');
  const json = JSON.parse(await readFile(files.json, 'utf8')) as typeof report;
  assert.equal(json.peers.joined, 8);
  const html = await readFile(files.html, 'utf8');
  assert.match(html, /<canvas id="c-video-kbps">/);
  assert.match(html, /Chart\.js v4/, 'Chart.js inlined');
  assert.doesNotMatch(html, /<script[^>]+src=/, 'no external scripts');

  // The test server exposes /metrics: the server side must have been sampled.
  assert.equal(report.server.available, true, 'server /metrics scraped');
  assert.ok(report.server.series.length > 0);

  // One server: the report names it as before, with its one node and no node labels.
  assert.equal(report.options.url, noom.url);
  assert.ok(report.peerDetails.every((p) => p.url === noom.url));
  assert.deepEqual(report.nodes.map((n) => [n.url, n.peers.joined, n.metrics.scrapes]), [[noom.url, 8, report.server.scrapes]]);
  assert.ok(report.server.series.every((s) => s.labels.node === undefined));
  assert.doesNotMatch(html, /<h2>Nodes<\/h2>/);

  // A clean run passes every check; the page says so.
  assert.equal(report.verdict.pass, true, JSON.stringify(report.verdict.checks.filter((c) => !c.pass)));
  assert.deepEqual([report.consumers.expected, report.consumers.missing], [2 * 2 * 7, 0]);
  assert.match(html, /Verdict: <span class="good">PASS<\/span>/);
  // The page's own chart script at least parses (the last inline script).
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  assert.doesNotThrow(() => new Function(scripts.at(-1)!), 'chart script parses');
});
