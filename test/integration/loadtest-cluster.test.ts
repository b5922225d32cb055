/**
 * The load tester against a cluster: two in-process Noom nodes on a real redis-server, one
 * `--url` per node. The JSON report must show every room spread over both nodes, and every
 * peer receiving real RTP from every publisher of its room, from its own node and through
 * the pipes from the other one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NoomServer } from '../../server/src/app.js';
import type { LoadTestReport } from '../../scripts/loadtest/report/types.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startTestServer } from '../support/server.js';

let redis: TestRedis;
let a: NoomServer;
let b: NoomServer;
let outDir: string;

before(async () => {
  redis = await startRedis();
  a = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'load-a' });
  b = await startTestServer({ REDIS_URL: redis.url, NODE_ID: 'load-b' });
  await eventually('the nodes see each other', () => a.cluster!.liveness.isAlive('load-b') && b.cluster!.liveness.isAlive('load-a'));
  outDir = await mkdtemp(join(tmpdir(), 'noom-loadtest-cluster-'));
});

after(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

test('a load test over two nodes spreads every room over both and delivers media across them', async () => {
  const { files } = await runLoadTest({
    url: [a.url, b.url],
    rooms: 2,
    publishers: 2,
    subscribers: 2,
    durationSec: 8,
    rampPerSec: 8,
    processes: 2,
    outDir,
    progress: false,
  });
  assert.ok(files, 'report files written');
  const report = JSON.parse(await readFile(files.json, 'utf8')) as LoadTestReport;
  const urls = [a.url, b.url];

  assert.equal(report.options.url, urls.join(','));
  assert.equal(report.peers.joined, 8, `failures: ${JSON.stringify(report.failures)}`);
  assert.deepEqual(report.failures, []);

  // Peers used both nodes, half each, and each room has peers on both.
  assert.deepEqual(
    report.nodes.map((n) => [n.url, n.peers.planned, n.peers.joined]),
    urls.map((url) => [url, 4, 4]),
  );
  for (const roomId of new Set(report.peerDetails.map((p) => p.roomId))) {
    const nodes = new Set(report.peerDetails.filter((p) => p.roomId === roomId).map((p) => p.url));
    assert.deepEqual([...nodes].sort(), [...urls].sort(), `${roomId} spans both nodes`);
  }

  // Every peer received media from every publisher of its room, across nodes too.
  let crossNode = 0;
  for (const receiver of report.peerDetails) {
    const publishers = report.peerDetails.filter((p) => p.role === 'publisher' && p.roomId === receiver.roomId && p !== receiver);
    for (const publisher of publishers) {
      assert.equal(publisher.producers.length, 2);
      for (const producer of publisher.producers) {
        const got = receiver.consumers.filter((c) => c.producerId === producer.producerId);
        const what = `${receiver.displayName} (${receiver.url}) from ${publisher.displayName} (${publisher.url}), ${producer.kind}`;
        assert.ok(got.length > 0, `${what}: no consumer`);
        assert.ok(got.every((c) => c.packets > 0 && c.bytes > 0), `${what}: nothing received`);
        // The send time stamped in abs-capture-time crosses the pipe between nodes too.
        assert.ok(got.every((c) => c.latencyMs && c.latencyMs.count > 0 && c.jitterMs !== undefined), `${what}: no latency or jitter`);
      }
      if (publisher.url !== receiver.url) crossNode++;
    }
  }
  // Each room: 2 subscribers with one publisher on the other node, 2 publishers on different nodes.
  assert.equal(crossNode, 2 * (2 + 2));
  for (const n of report.nodes) {
    assert.ok(n.received.fromOtherNodes.packets > 0 && n.received.fromOtherNodes.bytes > 0, `${n.url}: nothing from the other node`);
    assert.ok(n.received.packets > n.received.fromOtherNodes.packets);
  }

  // Each node's /metrics was sampled, its series labelled with the node.
  for (const url of urls) {
    const node = report.nodes.find((n) => n.url === url)!;
    assert.equal(node.metrics.available, true, `${url}/metrics scraped`);
    assert.equal(node.metrics.url, `${url}/metrics`);
    assert.ok(report.server.series.some((s) => s.name === 'noom_peers' && s.labels.node === url), `${url}: noom_peers series`);
  }
  assert.equal(report.server.scrapes, report.nodes.reduce((n, node) => n + node.metrics.scrapes, 0));

  const html = await readFile(files.html, 'utf8');
  assert.match(html, /<h2>Nodes<\/h2>/);
});

test('with --rejoin, the peers of a draining node move to the other node and media never stops', async () => {
  const running = runLoadTest({
    url: [a.url, b.url],
    rooms: 1,
    publishers: 2,
    subscribers: 2,
    durationSec: 10,
    rampPerSec: 8,
    processes: 1,
    progress: false,
    rejoin: true,
    roomPrefix: 'mv',
  });
  // Two of the four peers join through node a.
  await eventually('2 peers on node a', () => a.rooms.get('mv-1')?.peers.size ?? 0, (n) => n === 2, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 2000));
  const end = await a.drain(10_000);
  const { report } = await running;
  assert.equal(end, 'empty', 'every peer left the draining node before its deadline');
  assert.equal(report.health.moves, 2);
  assert.deepEqual(
    report.peerDetails.filter((p) => p.moves).map((p) => [p.url, p.endedOn]),
    [
      [a.url, b.url],
      [a.url, b.url],
    ],
  );
  assert.equal(report.health.failedAfterJoin, 0);
  assert.deepEqual(report.health.episodes, [], 'no peer went without media');
  assert.deepEqual([report.consumers.expected, report.consumers.actual], [12, 12]);
  assert.equal(report.verdict.pass, true, JSON.stringify(report.verdict.checks.filter((c) => !c.pass)));
});
