/**
 * Simulcast in the report: what each simulcast publisher sent per layer (and what dynacast
 * turned off), and per consumer of such a publisher, the layer asked for against the one
 * that arrived (frame size of its keyframes, bitrate since it last changed).
 */
import type { PeerSummary } from '../ipc.js';
import { LAYER_NAMES, SIMULCAST_LAYERS } from '../peer/simulcast.js';
import { table, TABLE_ROWS } from './terminal.js';
import type { LoadTestReport } from './types.js';
import type { Check, Verdict } from '../verdict.js';

export interface PublisherLayersReport {
  producerId: string;
  publisher: string;
  roomId: string;
  /** `producer:demand` events received, and layers off at the end. */
  demands: number;
  layersPaused: number;
  layers: {
    layer: number;
    rid: string;
    width: number;
    height: number;
    packetsSent: number;
    bytesSent: number;
    paused: boolean;
    /** Times dynacast turned the layer off. */
    pauses: number;
    keyframeRequestsReceived: number;
  }[];
}

export interface ConsumerLayerReport {
  subscriber: string;
  role: PeerSummary['role'];
  roomId: string;
  consumerId: string;
  producerId: string;
  /** The publisher's name in the plan (its server peer id when unknown). */
  publisher: string;
  requested: number;
  /** Layer whose frame size the last keyframe had; undefined when none came or the size is unknown. */
  received?: number;
  width?: number;
  height?: number;
  /** Payload bitrate since the layer last changed. */
  kbps: number;
  keyframes: number;
  switches: number;
  matches: boolean;
}

export interface SimulcastReport {
  /** The layers publishers send, lowest first. */
  layers: { layer: number; name: string; width: number; height: number; kbps: number }[];
  /** What subscribers asked for (--subscriber-layer); undefined: nothing asked, the server picks. */
  subscriberLayer?: number;
  publishers: PublisherLayersReport[];
  consumers: ConsumerLayerReport[];
  totals: {
    consumers: number;
    /** Consumers whose last keyframe had the size of the layer asked. */
    matching: number;
    /** Consumers that received another layer, or no keyframe at all. */
    mismatched: number;
    /** Publisher layers off at the end, of all of them; times layers were turned off. */
    layersPaused: number;
    layers: number;
    pauses: number;
  };
}

export const layerName = (i: number | undefined): string =>
  i === undefined ? '?' : `${LAYER_NAMES[i] ?? `L${i}`} (${i})`;

/** Undefined when the run had neither simulcast publishers nor simulcast consumers. */
export function simulcastReport(r: Pick<LoadTestReport, 'peerDetails' | 'options'>): SimulcastReport | undefined {
  const names = new Map(r.peerDetails.map((p) => [p.peerId, p.displayName]));
  const publishers: PublisherLayersReport[] = r.peerDetails.flatMap((p) =>
    p.producers.flatMap((pr) =>
      pr.simulcast
        ? [
            {
              producerId: pr.producerId,
              publisher: p.displayName,
              roomId: p.roomId,
              demands: pr.simulcast.demands,
              layersPaused: pr.simulcast.layersPaused,
              layers: pr.simulcast.layers.map((l) => ({
                layer: l.layer,
                rid: l.rid,
                width: l.width,
                height: l.height,
                packetsSent: l.packetsSent,
                bytesSent: l.bytesSent,
                paused: l.paused,
                pauses: l.pauses,
                keyframeRequestsReceived: l.keyframeRequestsReceived,
              })),
            },
          ]
        : [],
    ),
  );
  const consumers: ConsumerLayerReport[] = r.peerDetails.flatMap((p) =>
    p.consumers.flatMap((c) =>
      c.layer && !c.closed
        ? [
            {
              subscriber: p.displayName,
              role: p.role,
              roomId: p.roomId,
              consumerId: c.consumerId,
              producerId: c.producerId,
              publisher: names.get(c.peerId) ?? c.peerId,
              requested: c.layer.requested,
              ...(c.layer.receivedLayer !== undefined ? { received: c.layer.receivedLayer } : {}),
              ...(c.layer.width !== undefined ? { width: c.layer.width, height: c.layer.height! } : {}),
              kbps: c.layer.kbps,
              keyframes: c.layer.keyframes,
              switches: c.layer.switches,
              matches: c.layer.matches,
            },
          ]
        : [],
    ),
  );
  if (publishers.length === 0 && consumers.length === 0) return undefined;
  const allLayers = publishers.flatMap((p) => p.layers);
  const matching = consumers.filter((c) => c.matches).length;
  return {
    layers: SIMULCAST_LAYERS.map((l, i) => ({ layer: i, name: LAYER_NAMES[i] ?? `L${i}`, width: l.width, height: l.height, kbps: l.videoKbps })),
    ...(r.options.subscriberLayer !== undefined ? { subscriberLayer: r.options.subscriberLayer } : {}),
    publishers,
    consumers,
    totals: {
      consumers: consumers.length,
      matching,
      mismatched: consumers.length - matching,
      layersPaused: allLayers.filter((l) => l.paused).length,
      layers: allLayers.length,
      pauses: allLayers.reduce((n, l) => n + l.pauses, 0),
    },
  };
}

/**
 * With a layer asked (--subscriber-layer): at most `limit` simulcast consumers may have
 * received another layer, or none. Undefined when nothing was asked.
 */
export function layerCheck(s: SimulcastReport, limit: number): Check | undefined {
  if (s.subscriberLayer === undefined) return undefined;
  const t = s.totals;
  const what = `simulcast consumers without the layer asked (${layerName(s.subscriberLayer)})`;
  const pass = t.mismatched <= limit;
  const detail = pass
    ? `${what}: ${t.mismatched} of ${t.consumers} (limit ${limit})`
    : `${what}: ${t.mismatched} of ${t.consumers} > limit ${limit}, over by ${t.mismatched - limit}`;
  return { name: 'layers', pass, actual: t.mismatched, limit, unit: '', detail };
}

/** The verdict with one more check: the run passes only if that one does too. */
export function withCheck(v: Verdict, check: Check): Verdict {
  const checks = [...v.checks, check];
  const failed = checks.filter((c) => !c.pass).map((c) => c.name);
  return { ...v, checks, failed, pass: failed.length === 0 };
}

/** One line for the terminal summary. */
export function simulcastLine(s: SimulcastReport): string {
  const t = s.totals;
  const asked = s.subscriberLayer === undefined ? 'no layer asked' : `subscribers asked for ${layerName(s.subscriberLayer)}`;
  return (
    `  simulcast: ${asked}; ${t.matching} of ${t.consumers} simulcast consumers received the layer asked, ${t.mismatched} another or none; ` +
    `dynacast: ${t.layersPaused} of ${t.layers} publisher layers paused at the end (${t.pauses} pauses in all)`
  );
}

const size = (w: number | undefined, h: number | undefined) => (w === undefined ? '–' : `${w}x${h}`);

/** Terminal tables: each simulcast publisher's layers, then consumers (mismatches first). */
export function layerTables(s: SimulcastReport, maxRows = TABLE_ROWS): string[] {
  const pubRows = s.publishers.flatMap((p) =>
    p.layers.map((l) => [
      p.publisher,
      `${l.rid} ${layerName(l.layer)}`,
      size(l.width, l.height),
      String(l.packetsSent),
      String(l.bytesSent),
      String(l.keyframeRequestsReceived),
      l.paused ? 'paused' : 'sending',
      String(l.pauses),
    ]),
  );
  const consumers = [...s.consumers].sort((a, b) => Number(a.matches) - Number(b.matches));
  const conRows = consumers
    .slice(0, maxRows)
    .map((c) => [
      c.subscriber,
      c.publisher,
      layerName(c.requested),
      layerName(c.received),
      size(c.width, c.height),
      String(c.kbps),
      String(c.switches),
      c.matches ? 'yes' : 'NO',
    ]);
  const out = [
    ...table(['publisher', 'layer', 'size', 'packets sent', 'bytes sent', 'PLI/FIR', 'at end', 'pauses'], pubRows.slice(0, maxRows)),
    ...(pubRows.length > maxRows ? [`… ${pubRows.length - maxRows} more publisher layers`] : []),
    '',
    ...table(['subscriber', 'publisher', 'asked', 'received', 'size', 'kbps', 'switches', 'match'], conRows),
  ];
  if (consumers.length > maxRows) out.push(`… ${consumers.length - maxRows} more consumers (mismatches first above; all in the JSON report)`);
  return out;
}

const escHtml = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Rows of the page's consumer table beyond which only mismatches and a count are shown. */
const HTML_CONSUMER_ROWS = 500;

/** The page's section: the layers, each publisher's layers, each consumer's asked vs received. */
export function simulcastSection(s: SimulcastReport): string {
  const t = s.totals;
  const pubRows = s.publishers
    .flatMap((p) =>
      p.layers.map(
        (l) =>
          `<tr><td>${escHtml(p.publisher)}</td><td>${escHtml(l.rid)} ${escHtml(layerName(l.layer))}</td><td>${size(l.width, l.height)}</td>` +
          `<td>${l.packetsSent}</td><td>${l.bytesSent}</td><td>${l.keyframeRequestsReceived}</td>` +
          `<td class="${l.paused ? 'muted' : ''}">${l.paused ? 'paused' : 'sending'}</td><td>${l.pauses}</td></tr>`,
      ),
    )
    .join('');
  const consumers = [...s.consumers].sort((a, b) => Number(a.matches) - Number(b.matches)).slice(0, HTML_CONSUMER_ROWS);
  const conRows = consumers
    .map(
      (c) =>
        `<tr><td>${escHtml(c.subscriber)}</td><td>${escHtml(c.publisher)}</td><td>${escHtml(layerName(c.requested))}</td>` +
        `<td>${escHtml(layerName(c.received))}</td><td>${size(c.width, c.height)}</td><td>${c.kbps}</td><td>${c.switches}</td>` +
        `<td class="${c.matches ? 'good' : 'bad'}">${c.matches ? 'yes' : 'no'}</td></tr>`,
    )
    .join('');
  return `<h2>Simulcast layers</h2>
<p>Layers: ${s.layers.map((l) => `${escHtml(l.name)} ${l.width}x${l.height} at ${l.kbps} kbps`).join(', ')}. ${
    s.subscriberLayer === undefined ? 'Subscribers asked for no layer.' : `Subscribers asked for ${escHtml(layerName(s.subscriberLayer))}.`
  }
${t.matching} of ${t.consumers} simulcast consumers received the layer asked (the frame size of their last keyframe); dynacast had ${t.layersPaused} of ${t.layers} publisher layers paused at the end (${t.pauses} pauses in all).</p>
<table class="wide"><thead><tr><th>publisher</th><th>layer</th><th>size</th><th>packets sent</th><th>bytes sent</th><th>PLI/FIR</th><th>at end</th><th>pauses</th></tr></thead><tbody>${pubRows}</tbody></table>
<table class="wide"><thead><tr><th>consumer of</th><th>publisher</th><th>asked</th><th>received</th><th>size</th><th>kbps</th><th>switches</th><th>match</th></tr></thead><tbody>${conRows}</tbody></table>
${s.consumers.length > consumers.length ? `<p class="muted">… ${s.consumers.length - consumers.length} more consumers in the JSON report.</p>` : ''}`;
}
