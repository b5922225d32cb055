/**
 * The server's own counts over the run (ServerTotals) as the terminal's "server" block, the
 * `--json` summary's `server` field and the HTML page's table; a server without /metrics is
 * "none (why)" in all three.
 */
import { metricsState, type ServerMetricsReport } from '../serverMetrics.js';
import type { ServerTotals } from '../serverTotals.js';
import type { LoadTestReport, NodeReport } from './types.js';

type Metrics = NodeReport['metrics'];

const orDash = (v: number | undefined, unit = '') => (v === undefined ? '–' : `${v}${unit}`);

/** "12 (ok 10, FORBIDDEN 2)", most frequent result first. */
function joinResults(t: ServerTotals): string {
  const results = Object.entries(t.joins.byResult)
    .sort((a, b) => b[1] - a[1])
    .map(([result, n]) => `${result} ${n}`)
    .join(', ');
  return `${t.joins.total}${results ? ` (${results})` : ''}`;
}

function joinsText(t: ServerTotals): string {
  const d = t.joinDuration;
  return (
    `joins ${joinResults(t)}; server join time ` +
    (d.count === 0 ? 'no samples' : `p50 ${orDash(d.p50Ms)} ms, p95 ${orDash(d.p95Ms)} ms, p99 ${orDash(d.p99Ms)} ms (n=${d.count})`)
  );
}

/** The figures of one server (or the cluster as one), indented under its heading. */
function totalsLines(t: ServerTotals, indent: string): string[] {
  return [
    `${indent}forwarded ${t.packetsForwarded} packets (${(t.bytesForwarded / 1e6).toFixed(1)} MB), retransmitted ${t.packetsRetransmitted}, ` +
      `NACKs received ${t.nacksReceived}`,
    `${indent}keyframe requests to publishers: ${t.keyframeRequests.pli} PLI, ${t.keyframeRequests.fir} FIR`,
    `${indent}${joinsText(t)}`,
    `${indent}worker CPU ${t.workerCpuSec} s, ${orDash(t.workerCpuUsPerPacket, ' µs')} per forwarded packet`,
    ...(t.missing.length > 0 ? [`${indent}not exposed by this server (counted as 0): ${t.missing.join(', ')}`] : []),
  ];
}

function heading(label: string, m: Metrics): string {
  const window = m.totals ? `, totals from ${m.totals.fromSec} s to ${m.totals.toSec} s` : '';
  return `  ${label}: ${metricsState(m)}${window}`;
}

/** The terminal's server block: the server (or the cluster's sum), then each node of a cluster. */
export function serverLines(r: LoadTestReport): string[] {
  const out = [heading('server metrics', r.server), ...(r.server.totals ? totalsLines(r.server.totals, '    ') : [])];
  if (r.nodes.length > 1) {
    for (const n of r.nodes) out.push(heading(`  node ${n.url}`, n.metrics), ...(n.metrics.totals ? totalsLines(n.metrics.totals, '      ') : []));
  }
  return out;
}

/** The `--json` summary's `server`: scrape status, the reason when there are none, totals per node and combined. */
export function serverJson(r: LoadTestReport): unknown {
  const status = (m: Metrics) => ({
    available: m.available,
    state: metricsState(m),
    scrapes: m.scrapes,
    failures: m.failures,
    ...(m.unavailableReason !== undefined ? { unavailableReason: m.unavailableReason } : {}),
    ...(m.totals ? { totals: m.totals } : {}),
  });
  return {
    ...status(r.server),
    ...(r.nodes.length > 1 ? { nodes: r.nodes.map((n) => ({ url: n.url, ...status(n.metrics) })) } : {}),
  };
}

function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The HTML page's table of server totals: one column per node with several, else one. */
export function serverTotalsHtml(r: LoadTestReport): string {
  const columns: [string, ServerMetricsReport | Metrics][] =
    r.nodes.length > 1 ? [['all nodes', r.server], ...r.nodes.map((n): [string, Metrics] => [n.url, n.metrics])] : [['server', r.server]];
  const shown = columns.filter(([, m]) => m.totals);
  if (shown.length === 0) return '';
  const rows: [string, (t: ServerTotals) => string][] = [
    ['window of the totals (s)', (t) => `${t.fromSec} – ${t.toSec}`],
    ['RTP packets forwarded', (t) => String(t.packetsForwarded)],
    ['RTP packets retransmitted (on NACK)', (t) => String(t.packetsRetransmitted)],
    ['NACKs received from consumers', (t) => String(t.nacksReceived)],
    ['keyframe requests to publishers, PLI / FIR', (t) => `${t.keyframeRequests.pli} / ${t.keyframeRequests.fir}`],
    ['joins answered (by result)', (t) => joinResults(t)],
    ['server join time p50 / p95 / p99 (ms)', (t) => `${orDash(t.joinDuration.p50Ms)} / ${orDash(t.joinDuration.p95Ms)} / ${orDash(t.joinDuration.p99Ms)} (n=${t.joinDuration.count})`],
    ['worker CPU (s)', (t) => String(t.workerCpuSec)],
    ['worker CPU per forwarded packet (µs)', (t) => orDash(t.workerCpuUsPerPacket)],
    ['not exposed (counted as 0)', (t) => t.missing.join(', ') || '–'],
  ];
  return `<h3>Counted by the server over the run (counters integrated from the first scrape)</h3>
<table class="wide"><thead><tr><th></th>${shown.map(([label]) => `<th>${esc(label)}</th>`).join('')}</tr></thead><tbody>
${rows.map(([name, f]) => `<tr><th>${esc(name)}</th>${shown.map(([, m]) => `<td>${esc(f(m.totals!))}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
}
