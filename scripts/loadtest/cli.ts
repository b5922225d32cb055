/**
 * `npm run loadtest -- --url http://host:port --rooms R --publishers P --subscribers S
 *  --duration 60 --ramp 5/s --out DIR`: synthetic peers against any Noom server, or against
 *  the nodes of a cluster with `--url` given once per node.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  parsePublish,
  parsePublishers,
  parseRamp,
  parseUrlList,
  defaultProcesses,
  validateOptions,
  type LoadTestOptions,
  type PublishKinds,
} from './options.js';
import { PEER_ENGINES, type PeerEngine } from './peer/loadPeer.js';
import { runLoadTest } from './run.js';
import type { ReportFiles } from './report/write.js';
import { peerTable, trackTable, TABLE_ROWS } from './report/terminal.js';
import { serverJson, serverLines } from './report/serverSummary.js';
import { metricsState } from './serverMetrics.js';
import { layerTables, simulcastLine } from './report/layers.js';
import { parseLayer } from './peer/simulcast.js';
import type { LoadTestReport, NodeReport } from './report/types.js';
import type { Summary } from './stats.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from './verdict.js';

/** Exit statuses: scripts and CI jobs branch on them. */
const EXIT = { pass: 0, fail: 1, usage: 2, interrupted: 130 } as const;

/** A bad command line or options: exit status 2, not 1 (a run that failed). */
class UsageError extends Error {}

function int(name: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0');
  return n;
}

function nonNegative(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}

/** A parser of options.ts as the command line's: its errors become commander's. */
function cliParser<T>(parse: (text: string) => T) {
  return (text: string): T => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

const ramp = cliParser(parseRamp);

/** A repeatable option of URLs, each occurrence one URL or a comma-separated list. */
function urls(flag: string) {
  const parse = cliParser((text) => parseUrlList(text, flag));
  return (text: string, previous: string[] | undefined): string[] => [...(previous ?? []), ...parse(text)];
}

const line = (name: string, s: Summary) =>
  s.count === 0 ? `  ${name}: no samples` : `  ${name}: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms (n=${s.count})`;

const nodeLine = (n: NodeReport) =>
  `  node ${n.url}: ${n.peers.joined}/${n.peers.planned} peers joined, ${n.peers.failed} failed, ` +
  `${n.peers.withoutMedia} without media, received ${n.received.packets} packets ` +
  `(${n.received.fromOtherNodes.packets} from other nodes), metrics ${metricsState(n.metrics)}`;

function verdictLines(r: LoadTestReport): string[] {
  const v = r.verdict;
  const failed = v.checks.filter((c) => !c.pass).length;
  return [
    `verdict: ${v.pass ? 'PASS' : `FAIL (${failed} of ${v.checks.length} checks failed)`}`,
    ...v.checks.map((c) => `  ${c.pass ? 'pass' : 'FAIL'}  ${c.detail}`),
  ];
}

function healthLines(r: LoadTestReport): string[] {
  const h = r.health;
  if (h.episodes.length === 0) return [];
  return [
    `  peers down: ${h.failedAfterJoin} failed after joining, ${h.rejoins} rejoins, ${h.peersWithMediaGaps} without media for more than ` +
      `${h.mediaGapLimitSec} s (${h.peerSecondsDown} peer-seconds down in all)`,
    ...h.episodes
      .slice(0, 10)
      .map((e) => `    ${e.displayName} (${e.roomId}) ${e.from}–${e.open ? 'end' : e.to} s: ${e.reason}`),
    ...(h.episodes.length > 10 ? [`    … ${h.episodes.length - 10} more in the report`] : []),
  ];
}

/** Latency and jitter over consumers; nothing when no consumer measured them (wrtc peers). */
function qualityLines(r: LoadTestReport): string[] {
  const q = r.mediaQuality;
  if (q.measured === 0 && q.jitterMs.count === 0) return [];
  return [
    line(`end-to-end latency p50 (${q.measured}/${q.consumers} consumers)`, q.latencyP50Ms),
    line('end-to-end latency p95', q.latencyP95Ms),
    line('jitter', q.jitterMs),
  ];
}

function missingLines(r: LoadTestReport): string[] {
  return r.consumers.tracks
    .filter((t) => t.actual < t.expected)
    .slice(0, 10)
    .map((t) => `  consumers of ${t.label}: ${t.actual} receiving, ${t.expected} expected`);
}

function speakerLines(r: LoadTestReport): string[] {
  const s = r.speakers;
  if (!s) return [];
  const delay = s.delayMs.count > 0 ? `, announced p50 ${s.delayMs.p50} ms / p95 ${s.delayMs.p95} ms after the turn began` : '';
  return [
    `  speakers (turns of ${s.turnSec} s): ${s.followed} of ${s.turns} turn changes announced to the members (${s.followedPct} %)${delay}; ` +
      `${s.wrong} announcements of a peer out of turn`,
  ];
}

function summaryText(r: LoadTestReport, tables: boolean): string {
  const out = [
    `${r.interrupted ? 'interrupted' : r.stoppedEarly ? `stopped early (${r.stoppedEarly.reason})` : 'done'} after ${r.elapsedSec} s: ${r.peers.joined}/${r.peers.planned} peers joined, ` +
      `${r.peers.failed} failed, ${r.peers.withoutMedia} without media`,
    line('room:join ack', r.joinLatencyMs.ack),
    line('peer setup', r.joinLatencyMs.setup),
    line('first RTP (subscribers)', r.firstRtpMs.any),
    ...qualityLines(r),
    `  received ${r.totals.packetsReceived} packets, lost ${r.totals.lost} (${r.totals.lossPct} %), ` +
      `NACKs ${r.totals.nacksSent}, PLIs ${r.totals.plisSent}, keyframe jumps ${r.totals.keyframeJumps}`,
    `  load generator CPU: mean ${r.generatorCpuPct.mean} %, peak ${r.generatorCpuPct.max} % of a core; busiest process ` +
      `${r.generator.busiestChildPeakPct} %, longest event-loop stall ${r.generator.loopDelayMaxMs} ms` +
      (r.generator.socketDrops !== undefined ? `; datagrams dropped on its own full sockets: ${r.generator.socketDrops}` : '') +
      (r.generator.udp ? `; kernel UDP drops for full receive buffers on this machine (server included if here): ${r.generator.udp.rcvbufErrors}` : ''),
    ...serverLines(r),
    ...(r.nodes.length > 1 ? r.nodes.map(nodeLine) : []),
    ...r.failureReasons.slice(0, 10).map((f) => `  failure ×${f.count}: ${f.reason}`),
    ...healthLines(r),
    ...missingLines(r),
    ...speakerLines(r),
    ...(r.simulcast ? [simulcastLine(r.simulcast)] : []),
    ...(tables && r.peerDetails.length > 0 ? ['', 'per peer:', ...peerTable(r), '', 'per track:', ...trackTable(r), ''] : []),
    ...(tables && r.simulcast ? ['simulcast layers:', ...layerTables(r.simulcast), ''] : []),
    ...verdictLines(r),
  ];
  return out.join('\n');
}

/** What CI reads from stdout with --json: the verdict, its limits and the run's main figures. */
function jsonSummary(r: LoadTestReport, exitCode: number, files: ReportFiles | undefined): unknown {
  return {
    verdict: r.interrupted ? 'interrupted' : r.verdict.pass ? 'pass' : 'fail',
    exitCode,
    failed: r.verdict.failed,
    checks: r.verdict.checks,
    thresholds: r.verdict.thresholds,
    interrupted: r.interrupted,
    ...(r.stoppedEarly ? { stoppedEarly: r.stoppedEarly } : {}),
    elapsedSec: r.elapsedSec,
    options: r.options,
    peers: r.peers,
    joinLatencyMs: r.joinLatencyMs,
    firstRtpMs: r.firstRtpMs,
    mediaQuality: r.mediaQuality,
    trackQuality: r.tracks.map((t) => ({ producerId: t.producerId, label: t.label, kind: t.kind, ...t.quality })),
    totals: r.totals,
    health: r.health,
    consumers: r.consumers,
    ...(r.speakers ? { speakers: r.speakers } : {}),
    ...(r.simulcast ? { simulcast: r.simulcast } : {}),
    generatorCpuPct: r.generatorCpuPct,
    generator: r.generator,
    server: serverJson(r),
    failureReasons: r.failureReasons,
    ...(files ? { files } : {}),
  };
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('loadtest')
    .description(
      'Load-test a Noom server with synthetic WebRTC peers: mediasoup-client on werift replaying VP8 + Opus, ' +
        'or on libwebrtc (@roamhq/wrtc) encoding real media with --engine wrtc.',
    )
    .requiredOption(
      '--url <url>',
      'server base URL, e.g. http://127.0.0.1:3000; repeat it (or give a comma-separated list) for the nodes of a ' +
        'cluster: the peers of each room are dealt out over them in turn',
      urls('--url'),
    )
    .option('--rooms <n>', 'number of rooms', int('--rooms', 1), 1)
    .option(
      '--publishers <n>',
      'publishers per room (audio + video unless --publish says otherwise; they also consume each other), or a range ' +
        'such as 2-5: the rooms then take the counts 2, 3, 4, 5, 2, … in turn',
      cliParser(parsePublishers),
      { min: 2 },
    )
    .option('--subscribers <n>', 'subscribers per room (consume only)', int('--subscribers', 0), 4)
    .option(
      '--rejoin',
      'on room:closed (a worker died, the server shut down, the meeting ended) join the room again as the browser ' +
        'client does, retrying for 30 s, instead of failing; the peer counts as down until its media is back',
    )
    .option('--publish <kinds>', 'what each publisher sends: audio,video (default), audio or video', cliParser(parsePublish))
    .option(
      '--speakers <seconds>',
      "speaker simulation: in each room the publishers take turns at speaking (audio level marked as speech, the others' " +
        'as silence), the turn passing every <seconds>; the report says how many turn changes the server announced ' +
        '(activeSpeaker) and how fast',
      seconds,
    )
    .option('--simulcast', 'publishers send video as 3 simulcast layers (320x180 / 640x360 / 1280x720 at 150 / 500 / 1200 kbps) and honour dynacast')
    .option(
      '--subscriber-layer <layer>',
      'subscribers ask every simulcast video consumer for this layer: low, mid, high or a spatial index (0 = lowest)',
      cliParser(parseLayer),
    )
    .option(
      '--max-layer-mismatches <n>',
      'with --subscriber-layer: fail when more simulcast consumers than this end on another layer than the one asked (or get none)',
      int('--max-layer-mismatches', 0),
    )
    .option('--duration <seconds>', 'how long to hold all peers once the last one has been started', seconds, 60)
    .option('--ramp <rate>', 'join pace over the whole run: 5/s, 2, 120/min', ramp, 5)
    .option('--out <dir>', 'write loadtest-<time>.json and .html reports there')
    .option('--processes <n>', `peer processes (default: one per core, ${defaultProcesses()} here)`, int('--processes', 1))
    .option('--room-prefix <prefix>', 'room ids are <prefix>-1 … <prefix>-R (default: random)')
    .option('--password <password>', 'room password')
    .option(
      '--metrics-url <url>',
      'Prometheus endpoint to sample (default: <url>/metrics); with several --url, one per --url in the same order',
      urls('--metrics-url'),
    )
    .option('--sample <seconds>', 'sampling interval of peers (server: twice that)', seconds, 1)
    .addOption(
      new Option(
        '--engine <engine>',
        'peer WebRTC engine: werift replays pre-encoded VP8 + Opus (~0.7 % of a core per stream sent or received); ' +
          'wrtc encodes a generated 320x240@15 camera and a tone with libwebrtc and decodes what it receives ' +
          '(~8 % of a core per camera + mic published, ~1.5 % per stream received)',
      )
        .choices(PEER_ENGINES)
        .default('werift'),
    )
    .addOption(new Option('--no-progress', 'no live progress bar'))
    .addOption(new Option('--no-tables', `no per-peer and per-track tables in the summary (each shows its worst ${TABLE_ROWS} rows)`))
    .option('--json', 'print a machine-readable summary (verdict, thresholds, figures) on stdout; the human summary goes to stderr')
    .option('--max-loss <pct>', 'fail above this receive loss, in % of packets', nonNegative, DEFAULT_THRESHOLDS.maxLossPct)
    .option('--max-join-failures <n>', 'fail when more peers than this never join', int('--max-join-failures', 0), DEFAULT_THRESHOLDS.maxJoinFailures)
    .option(
      '--max-peer-failures <n>',
      'fail when more peers than this fail after joining (room closed or kicked, connection lost)',
      int('--max-peer-failures', 0),
      DEFAULT_THRESHOLDS.maxPeerFailures,
    )
    .option('--max-first-rtp <ms>', "fail when the subscribers' room:join ack → first RTP p95 is above this", nonNegative, DEFAULT_THRESHOLDS.maxFirstRtpP95Ms)
    .option(
      '--max-media-gap <seconds>',
      'fail when a joined peer goes longer than this without media it should receive (no packet on a consumer, ' +
        'or no consumer of a publisher of its room); such a peer counts as down from then on',
      nonNegative,
      DEFAULT_THRESHOLDS.maxMediaGapSec,
    )
    .option(
      '--max-missing-consumers <n>',
      'fail when, at the end, more consumers than this are missing or silent (each peer should receive every other publisher of its room)',
      int('--max-missing-consumers', 0),
      DEFAULT_THRESHOLDS.maxMissingConsumers,
    )
    .option(
      '--max-generator-cpu <pct>',
      "fail (the figures would describe the tester) when a load-test process's CPU exceeds this, in % of a core",
      nonNegative,
      DEFAULT_THRESHOLDS.maxGeneratorCpuPct,
    )
    .option(
      '--max-generator-drops <n>',
      "fail (the loss would be the tester's) when the kernel drops more datagrams than this on the load-test processes' full sockets",
      int('--max-generator-drops', 0),
      DEFAULT_THRESHOLDS.maxGeneratorSocketDrops,
    )
    .option(
      '--max-generator-stall <ms>',
      "fail (the figures would describe the tester) when a load-test process's event loop stalls longer than this",
      nonNegative,
      DEFAULT_THRESHOLDS.maxGeneratorLoopDelayMs,
    )
    .option(
      '--max-latency-p95-ms <ms>',
      "fail when 95 % of consumers' end-to-end latency p95 is not within this (off by default; the peers' clocks must agree: one machine, or NTP-synchronized)",
      nonNegative,
    )
    .option('--max-jitter-ms <ms>', 'fail when 95 % of consumers\' RFC 3550 jitter is not within this (off by default)', nonNegative)
    .addHelpText(
      'after',
      '\nCtrl-C stops early: peers are closed and the report is still written; a second Ctrl-C aborts.\n' +
        'The run stops early, with a report, once every peer started has failed or been without media for 3 s.\n' +
        'The clip is encoded once with ffmpeg and cached under $NOOM_CACHE_DIR (default ~/.cache/noom)/clips.\n' +
        'Exit status: 0 every check passed, 1 a check failed (or the run could not be made), 2 usage error, 130 interrupted.',
    )
    .exitOverride();
  try {
    program.parse(argv);
  } catch (error) {
    // Help and version exit 0; every other complaint of commander's is a usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.pass : EXIT.usage;
    throw error;
  }
  const o = program.opts<{
    url: string[];
    rooms: number;
    publishers: { min: number; max?: number };
    speakers?: number;
    subscribers: number;
    duration: number;
    ramp: number;
    out?: string;
    processes?: number;
    roomPrefix?: string;
    password?: string;
    metricsUrl?: string[];
    sample: number;
    progress: boolean;
    engine: PeerEngine;
    json?: boolean;
    tables: boolean;
    publish?: PublishKinds;
    rejoin?: boolean;
    simulcast?: boolean;
    subscriberLayer?: number;
    maxLayerMismatches?: number;
    maxLoss: number;
    maxJoinFailures: number;
    maxPeerFailures: number;
    maxFirstRtp: number;
    maxMediaGap: number;
    maxMissingConsumers: number;
    maxGeneratorCpu: number;
    maxGeneratorStall: number;
    maxGeneratorDrops: number;
    maxLatencyP95Ms?: number;
    maxJitterMs?: number;
  }>();
  const thresholds: Thresholds = {
    maxLossPct: o.maxLoss,
    maxJoinFailures: o.maxJoinFailures,
    maxPeerFailures: o.maxPeerFailures,
    maxFirstRtpP95Ms: o.maxFirstRtp,
    maxMediaGapSec: o.maxMediaGap,
    maxMissingConsumers: o.maxMissingConsumers,
    maxGeneratorCpuPct: o.maxGeneratorCpu,
    maxGeneratorLoopDelayMs: o.maxGeneratorStall,
    maxGeneratorSocketDrops: o.maxGeneratorDrops,
    ...(o.maxLatencyP95Ms !== undefined ? { maxLatencyP95Ms: o.maxLatencyP95Ms } : {}),
    ...(o.maxJitterMs !== undefined ? { maxJitterMs: o.maxJitterMs } : {}),
  };
  const options: LoadTestOptions = {
    url: o.url,
    rooms: o.rooms,
    publishers: o.publishers.min,
    ...(o.publishers.max !== undefined ? { publishersMax: o.publishers.max } : {}),
    ...(o.speakers !== undefined ? { speakerTurnSec: o.speakers } : {}),
    subscribers: o.subscribers,
    durationSec: o.duration,
    rampPerSec: o.ramp,
    sampleIntervalSec: Math.max(0.2, o.sample),
    // run.ts decides by the terminal unless the bar was switched off.
    ...(o.progress ? {} : { progress: false }),
    engine: o.engine,
    thresholds,
    ...(o.publish !== undefined ? { publish: o.publish } : {}),
    ...(o.rejoin ? { rejoin: true } : {}),
    ...(o.simulcast ? { simulcast: true } : {}),
    ...(o.subscriberLayer !== undefined ? { subscriberLayer: o.subscriberLayer } : {}),
    ...(o.maxLayerMismatches !== undefined ? { maxLayerMismatches: o.maxLayerMismatches } : {}),
    ...(o.out !== undefined ? { outDir: o.out } : {}),
    ...(o.processes !== undefined ? { processes: o.processes } : {}),
    ...(o.roomPrefix !== undefined ? { roomPrefix: o.roomPrefix } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.metricsUrl !== undefined ? { metricsUrl: o.metricsUrl } : {}),
  };

  try {
    validateOptions(options);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) {
      console.error('\nsecond interrupt: aborting without cleanup');
      process.exit(130);
    }
    console.error('\ninterrupted: closing peers (Ctrl-C again to abort)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const { report, files } = await runLoadTest(options, { signal: abort.signal, log: (l) => console.error(l) });
    const code = abort.signal.aborted ? EXIT.interrupted : report.verdict.pass ? EXIT.pass : EXIT.fail;
    if (o.json) {
      console.error(summaryText(report, o.tables));
      process.stdout.write(`${JSON.stringify(jsonSummary(report, code, files), null, 2)}\n`);
    } else {
      console.log(summaryText(report, o.tables));
    }
    return code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`loadtest: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = error instanceof UsageError ? EXIT.usage : EXIT.fail;
  },
);
