/** The load tester's /metrics scraper against real HTTP servers: Prometheus text, and a page that is not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { ServerMetricsScraper } from '../../scripts/loadtest/serverMetrics.js';

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
