/**
 * The server's own counts in the load tester's report, checked against /metrics read by the
 * test itself before and after the run: a real server, real werift peers, and UDP loss made
 * with nftables in the test namespace so that consumers NACK and the server retransmits.
 * Against an endpoint that is not there, the report says "none (why)" everywhere.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NoomServer } from '../../server/src/app.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';
import { serverJson, serverLines } from '../../scripts/loadtest/report/serverSummary.js';
import { blackoutUnavailable, startUdpLoss } from '../support/blackout.js';
import { scrapeMetrics } from '../support/metrics.js';
import { startTestServer } from '../support/server.js';

let noom: NoomServer;
let outDir: string;

before(async () => {
  noom = await startTestServer();
  outDir = await mkdtemp(join(tmpdir(), 'noom-loadtest-totals-'));
});

after(async () => {
  await noom?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

const delta = (a: Map<string, number>, b: Map<string, number>, key: string) => (b.get(key) ?? 0) - (a.get(key) ?? 0);

test('the report counts what the server counted: forwarded, retransmitted, keyframe requests, joins and their times', async (t) => {
  const lossUnavailable = blackoutUnavailable();
  const before = await scrapeMetrics(noom.url);
  // 3 %: enough for NACKs and retransmissions in a few seconds, little enough for every handshake.
  const loss = lossUnavailable ? undefined : startUdpLoss(3);
  t.after(() => loss?.end());
  const { report, files } = await runLoadTest({
    url: noom.url,
    rooms: 1,
    publishers: 2,
    subscribers: 2,
    durationSec: 6,
    rampPerSec: 8,
    processes: 1,
    roomPrefix: 'totals',
    outDir,
    progress: false,
  });
  loss?.end();
  const afterRun = await scrapeMetrics(noom.url);
  const d = (key: string) => delta(before, afterRun, key);

  const totals = report.server.totals;
  assert.ok(totals, `no totals: ${JSON.stringify(report.server)}`);
  assert.deepEqual(totals.missing, []);
  t.diagnostic(serverLines(report).join('\n'));

  // Every join was answered between the tester's first and last scrape.
  assert.equal(report.peers.joined, 4, JSON.stringify(report.failures));
  assert.equal(d('noom_join_duration_seconds_count'), 4);
  assert.equal(totals.joinDuration.count, 4);
  assert.deepEqual(totals.joins.byResult, { ok: 4 });
  for (const b of totals.joinDuration.buckets) assert.equal(b.count, d(`noom_join_duration_seconds_bucket{le="${b.le}"}`), `le ${b.le}`);
  assert.ok(totals.joinDuration.p50Ms !== undefined && totals.joinDuration.p50Ms > 0);
  assert.ok(totals.joinDuration.p50Ms <= totals.joinDuration.p95Ms! && totals.joinDuration.p95Ms! <= totals.joinDuration.p99Ms!);

  // New video consumers ask their publisher for a keyframe through the server.
  const pli = d('noom_keyframe_requests_total{type="pli"}');
  assert.ok(totals.keyframeRequests.pli > 0, `PLI to publishers: ${totals.keyframeRequests.pli}`);
  assert.ok(totals.keyframeRequests.pli <= pli, `${totals.keyframeRequests.pli} PLI in the report, ${pli} by /metrics`);

  // The totals reach the end of the hold: a closing scrape is taken before the peers leave
  // (their consumers' last counts leave with them).
  const holdEnd = (report.peers.planned - 1) / report.options.rampPerSec + report.options.durationSec;
  assert.ok(totals.toSec >= holdEnd, `totals end at ${totals.toSec} s, the hold at ${holdEnd} s`);
  // Packets forwarded: the report's window ends with the closing scrape, just before the peers leave.
  const forwarded = d('noom_rtp_packets_forwarded_total');
  assert.ok(totals.packetsForwarded > 0);
  assert.ok(totals.packetsForwarded <= forwarded && totals.packetsForwarded >= forwarded * 0.98, `${totals.packetsForwarded} in the report, ${forwarded} by /metrics`);
  // The peers' own count of what they received agrees with what the server says it sent them.
  const received = report.totals.packetsReceived;
  t.diagnostic(`forwarded ${totals.packetsForwarded} (/metrics ${forwarded}), received by peers ${received}, lost ${report.totals.lost}`);

  // Worker CPU per forwarded packet is the two totals divided.
  let cpu = 0;
  for (const [key] of afterRun) if (key.startsWith('noom_worker_cpu_seconds_total{')) cpu += d(key);
  assert.ok(totals.workerCpuSec > 0 && totals.workerCpuSec <= cpu + 0.01, `${totals.workerCpuSec} s in the report, ${cpu} s by /metrics`);
  assert.ok(Math.abs(totals.workerCpuUsPerPacket! - (totals.workerCpuSec * 1e6) / totals.packetsForwarded) < 0.01);

  if (loss) {
    const retransmitted = d('noom_rtp_packets_retransmitted_total');
    assert.ok(totals.nacksReceived > 0, 'NACKs from the consumers');
    assert.ok(totals.packetsRetransmitted > 0, 'retransmissions');
    assert.ok(totals.packetsRetransmitted <= retransmitted, `${totals.packetsRetransmitted} in the report, ${retransmitted} by /metrics`);
    assert.ok(totals.nacksReceived <= d('noom_rtp_nacks_received_total'));
  } else {
    t.diagnostic(`retransmissions not induced: ${lossUnavailable}`);
  }

  // The same figures in the terminal block, the --json summary and the written reports.
  assert.ok(serverLines(report).some((l) => l.includes(`retransmitted ${totals.packetsRetransmitted},`)));
  assert.deepEqual((serverJson(report) as { totals: unknown }).totals, totals);
  const json = JSON.parse(await readFile(files!.json, 'utf8')) as typeof report;
  assert.deepEqual(json.server.totals, totals);
  assert.match(await readFile(files!.html, 'utf8'), new RegExp(`<th>RTP packets retransmitted \\(on NACK\\)</th><td>${totals.packetsRetransmitted}</td>`));
});

test('no /metrics where the tester looks: "server metrics: none (why)" in the terminal, the JSON and the page', async () => {
  const { report, files } = await runLoadTest({
    url: noom.url,
    metricsUrl: `${noom.url}/api/no-such-metrics`,
    rooms: 1,
    publishers: 1,
    subscribers: 1,
    durationSec: 2,
    rampPerSec: 8,
    processes: 1,
    roomPrefix: 'nometrics',
    outDir,
    progress: false,
  });
  assert.equal(report.peers.joined, 2);
  assert.equal(report.server.available, false);
  assert.equal(report.server.totals, undefined);
  const lines = serverLines(report);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^ {2}server metrics: none \(.*no-such-metrics.*\)$/);
  assert.match((serverJson(report) as { state: string }).state, /^none \(/);
  assert.match(await readFile(files!.html, 'utf8'), /<p>Server metrics: none \(.*no-such-metrics/);
});
