/**
 * The report as one self-contained HTML page: Chart.js (UMD build) and the report data are
 * inlined, so the file opens offline and can be archived or mailed as is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Summary } from '../stats.js';
import { metricsState } from '../serverMetrics.js';
import { serverTotalsHtml } from './serverSummary.js';
import type { LoadTestReport, NodeReport } from './types.js';
import { simulcastSection } from './layers.js';

const require = createRequire(import.meta.url);

let chartJs: string | undefined;
function chartJsSource(): string {
  // The package exports only its module builds; the UMD file sits next to them.
  chartJs ??= readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  return chartJs;
}

function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside a <script> element: no sequence may close the element or open a comment. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const fmt = (v: number | undefined, digits = 0) => (v === undefined ? '–' : v.toFixed(digits));

/** Whole ms, with a tenth below 10 ms: loopback latencies and jitter are a few ms. */
const fmtMs = (v: number | undefined) => fmt(v, v !== undefined && Math.abs(v) < 10 ? 1 : 0);

function summaryRow(name: string, s: Summary): string {
  return `<tr><th>${esc(name)}</th><td>${s.count}</td><td>${fmtMs(s.p50)}</td><td>${fmtMs(s.p95)}</td><td>${fmtMs(s.p99)}</td><td>${fmtMs(s.min)}</td><td>${fmtMs(s.max)}</td></tr>`;
}

function summaryTable(rows: [string, Summary][]): string {
  return `<table><thead><tr><th></th><th>n</th><th>p50</th><th>p95</th><th>p99</th><th>min</th><th>max</th></tr></thead><tbody>${rows
    .map(([n, s]) => summaryRow(n, s))
    .join('')}</tbody></table>`;
}

function keyValues(rows: [string, unknown][]): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function metricsStatus(m: NodeReport['metrics']): string {
  return m.available ? `${metricsState(m)} of ${m.url}` : metricsState(m);
}

/** With several servers (a cluster), each node's share of the peers and of the media. */
function nodesSection(nodes: NodeReport[]): string {
  if (nodes.length < 2) return '';
  const rows = nodes.map(
    (n) =>
      `<tr><td>${esc(n.url)}</td><td>${n.peers.planned} / ${n.peers.joined}</td><td>${n.peers.failed} / ${n.peers.withoutMedia}</td>` +
      `<td>${fmt(n.joinAckMs.p50)} / ${fmt(n.joinAckMs.p95)}</td><td>${n.received.packets}</td><td>${n.received.fromOtherNodes.packets}</td>` +
      `<td>${esc(metricsStatus(n.metrics))}</td></tr>`,
  );
  return `<h2>Nodes</h2>
<p class="muted">The peers of each room are dealt out over the nodes in turn; the server charts below show each node as its own line (node=…).</p>
<table class="wide"><thead><tr><th>node</th><th>peers planned / joined</th><th>failed / without media</th><th>join ack p50 / p95 (ms)</th><th>packets received</th><th>of them from other nodes' publishers</th><th>metrics</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}

/** Pass or fail, each check with what was measured against its limit. */
function verdictSection(r: LoadTestReport): string {
  const v = r.verdict;
  const rows = v.checks
    .map((c) => `<tr><td class="${c.pass ? 'good' : 'bad'}">${c.pass ? 'pass' : 'FAIL'}</td><td>${esc(c.name)}</td><td>${esc(c.detail)}</td></tr>`)
    .join('');
  return `<h2>Verdict: <span class="${v.pass ? 'good' : 'bad'}">${v.pass ? 'PASS' : 'FAIL'}</span></h2>
${r.stoppedEarly ? `<p class="bad">Stopped early at ${esc(r.stoppedEarly.t)} s: ${esc(r.stoppedEarly.reason)}</p>` : ''}
<table class="wide"><thead><tr><th></th><th>check</th><th>measured against the limit</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The times joined peers were down: without media they should receive, or failed for good. */
function downSection(r: LoadTestReport): string {
  const h = r.health;
  const missing = r.consumers.tracks.filter((t) => t.actual < t.expected);
  return `<h2>Peers down (${h.episodes.length})</h2>
<p class="muted">A joined peer is down while a consumer has had no RTP for more than ${esc(h.mediaGapLimitSec)} s, or a publisher of its room has had no consumer in it for that long, and from the moment it fails for good (room closed or kicked, connection lost). ${esc(h.peerSecondsDown)} peer-seconds down in all.</p>
${
  h.episodes.length
    ? `<table class="wide"><thead><tr><th>from (s)</th><th>to (s)</th><th>peer</th><th>room</th><th>reason</th></tr></thead><tbody>${h.episodes
        .map((e) => `<tr><td>${e.from.toFixed(1)}</td><td>${e.open ? 'end' : e.to.toFixed(1)}</td><td>${esc(e.displayName)}</td><td>${esc(e.roomId)}</td><td>${esc(e.reason)}</td></tr>`)
        .join('')}</tbody></table>`
    : ''
}
<p>Consumers at the end: ${r.consumers.actual} of ${r.consumers.expected} expected receiving.</p>
${
  missing.length
    ? `<table class="wide"><thead><tr><th>track</th><th>receiving</th><th>expected</th></tr></thead><tbody>${missing
        .map((t) => `<tr><td>${esc(t.label)}</td><td>${t.actual}</td><td>${t.expected}</td></tr>`)
        .join('')}</tbody></table>`
    : ''
}`;
}

const CHART_SCRIPT = `
const R = JSON.parse(document.getElementById('report-data').textContent);
const palette = ['#2563eb','#dc2626','#16a34a','#d97706','#7c3aed','#0891b2','#db2777','#65a30d','#ea580c','#4f46e5','#0d9488','#b91c1c'];
const MAX_TRACK_LINES = 24;
function chart(id, datasets, yTitle, xTitle = 's') {
  const el = document.getElementById(id);
  if (!el) return;
  if (datasets.every(d => d.data.length === 0)) { el.replaceWith(Object.assign(document.createElement('p'), { textContent: 'no data', className: 'muted' })); return; }
  new Chart(el, {
    type: 'line',
    data: { datasets: datasets.map((d, i) => ({ borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 0, borderWidth: 1.5, tension: 0.2, ...d })) },
    options: { animation: false, parsing: false, normalized: true, responsive: true, maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: { x: { type: 'linear', title: { display: true, text: xTitle } }, y: { beginAtZero: true, title: { display: true, text: yTitle } } },
      plugins: { legend: { display: datasets.length <= MAX_TRACK_LINES, labels: { boxWidth: 10 } } } },
  });
}
const tl = R.timeline;
const xy = (pts, f) => pts.map(p => ({ x: p.t, y: f(p) }));
chart('c-peers', [
  { label: 'started', data: xy(tl, p => p.started) },
  { label: 'joined', data: xy(tl, p => p.joined) },
  { label: 'receiving', data: xy(tl, p => p.receiving) },
  { label: 'failed', data: xy(tl, p => p.failed) },
  { label: 'down (joined, failed or without media)', data: xy(tl, p => p.down ?? 0) },
], 'peers');
chart('c-bitrate', [
  { label: 'received (all peers)', data: xy(tl, p => p.rxKbps / 1000) },
  { label: 'sent (all publishers)', data: xy(tl, p => p.txKbps / 1000) },
], 'Mbit/s');
chart('c-loss', [{ label: 'loss', data: xy(tl, p => p.lossPct) }], '% of packets');
const sub = R.firstRtpBySubscriber;
chart('c-first-rtp', [
  { label: 'audio', data: sub.filter(p => p.audio !== undefined).map(p => ({ x: p.order, y: p.audio })), showLine: false, pointRadius: 3 },
  { label: 'video', data: sub.filter(p => p.video !== undefined).map(p => ({ x: p.order, y: p.video })), showLine: false, pointRadius: 3 },
], 'ms after join ack', 'subscriber');
const qc = R.qualityByConsumer;
chart('c-latency', [
  { label: 'audio latency p95', data: qc.audio.latency, pointRadius: 0 },
  { label: 'video latency p95', data: qc.video.latency, pointRadius: 0 },
  { label: 'audio jitter', data: qc.audio.jitter, pointRadius: 0, borderDash: [4, 3] },
  { label: 'video jitter', data: qc.video.jitter, pointRadius: 0, borderDash: [4, 3] },
], 'ms', '% of consumers');
chart('c-generator', [
  { label: 'load-test processes', data: xy(tl, p => p.generatorCpuPct) },
  { label: 'busiest process', data: xy(tl, p => p.generatorBusiestChildPct ?? 0) },
], '% of a core');
chart('c-generator-stall', [{ label: 'longest event-loop stall of any process', data: xy(tl, p => p.generatorLoopDelayMaxMs ?? 0) }], 'ms');
chart('c-rtcp', [
  { label: 'NACKs sent by receivers', data: xy(tl, p => p.nacksSent) },
  { label: 'PLIs sent by receivers', data: xy(tl, p => p.plisSent) },
  { label: 'NACKed packets at publishers', data: xy(tl, p => p.nacksReceived) },
  { label: 'PLI/FIR at publishers', data: xy(tl, p => p.plisReceived) },
  { label: 'keyframe jumps', data: xy(tl, p => p.keyframeJumps) },
], 'per interval');
for (const kind of ['video', 'audio']) {
  const tracks = R.tracks.filter(t => t.kind === kind);
  const shown = tracks.length <= MAX_TRACK_LINES ? tracks : [];
  const mean = (f) => {
    const byT = new Map();
    for (const t of tracks) for (const p of t.points) { const a = byT.get(p.t) ?? []; a.push(f(p)); byT.set(p.t, a); }
    return [...byT].sort((a, b) => a[0] - b[0]).map(([x, v]) => ({ x, y: v.reduce((s, n) => s + n, 0) / v.length }));
  };
  // Past a few dozen tracks one line each is unreadable: the spread over the tracks instead.
  const band = (f) => {
    const byT = new Map();
    for (const t of tracks) for (const p of t.points) { const a = byT.get(p.t) ?? []; a.push(f(p)); byT.set(p.t, a); }
    const rows = [...byT].sort((a, b) => a[0] - b[0]).map(([x, v]) => [x, v.sort((a, b) => a - b)]);
    const q = (v, p) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p / 100 * v.length) - 1))];
    return [
      { label: 'worst track (max)', data: rows.map(([x, v]) => ({ x, y: v[v.length - 1] })), borderDash: [4, 3] },
      { label: 'p90 of tracks', data: rows.map(([x, v]) => ({ x, y: q(v, 90) })) },
      { label: 'median track', data: rows.map(([x, v]) => ({ x, y: q(v, 50) })), borderWidth: 3 },
      { label: 'p10 of tracks', data: rows.map(([x, v]) => ({ x, y: q(v, 10) })) },
    ];
  };
  const lines = (f) => tracks.length <= MAX_TRACK_LINES
    ? [{ label: 'mean of tracks', data: mean(f), borderWidth: 3 }, ...shown.map(t => ({ label: t.label, data: xy(t.points, f) }))]
    : band(f);
  chart('c-' + kind + '-kbps', lines(p => p.kbps), 'kbit/s per consumer');
  chart('c-' + kind + '-loss', lines(p => p.lossPct), '% lost');
}
const groups = new Map();
for (const s of R.server.series) {
  const g = groups.get(s.name) ?? []; g.push(s); groups.set(s.name, g);
}
const host = document.getElementById('server-charts');
for (const [name, series] of groups) {
  const box = document.createElement('div'); box.className = 'chart';
  const h = document.createElement('h3'); h.textContent = name + (series[0].unit ? ' (' + series[0].unit + ')' : '');
  const canvas = document.createElement('canvas'); canvas.id = 's-' + name;
  box.append(h, canvas); host.append(box);
  chart(canvas.id, series.map(s => ({ label: Object.entries(s.labels).map(([k, v]) => k + '=' + v).join(' ') || name, data: s.points.map(p => ({ x: p.t, y: p.v })) })), series[0].unit);
}
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px; padding: 0 1rem; color: #111; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { font-size: .95rem; margin: .5rem 0; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { padding: .2rem .6rem; text-align: right; border-bottom: 1px solid #eee; }
th:first-child, table.kv td { text-align: left; } .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1rem; }
.chart { height: 300px; position: relative; padding-bottom: 2rem; } .muted { color: #777; } .bad { color: #b91c1c; } .good { color: #15803d; }
table.wide td, table.wide th { text-align: left; }
`;

/** Points of a curve at most this long: the page stays light with thousands of consumers. */
const CURVE_POINTS = 200;

/** Sorted values as { x: % of values at or below, y }, thinned to CURVE_POINTS. */
function sortedCurve(values: number[]): { x: number; y: number }[] {
  const v = [...values].sort((a, b) => a - b);
  const step = Math.max(1, v.length / CURVE_POINTS);
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < v.length; i += step) {
    const k = Math.floor(i);
    out.push({ x: Math.round(((k + 1) / v.length) * 1000) / 10, y: v[k]! });
  }
  if (v.length > 0 && out.at(-1)?.x !== 100) out.push({ x: 100, y: v[v.length - 1]! });
  return out;
}

/** Each kind's consumers sorted by latency p95 and by jitter: the spread over consumers at a glance. */
function qualityCurves(r: LoadTestReport): Record<'audio' | 'video', { latency: { x: number; y: number }[]; jitter: { x: number; y: number }[] }> {
  const of = (kind: 'audio' | 'video') => {
    const consumers = r.peerDetails.flatMap((p) => p.consumers).filter((c) => c.kind === kind);
    return {
      latency: sortedCurve(consumers.flatMap((c) => (c.latencyMs ? [c.latencyMs.p95] : []))),
      jitter: sortedCurve(consumers.flatMap((c) => (c.jitterMs !== undefined ? [c.jitterMs] : []))),
    };
  };
  return { audio: of('audio'), video: of('video') };
}

export function renderHtml(r: LoadTestReport): string {
  const o = r.options;
  const failures = r.failures.slice(0, 500);
  const chartBox = (id: string, title: string) => `<div class="chart"><h3>${esc(title)}</h3><canvas id="${id}"></canvas></div>`;
  const serverStatus = metricsStatus(r.server);
  const serverMeans = r.server.series
    .filter((s) => s.mean !== undefined)
    .map((s) => `<tr><th>${esc(s.key)}</th><td>${fmt(s.mean, 1)}</td><td>${fmt(s.max, 1)}</td><td>${esc(s.unit)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Noom load test ${esc(r.startedAt)}</title><style>${STYLE}</style></head>
<body>
<h1>Noom load test — ${esc(o.rooms)} room(s) × (${esc(o.publishersMax !== undefined ? `${o.publishers}–${o.publishersMax}` : o.publishers)} publishers + ${esc(o.subscribers)} subscribers)</h1>
<p class="muted">${esc(r.startedAt)} → ${esc(r.endedAt)} (${esc(r.elapsedSec)} s)${r.interrupted ? ' — <strong class="bad">interrupted</strong>' : ''}</p>
${verdictSection(r)}
<div class="grid"><div>
<h2>Run</h2>
${keyValues([
  [r.nodes.length > 1 ? 'servers (cluster nodes)' : 'server', o.url],
  ['hold after ramp', `${o.durationSec} s`],
  ['ramp', `${o.rampPerSec} peers/s`],
  ['processes', o.processes],
  ['peer engine', o.engine],
  ['rooms', `${o.roomPrefix}-1 … ${o.roomPrefix}-${o.rooms}`],
  ['peers planned / started / joined', `${r.peers.planned} / ${r.peers.started} / ${r.peers.joined}`],
  ['failed / joined without media', `${r.peers.failed} / ${r.peers.withoutMedia}`],
  ['packets received / lost', `${r.totals.packetsReceived} / ${r.totals.lost} (${r.totals.lossPct} %)`],
  ['NACKs / PLIs sent by receivers', `${r.totals.nacksSent} / ${r.totals.plisSent}`],
  ['NACKed packets / PLIs / FIRs at publishers', `${r.totals.nacksReceived} / ${r.totals.plisReceived} / ${r.totals.firsReceived}`],
  ['keyframe jumps (answers to PLI/FIR)', r.totals.keyframeJumps],
  ['load generator CPU, mean / peak', `${r.generatorCpuPct.mean} / ${r.generatorCpuPct.max} % of a core`],
  ['busiest load-test process, peak / longest stall', `${r.generator.busiestChildPeakPct} % of a core / ${r.generator.loopDelayMaxMs} ms`],
  ['datagrams dropped on the load-test processes\' full sockets', r.generator.socketDrops ?? 'not readable'],
  ['kernel UDP drops, full receive buffers (this machine, server included if here)', r.generator.udp ? r.generator.udp.rcvbufErrors : 'not readable'],
  ['warnings', r.warnings.count],
  ...(r.speakers
    ? ([
        [
          `speaker turns of ${r.speakers.turnSec} s: announced / lived through by members`,
          `${r.speakers.followed} / ${r.speakers.turns} (${r.speakers.followedPct} %), p50 ${fmt(r.speakers.delayMs.p50, 0)} ms, p95 ${fmt(r.speakers.delayMs.p95, 0)} ms after the turn began`,
        ],
        ['speaker announcements out of turn', r.speakers.wrong],
      ] satisfies [string, unknown][])
    : []),
])}
</div><div>
<h2>Latency (ms)</h2>
${summaryTable([
  ['room:join ack', r.joinLatencyMs.ack],
  ['peer setup (connect → consuming)', r.joinLatencyMs.setup],
  ['first RTP, any (subscribers)', r.firstRtpMs.any],
  ['first RTP, audio', r.firstRtpMs.audio],
  ['first RTP, video', r.firstRtpMs.video],
  [`end-to-end latency p50 (${r.mediaQuality.measured}/${r.mediaQuality.consumers} consumers)`, r.mediaQuality.latencyP50Ms],
  ['end-to-end latency p95 (consumers)', r.mediaQuality.latencyP95Ms],
  ['jitter (consumers)', r.mediaQuality.jitterMs],
])}
<p class="muted">First RTP is measured from the room:join ack to the first packet decrypted on a consumer. End-to-end latency: each
packet's send time (abs-capture-time, wall clock) to its arrival at the subscriber; every figure here is over consumers (each
consumer's own p50 or p95), and it needs the peers' clocks to agree (one machine, or synchronized). Jitter: RFC 3550, per consumer.</p>
${chartBox('c-first-rtp', 'First RTP per subscriber, in join order')}
${chartBox('c-latency', 'End-to-end latency p95 and jitter, consumers sorted')}
</div></div>
${nodesSection(r.nodes)}
<h2>Peers and traffic</h2>
<div class="grid">${chartBox('c-peers', 'Peers')}${chartBox('c-bitrate', 'Bitrate, all peers')}${chartBox('c-loss', 'Loss, all consumers')}${chartBox('c-rtcp', 'NACK / PLI')}${chartBox('c-generator', 'Load generator CPU (a saturated generator distorts every figure)')}${chartBox('c-generator-stall', 'Load generator event-loop stalls')}</div>
<h2>Per track</h2>
<div class="grid">${chartBox('c-video-kbps', 'Video bitrate per consumer')}${chartBox('c-video-loss', 'Video loss')}${chartBox('c-audio-kbps', 'Audio bitrate per consumer')}${chartBox('c-audio-loss', 'Audio loss')}</div>
<table class="wide"><thead><tr><th>track</th><th>consumers</th><th>packets rx</th><th>lost</th><th>NACKs</th><th>PLIs</th><th>packets tx</th><th>PLI/FIR at publisher</th><th>keyframe jumps</th><th>latency p50 / p95 (ms)</th><th>jitter p50 / p95 (ms)</th></tr></thead><tbody>
${r.tracks
  .map(
    (t) =>
      `<tr><td>${esc(t.label)}</td><td>${t.totals.consumers}</td><td>${t.totals.packetsReceived}</td><td>${t.totals.lost}</td><td>${t.totals.nacksSent}</td><td>${t.totals.plisSent}</td><td>${t.totals.packetsSent}</td><td>${t.totals.plisReceived + t.totals.firsReceived}</td><td>${t.totals.keyframeJumps}</td><td>${fmt(t.quality?.latencyP50Ms, 1)} / ${fmt(t.quality?.latencyP95Ms, 1)}</td><td>${fmt(t.quality?.jitterP50Ms, 1)} / ${fmt(t.quality?.jitterP95Ms, 1)}</td></tr>`,
  )
  .join('')}
</tbody></table>
${r.simulcast ? simulcastSection(r.simulcast) : ''}
<h2>Server</h2>
<p>Server metrics: ${esc(serverStatus)}</p>
${serverTotalsHtml(r)}
${serverMeans ? `<table class="wide"><thead><tr><th>series</th><th>mean</th><th>max</th><th>unit</th></tr></thead><tbody>${serverMeans}</tbody></table>` : ''}
<div class="grid" id="server-charts"></div>
${downSection(r)}
<h2>Failures (${r.failures.length})</h2>
${
  r.failureReasons.length
    ? `<table class="wide"><thead><tr><th>reason</th><th>count</th></tr></thead><tbody>${r.failureReasons
        .map((f) => `<tr><td>${esc(f.reason)}</td><td>${f.count}</td></tr>`)
        .join('')}</tbody></table>
<table class="wide"><thead><tr><th>t (s)</th><th>peer</th><th>room</th><th>role</th><th>phase</th><th>reason</th></tr></thead><tbody>${failures
        .map((f) => `<tr><td>${f.t.toFixed(1)}</td><td>${esc(f.displayName)}</td><td>${esc(f.roomId)}</td><td>${f.role}</td><td>${f.phase}</td><td>${esc(f.reason)}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p>None.</p>'
}
${r.warnings.examples.length ? `<h2>Warnings (${r.warnings.count})</h2><ul>${r.warnings.examples.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
<script id="report-data" type="application/json">${scriptJson({
    ...r,
    // Per-peer details stay in the JSON report; the page needs only first-RTP times.
    peerDetails: undefined,
    firstRtpBySubscriber: r.peerDetails
      .filter((p) => p.role === 'subscriber')
      .map((p, order) => ({ order: order + 1, audio: p.firstAudioMs, video: p.firstVideoMs })),
    qualityByConsumer: qualityCurves(r),
  })}</script>
<script>${chartJsSource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}
