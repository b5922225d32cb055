/**
 * The load tester's /metrics scraper against real HTTP servers: Prometheus text, a page that
 * is not, no server at all, and the server's counters integrated into totals over the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { combineServerReports, metricsState, ServerMetricsScraper } from '../../scripts/loadtest/serverMetrics.js';
import { histogramQuantile } from '../../scripts/loadtest/serverTotals.js';

async function serve(contentType: string, body: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/metrics` };
}

async function scrapeFor(url: string, ms: number) {
  const scraper = new ServerMetricsScraper(url, 100);
  scraper.start();
  await new Promise((r) => setTimeout(r, ms));
  await scraper.stop();
  return scraper.report();
}

test('Prometheus text is scraped, every time', async (t) => {
  const { server, url } = await serve('text/plain; version=0.0.4', '# TYPE noom_peers gauge\nnoom_peers 3\n');
  t.after(() => server.close());
  const r = await scrapeFor(url, 450);
  assert.equal(r.available, true);
  assert.ok(r.scrapes >= 3, `${r.scrapes} scrapes`);
  assert.deepEqual(r.series.map((s) => [s.name, s.points[0]?.v]), [['noom_peers', 3]]);
});

test('a 200 page without samples (a web app answering every path) is "no metrics", not scrapes', async (t) => {
  const { server, url } = await serve('text/html', '<!doctype html><title>app</title>');
  t.after(() => server.close());
  const r = await scrapeFor(url, 450);
  assert.equal(r.available, false);
  assert.equal(r.scrapes, 0);
  assert.equal(r.failures, 1, 'asked once, then left alone');
  assert.match(r.lastError ?? '', /text\/html\) holds no Prometheus samples/);
});

test('a labelled counter that first appears mid-run is counted from 0 at the scrape before it', async (t) => {
  let asked = 0;
  const server = createServer((_req, res) => {
    asked++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    // The first answer has no joins yet; from the second on, 8 joins were made.
    res.end(`noom_peers 1\n${asked >= 2 ? 'noom_joins_total{result="ok"} 8\n' : ''}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const r = await scrapeFor(`http://127.0.0.1:${port}/metrics`, 450);
  const joins = r.series.find((s) => s.name === 'noom_joins_total')!;
  assert.ok(joins, 'joins series');
  // Integrated over the scrape intervals (every scrape has a noom_peers point), the rate
  // gives back the 8 joins.
  const scrapes = r.series.find((s) => s.name === 'noom_peers')!.points.map((p) => p.t);
  const total = joins.points.reduce((n, p) => n + p.v * (p.t - scrapes[scrapes.indexOf(p.t) - 1]!), 0);
  assert.ok(Math.abs(total - 8) < 0.5, `joins integrated: ${total}`);
});

/** A server whose /metrics answers the given pages in turn, then the last one again and again. */
async function servePages(pages: readonly string[]): Promise<{ server: Server; url: string }> {
  let asked = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(pages[Math.min(asked++, pages.length - 1)]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/metrics` };
}

const bucketsPage = (counts: Record<string, number>, sum: number) =>
  Object.entries(counts)
    .map(([le, n]) => `noom_join_duration_seconds_bucket{le="${le}"} ${n}\n`)
    .join('') + `noom_join_duration_seconds_sum ${sum}\nnoom_join_duration_seconds_count ${counts['+Inf']}\n`;

test('counters are integrated from the first scrape, across a reset, and a series born mid-run counts from 0', async (t) => {
  const { server, url } = await servePages([
    // Before the run: whatever the server counted earlier is not the run's.
    'noom_rtp_packets_forwarded_total 1000\nnoom_worker_cpu_seconds_total{worker="0"} 50\nnoom_joins_total{result="ok"} 7\n',
    'noom_rtp_packets_forwarded_total 1600\nnoom_worker_cpu_seconds_total{worker="0"} 50.2\nnoom_joins_total{result="ok"} 9\n',
    // The worker restarted: its CPU starts again from 0; a refused join appears for the first time.
    'noom_rtp_packets_forwarded_total 2000\nnoom_worker_cpu_seconds_total{worker="0"} 0.1\nnoom_joins_total{result="ok"} 9\nnoom_joins_total{result="FORBIDDEN"} 2\n',
    'noom_rtp_packets_forwarded_total 2500\nnoom_worker_cpu_seconds_total{worker="0"} 0.3\nnoom_joins_total{result="ok"} 10\nnoom_joins_total{result="FORBIDDEN"} 2\n',
  ]);
  t.after(() => server.close());
  const r = await scrapeFor(url, 650);
  assert.ok(r.scrapes >= 4, `${r.scrapes} scrapes`);
  const totals = r.totals!;
  assert.ok(totals, 'totals');
  assert.equal(totals.packetsForwarded, 1500);
  // 0.2 before the restart, 0.1 + 0.2 after.
  assert.ok(Math.abs(totals.workerCpuSec - 0.5) < 1e-9, `cpu ${totals.workerCpuSec}`);
  assert.equal(totals.workerCpuUsPerPacket, Math.round((0.5e6 / 1500) * 100) / 100);
  assert.deepEqual(totals.joins, { total: 5, byResult: { ok: 3, FORBIDDEN: 2 } });
  // Counters this server does not have are named, not silently 0.
  assert.ok(totals.missing.includes('noom_rtp_packets_retransmitted_total'));
  assert.ok(!totals.missing.includes('noom_rtp_packets_forwarded_total'));
  assert.ok(totals.toSec > totals.fromSec);
});

test('join latency quantiles come from the bucket deltas between the first and the last scrape, interpolated in the bucket', async (t) => {
  const { server, url } = await servePages([
    bucketsPage({ '0.1': 2, '0.5': 3, '1': 3, '+Inf': 3 }, 0.4),
    // 2 joins ≤ 0.1 s, 8 in (0.1, 0.5], 1 in (0.5, 1], 1 above 1 s during the run.
    bucketsPage({ '0.1': 4, '0.5': 13, '1': 14, '+Inf': 15 }, 6),
  ]);
  t.after(() => server.close());
  const r = await scrapeFor(url, 350);
  const d = r.totals!.joinDuration;
  assert.equal(d.count, 12);
  assert.deepEqual(d.buckets, [
    { le: 0.1, count: 2 },
    { le: 0.5, count: 10 },
    { le: 1, count: 11 },
  ]);
  // p50: the 6th join, 4th of the 8 in (0.1, 0.5]: 0.1 + 0.4 · 4/8 = 0.3 s.
  assert.equal(d.p50Ms, 300);
  // p95: rank 11.4, in the +Inf bucket: the last finite bound.
  assert.equal(d.p95Ms, 1000);
  assert.equal(d.p99Ms, 1000);
});

test('histogramQuantile interpolates inside the first bucket from 0 and skips empty buckets', () => {
  const buckets = [
    { le: 0.01, count: 4 },
    { le: 0.05, count: 4 },
    { le: 0.1, count: 8 },
  ];
  assert.equal(histogramQuantile(buckets, 8, 0.25), 0.005);
  // Rank 6: past the empty (0.01, 0.05] bucket, half-way through (0.05, 0.1].
  assert.ok(Math.abs(histogramQuantile(buckets, 8, 0.75)! - 0.075) < 1e-12);
  assert.equal(histogramQuantile(buckets, 0, 0.5), undefined);
});

test('the nodes of a cluster add up; the histograms merge bucket by bucket', async (t) => {
  const a = await servePages(['noom_rtp_packets_forwarded_total 0\n' + bucketsPage({ '0.1': 0, '+Inf': 0 }, 0), 'noom_rtp_packets_forwarded_total 100\nnoom_worker_cpu_seconds_total{worker="0"} 1\n' + bucketsPage({ '0.1': 1, '+Inf': 1 }, 0.05)]);
  const b = await servePages(['noom_rtp_packets_forwarded_total 0\n' + bucketsPage({ '0.1': 0, '+Inf': 0 }, 0), 'noom_rtp_packets_forwarded_total 300\nnoom_worker_cpu_seconds_total{worker="0"} 1\n' + bucketsPage({ '0.1': 3, '+Inf': 3 }, 0.1)]);
  t.after(() => a.server.close());
  t.after(() => b.server.close());
  const [ra, rb] = await Promise.all([scrapeFor(a.url, 350), scrapeFor(b.url, 350)]);
  const all = combineServerReports([ra, rb]).totals!;
  assert.equal(all.packetsForwarded, 400);
  assert.deepEqual(all.joinDuration.buckets, [{ le: 0.1, count: 4 }]);
  assert.equal(all.joinDuration.count, 4);
  assert.equal(all.workerCpuUsPerPacket, 5000);
});

test('no metrics: a 404 and nothing listening are "none (why)", without totals', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const r404 = await scrapeFor(`http://127.0.0.1:${port}/metrics`, 250);
  server.close();
  await once(server, 'close');
  // The same port, now closed.
  const refused = await scrapeFor(`http://127.0.0.1:${port}/metrics`, 250);
  t.diagnostic(`${metricsState(r404)} | ${metricsState(refused)}`);
  for (const r of [r404, refused]) {
    assert.equal(r.available, false);
    assert.equal(r.totals, undefined);
  }
  assert.match(metricsState(r404), /^none \(http:\/\/127\.0\.0\.1:\d+\/metrics: 404, the server exposes no metrics\)$/);
  assert.match(metricsState(refused), /^none \(fetch failed: ECONNREFUSED\)$/);
  assert.equal(metricsState(combineServerReports([r404, refused])).startsWith('none ('), true);
});
