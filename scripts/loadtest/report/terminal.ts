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

/** One row per peer that joined: first RTP, consumers receiving, packets, loss, time down. */
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
        d > 0 ? d.toFixed(1) : '0',
        status,
      ],
    };
  });
  rows.sort((a, b) => b.badness - a.badness);
  const shown = rows.slice(0, maxRows);
  const out = table(
    ['peer', 'role', 'join ms', 'first RTP ms', 'receiving', 'packets', 'loss %', 'down s', 'status'],
    shown.map((x) => x.cells),
  );
  if (rows.length > shown.length) out.push(`… ${rows.length - shown.length} more peers (worst first above; all in the JSON report)`);
  return out;
}

/** One row per published track: consumers expected and receiving at the end, packets, loss. */
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
      ],
    };
  });
  rows.sort((a, b) => b.badness - a.badness);
  const shown = rows.slice(0, maxRows);
  const out = table(['track', 'receiving/expected', 'sent', 'received', 'loss %', 'NACKs', 'PLIs'], shown.map((x) => x.cells));
  if (rows.length > shown.length) out.push(`… ${rows.length - shown.length} more tracks`);
  return out;
}
