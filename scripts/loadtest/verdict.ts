/**
 * Pass or fail for a load-test run: each figure that says whether the server held up is
 * checked against a limit, and the run passes only if every check does. The exit status of
 * the CLI follows the verdict.
 */

export interface Thresholds {
  /** Receive loss over every consumer of the run, in %. */
  maxLossPct: number;
  /** Peers that never joined. */
  maxJoinFailures: number;
  /** Peers that joined and then failed for good: room closed or kicked, connection lost. */
  maxPeerFailures: number;
  /** Subscribers' room:join ack → first RTP, 95th percentile, in ms. */
  maxFirstRtpP95Ms: number;
  /**
   * Longest time a joined peer may go without media it should be receiving: no packet on a
   * consumer, or no consumer at all of a publisher of its room. Also the time after which
   * such a peer counts as down.
   */
  maxMediaGapSec: number;
  /** At the end of the run: consumers that should exist and receive (every peer of a room × every other publisher's track), minus those that do. */
  maxMissingConsumers: number;
  /** The busiest load-test child's CPU in any sampling interval, in % of a core: above it the generator is saturated. */
  maxGeneratorCpuPct: number;
  /** The longest event-loop stall of any load-test child, in ms: above it the generator is saturated. */
  maxGeneratorLoopDelayMs: number;
  /** Datagrams the kernel dropped on the load-test processes' own sockets (full receive buffers). */
  maxGeneratorSocketDrops: number;
  /**
   * End-to-end latency, in ms: the 95th percentile over consumers of each one's latency p95.
   * Off unless set (the figure needs the peers' clocks to agree: one machine, or synchronized).
   */
  maxLatencyP95Ms?: number;
  /** RFC 3550 interarrival jitter, in ms: the 95th percentile over consumers. Off unless set. */
  maxJitterMs?: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  maxLossPct: 1,
  maxJoinFailures: 0,
  maxPeerFailures: 0,
  maxFirstRtpP95Ms: 3000,
  maxMediaGapSec: 5,
  maxMissingConsumers: 0,
  maxGeneratorCpuPct: 90,
  maxGeneratorLoopDelayMs: 500,
  maxGeneratorSocketDrops: 0,
};

/** The figures a verdict is made from (a subset of the report). */
export interface VerdictFigures {
  lossPct: number;
  /** Packets received plus lost: without any, there is no loss figure to check. */
  packets: number;
  joinFailures: number;
  peerFailures: number;
  firstRtpP95Ms?: number;
  /** Subscribers that should have had media (joined, with publishers in their room). */
  firstRtpExpected: number;
  /** Longest media gap reported, in s (gaps shorter than the limit are not reported: 0). */
  longestMediaGapSec: number;
  /** Peers that went without media longer than the limit at some point. */
  peersWithMediaGaps: number;
  missingConsumers: number;
  expectedConsumers: number;
  /** Why the run ended before its time, if it did. */
  stoppedEarly?: string;
  /** Joined peers whose end-of-run figures never arrived: the report is short of them. */
  withoutSummary?: number;
  /** The busiest child's peak CPU (% of a core) and the longest event-loop stall (ms), over the run. */
  generatorBusiestChildPct: number;
  generatorLoopDelayMaxMs: number;
  /** Drops on the generator's own sockets; undefined where the system cannot tell. */
  generatorSocketDrops?: number;
  /** p95 over consumers of their latency p95, and of their jitter (ms); undefined when none measured them. */
  latencyP95Ms?: number;
  jitterP95Ms?: number;
}

export type CheckName =
  | 'completed'
  | 'generator'
  | 'joinFailures'
  | 'peerFailures'
  | 'mediaGap'
  | 'lossPct'
  | 'firstRtpP95Ms'
  | 'missingConsumers'
  /** With --subscriber-layer: consumers that did not receive the layer asked (report/layers.ts). */
  | 'layers'
  | 'latencyP95Ms'
  | 'jitterMs';

export interface Check {
  name: CheckName;
  pass: boolean;
  /** The measured value; undefined when there was nothing to measure. */
  actual?: number;
  limit?: number;
  unit: string;
  /** One line for people: what was measured against what, and by how much it missed. */
  detail: string;
}

export interface Verdict {
  pass: boolean;
  thresholds: Thresholds;
  checks: Check[];
  /** The checks that failed, by name. */
  failed: CheckName[];
}

const fmt = (n: number) => String(Math.round(n * 100) / 100);

function atMost(name: CheckName, what: string, actual: number, limit: number, unit: string, extra = ''): Check {
  const pass = actual <= limit;
  const u = unit ? ` ${unit}` : '';
  const detail = pass
    ? `${what}: ${fmt(actual)}${u} (limit ${fmt(limit)}${u})${extra}`
    : `${what}: ${fmt(actual)}${u} > limit ${fmt(limit)}${u}, over by ${fmt(actual - limit)}${u}${extra}`;
  return { name, pass, actual, limit, unit, detail };
}

function completed(f: VerdictFigures): Check {
  const problems = [
    ...(f.stoppedEarly !== undefined ? [`stopped early: ${f.stoppedEarly}`] : []),
    ...(f.withoutSummary ? [`the end-of-run figures of ${f.withoutSummary} peer(s) never arrived (totals from the last samples)`] : []),
  ];
  return problems.length === 0
    ? { name: 'completed', pass: true, unit: '', detail: 'ran its whole course' }
    : { name: 'completed', pass: false, unit: '', detail: problems.join('; ') };
}

/**
 * A saturated generator measures itself: late sends, late reads, loss and gaps of its own.
 * The run then says nothing about the server, whatever the other checks say.
 */
function generator(f: VerdictFigures, t: Thresholds): Check {
  const over = [
    ...(f.generatorBusiestChildPct > t.maxGeneratorCpuPct
      ? [`a load-test process used ${fmt(f.generatorBusiestChildPct)} % of a core > limit ${fmt(t.maxGeneratorCpuPct)} %`]
      : []),
    ...(f.generatorLoopDelayMaxMs > t.maxGeneratorLoopDelayMs
      ? [`a load-test process stalled ${fmt(f.generatorLoopDelayMaxMs)} ms > limit ${fmt(t.maxGeneratorLoopDelayMs)} ms`]
      : []),
    ...(f.generatorSocketDrops !== undefined && f.generatorSocketDrops > t.maxGeneratorSocketDrops
      ? [`the kernel dropped ${f.generatorSocketDrops} datagrams on the load-test processes' full sockets > limit ${t.maxGeneratorSocketDrops}`]
      : []),
  ];
  const drops = f.generatorSocketDrops === undefined ? '' : `, ${f.generatorSocketDrops} datagrams dropped on its sockets`;
  const measured = `busiest process ${fmt(f.generatorBusiestChildPct)} % of a core, longest stall ${fmt(f.generatorLoopDelayMaxMs)} ms${drops}`;
  return over.length === 0
    ? { name: 'generator', pass: true, unit: '', detail: `load generator not saturated: ${measured}` }
    : { name: 'generator', pass: false, unit: '', detail: `load generator saturated (${over.join('; ')}): the figures describe it, not the server` };
}

/**
 * A latency or jitter limit, checked only when one was given. A limit nothing measured
 * fails when media flowed (the figure was asked for and is missing: an engine that does not
 * measure it, or stamps that did not survive), and passes when there was no media at all.
 */
function optionalLimit(name: 'latencyP95Ms' | 'jitterMs', what: string, actual: number | undefined, limit: number | undefined, packets: number): Check[] {
  if (limit === undefined) return [];
  if (actual !== undefined) return [atMost(name, what, actual, limit, 'ms')];
  return packets > 0
    ? [{ name, pass: false, limit, unit: 'ms', detail: `${what}: not measured on any consumer, though media flowed` }]
    : [{ name, pass: true, limit, unit: 'ms', detail: `${what}: no packets to measure it on` }];
}

export function judge(f: VerdictFigures, thresholds: Thresholds): Verdict {
  const t = thresholds;
  const checks: Check[] = [
    completed(f),
    generator(f, t),
    atMost('joinFailures', 'join failures', f.joinFailures, t.maxJoinFailures, 'peers'),
    atMost('peerFailures', 'peers failed after joining', f.peerFailures, t.maxPeerFailures, 'peers'),
    atMost(
      'mediaGap',
      'longest time without media',
      f.longestMediaGapSec,
      t.maxMediaGapSec,
      's',
      f.peersWithMediaGaps > 0 ? `; ${f.peersWithMediaGaps} peer(s) went without media for more than ${fmt(t.maxMediaGapSec)} s` : '',
    ),
    f.packets > 0
      ? atMost('lossPct', 'receive loss', f.lossPct, t.maxLossPct, '%')
      : { name: 'lossPct', pass: true, limit: t.maxLossPct, unit: '%', detail: 'receive loss: no packets to measure it on' },
    f.firstRtpP95Ms !== undefined
      ? atMost('firstRtpP95Ms', 'first RTP p95', f.firstRtpP95Ms, t.maxFirstRtpP95Ms, 'ms')
      : f.firstRtpExpected > 0
        ? { name: 'firstRtpP95Ms', pass: false, limit: t.maxFirstRtpP95Ms, unit: 'ms', detail: `first RTP p95: no subscriber got any RTP (${f.firstRtpExpected} expected to)` }
        : { name: 'firstRtpP95Ms', pass: true, limit: t.maxFirstRtpP95Ms, unit: 'ms', detail: 'first RTP p95: no subscriber expected media' },
    atMost('missingConsumers', 'missing consumers at the end', f.missingConsumers, t.maxMissingConsumers, '', ` (${f.expectedConsumers - f.missingConsumers} of ${f.expectedConsumers} receiving)`),
    ...optionalLimit('latencyP95Ms', 'end-to-end latency p95 (95 % of consumers)', f.latencyP95Ms, t.maxLatencyP95Ms, f.packets),
    ...optionalLimit('jitterMs', 'jitter (95 % of consumers)', f.jitterP95Ms, t.maxJitterMs, f.packets),
  ];
  const failed = checks.filter((c) => !c.pass).map((c) => c.name);
  return { pass: failed.length === 0, thresholds: { ...t }, checks, failed };
}
