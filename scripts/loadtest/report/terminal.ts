/**
 * Per-peer and per-track tables for the terminal summary, as `lk load-test` prints them:
 * plain text columns, one row per peer (or track), worst first so a long table still
 * starts with what matters.
 */
import type { LoadTestReport } from './types.js';

/** Beyond this many rows a table only shows its worst ones and says how many it left out. */
export const TABLE_ROWS = 30;

export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const pct = (lost: number, packets: number) => (packets + lost > 0 ? ((lost / (packets + lost)) * 100).toFixed(2) : '–');
const ms = (v: number | undefined) => (v === undefined ? '–' : String(Math.round(v)));
/** Latency and jitter: a tenth of a ms tells loopback figures apart. */
const fine = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
/** The worst of a peer's consumers, or undefined when none measured it. */
const worst = (values: (number | undefined)[]) => {
  const v = values.filter((x): x is number => x !== undefined);
  return v.length > 0 ? Math.max(...v) : undefined;
};

/**
 * One row per peer that joined: first RTP, consumers receiving, packets, loss, latency p95
 * and jitter of its worst consumer, time down.
 */
export function peerTable(r: LoadTestReport, maxRows = TABLE_ROWS): string[] {
  const down = new Map<number, number>();
  for (const e of r.health.episodes) down.set(e.index, (down.get(e.index) ?? 0) + (e.to - e.from));
  const failed = new Map(r.failures.map((f) => [f.index, f.phase]));
  const rows = r.peerDetails.map((p) => {
    const packets = p.consumers.reduce((n, c) => n + c.packets, 0);
    const lost = p.consumers.reduce((n, c) => n + c.lost, 0);
    const receiving = p.consumers.filter((c) => !c.closed && c.packets > 0).length;
    const d = down.get(p.index) ?? 0;
    const status = failed.get(p.index) === 'runtime' || p.failed !== undefined ? 'failed' : d > 0 ? 'down' : 'ok';
    return {
      badness: (status === 'failed' ? 2e9 : 0) + d * 1e6 + (packets + lost > 0 ? lost / (packets + lost) : 0),
      cells: [
        p.displayName,
        p.role === 'publisher' ? 'pub' : 'sub',
        ms(p.joinAckMs),
        ms(p.firstMediaMs),
        `${receiving}/${p.consumers.length}`,
        String(packets),
        pct(lost, packets),
        fine(worst(p.consumers.map((c) => c.latencyMs?.p95))),
        fine(worst(p.consumers.map((c) => c.jitterMs))),
        d > 0 ? d.toFixed(1) : '0',
        status,
      ],
    };
  });
  rows.sort((a, b) => b.badness - a.badness);
  const shown = rows.slice(0, maxRows);
  const out = table(
    ['peer', 'role', 'join ms', 'first RTP ms', 'receiving', 'packets', 'loss %', 'latency p95 ms', 'jitter ms', 'down s', 'status'],
    shown.map((x) => x.cells),
  );
  if (rows.length > shown.length) out.push(`… ${rows.length - shown.length} more peers (worst first above; all in the JSON report)`);
  return out;
}

/**
 * One row per published track: consumers expected and receiving at the end, packets, loss,
 * latency (median of the consumers' p50, 95th percentile of their p95) and jitter p95 over consumers.
 */
export function trackTable(r: LoadTestReport, maxRows = TABLE_ROWS): string[] {
  const expected = new Map(r.consumers.tracks.map((t) => [t.producerId, t]));
  const rows = r.tracks.map((t) => {
    const e = expected.get(t.producerId);
    const missing = e ? Math.max(0, e.expected - e.actual) : 0;
    const lossRatio = t.totals.packetsReceived + t.totals.lost > 0 ? t.totals.lost / (t.totals.packetsReceived + t.totals.lost) : 0;
    return {
      badness: missing * 1e6 + lossRatio,
      cells: [
        t.label,
        e ? `${e.actual}/${e.expected}` : '–',
        String(t.totals.packetsSent),
        String(t.totals.packetsReceived),
        pct(t.totals.lost, t.totals.packetsReceived),
        String(t.totals.nacksSent),
        String(t.totals.plisSent),
        `${fine(t.quality?.latencyP50Ms)}/${fine(t.quality?.latencyP95Ms)}`,
        fine(t.quality?.jitterP95Ms),
      ],
    };
  });
  rows.sort((a, b) => b.badness - a.badness);
  const shown = rows.slice(0, maxRows);
  const out = table(['track', 'receiving/expected', 'sent', 'received', 'loss %', 'NACKs', 'PLIs', 'latency p50/p95 ms', 'jitter p95 ms'], shown.map((x) => x.cells));
  if (rows.length > shown.length) out.push(`… ${rows.length - shown.length} more tracks`);
  return out;
}
