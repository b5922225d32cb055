/**
 * The load test's programmatic entry (the CLI is a thin shell around it): plans the peers,
 * starts the child processes, paces joins, samples peers and server, stops everything and
 * writes the report.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalRoomId } from '../../protocol/index.js';
import { RunCollector } from './collector.js';
import { Fleet } from './fleet.js';
import { baseUrls, defaultProcesses, metricsUrls, validateOptions, type LoadTestOptions } from './options.js';
import { prepareMedia } from './peer/index.js';
import { planPeers } from './plan.js';
import { ProgressView } from './progress.js';
import { writeReport, type ReportFiles } from './report/write.js';
import { layerCheck, simulcastReport, withCheck } from './report/layers.js';
import type { LoadTestReport } from './report/types.js';
import { ServerMetricsScraper } from './serverMetrics.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from './verdict.js';
import { readUdpCounters, udpDelta } from './udpCounters.js';

/**
 * Every peer started so far has failed or is without media for this long: nothing is left
 * to measure, so the run stops (a dead server, nothing listening) instead of idling on.
 */
const ALL_DOWN_STOP_MS = 3000;
const ALL_DOWN_CHECK_MS = 250;

export interface LoadTestResult {
  report: LoadTestReport;
  files?: ReportFiles;
}

export interface RunHooks {
  /** Aborting stops the run early (peers closed, report still written). */
  signal?: AbortSignal;
  /** Status lines (start, stop, report paths). */
  log?: (line: string) => void;
  /**
   * Called once the hold is over, just before the peers take their final counts and leave:
   * the moment for counts kept elsewhere (the kernel's, a server's) to be read alongside.
   */
  beforeStop?: () => void | Promise<void>;
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return;
  await sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}

export async function runLoadTest(options: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestResult> {
  validateOptions(options);
  const { signal } = hooks;
  const log = hooks.log ?? (() => undefined);
  // In the server's canonical form, so that the report names the rooms the server has.
  const roomPrefix = options.roomPrefix !== undefined ? canonicalRoomId(options.roomPrefix) : `load-${randomBytes(3).toString('hex')}`;
  const urls = baseUrls(options);
  const plan = planPeers(options, roomPrefix, urls);
  const processes = Math.min(options.processes ?? defaultProcesses(), plan.length);
  const sampleMs = Math.round((options.sampleIntervalSec ?? 1) * 1000);

  await prepareMedia({ simulcast: options.simulcast ?? false });
  log(`starting ${processes} load process(es) for ${plan.length} peers in ${options.rooms} room(s) on ${urls.length} server(s)`);
  const fleet = await Fleet.start(processes);
  const startedAt = new Date();
  const t0 = performance.now();
  const udpAtStart = readUdpCounters();
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const mediaGapMs = thresholds.maxMediaGapSec * 1000;
  const collector = new RunCollector(plan, t0, (roomId, producers) => fleet.broadcast({ type: 'expect', roomId, producers }));
  // Peer i runs in child i % fleet.size; peers are handed out in index order.
  let handedOut = 0;
  // Stops the ramp and the hold early: the user's Ctrl-C, or every peer down.
  const halt = new AbortController();
  const onAbort = () => halt.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let stoppedEarly: { t: number; reason: string } | undefined;
  let allDownSince: number | undefined;
  const allDownWatch = setInterval(() => {
    if (halt.signal.aborted) return;
    if (!collector.allDown(handedOut)) {
      allDownSince = undefined;
      return;
    }
    allDownSince ??= performance.now();
    if (performance.now() - allDownSince < ALL_DOWN_STOP_MS) return;
    const t = Math.round((performance.now() - t0) / 100) / 10;
    stoppedEarly = { t, reason: `all ${handedOut} peers started had failed or were without media for ${ALL_DOWN_STOP_MS / 1000} s` };
    log(`stopping early: ${stoppedEarly.reason}`);
    halt.abort();
  }, ALL_DOWN_CHECK_MS);
  const lost = new Map<number, string>();
  fleet.on('message', (child, msg) => collector.onMessage(child, msg));
  fleet.on('lost', (child, reason) => {
    log(reason);
    lost.set(child, reason);
    for (let index = child; index < handedOut; index += fleet.size) collector.peerFailed(index, 'runtime', reason);
  });

  // With several nodes, each node's series are labelled with its URL.
  const scrapers = metricsUrls(options).map(
    (metricsUrl, i) => new ServerMetricsScraper(metricsUrl, Math.max(1000, sampleMs * 2), t0, urls.length > 1 ? { node: urls[i]! } : {}),
  );
  // The first scrape is the baseline of the server's totals: taken before the first join.
  await Promise.all(scrapers.map((scraper) => scraper.start()));
  const rampSec = plan.length / options.rampPerSec;
  const progressOn = options.progress ?? process.stderr.isTTY;
  const view = progressOn ? new ProgressView(rampSec + options.durationSec) : undefined;
  let phase = 'ramp';
  view?.start(plan.length);
  // Sampling: all children report at the same moment, then one interval is closed.
  let sampling = true;
  let lastTickAt = performance.now();
  const sampler = (async () => {
    let next = performance.now() + sampleMs;
    while (sampling) {
      await sleep(Math.max(0, next - performance.now()));
      if (!sampling) break;
      next += sampleMs;
      await fleet.sample(Math.min(2000, sampleMs));
      collector.tick();
      lastTickAt = performance.now();
    }
  })();
  const redraw = view
    ? setInterval(() => view.update((performance.now() - t0) / 1000, collector.progress(), phase), 500)
    : undefined;

  let peers;
  let udp: ReturnType<typeof udpDelta>;
  try {
    // Ramp: peer i starts at i / rate seconds, whatever the time its predecessors took.
    for (const p of plan) {
      await pause(t0 + (p.index * 1000) / options.rampPerSec - performance.now(), halt.signal);
      if (halt.signal.aborted) break;
      const child = p.index % fleet.size;
      handedOut = p.index + 1;
      collector.peerStarted();
      // A peer meant for a process that is gone fails at once instead of vanishing.
      const gone = lost.get(child);
      if (gone !== undefined) {
        collector.peerFailed(p.index, 'runtime', gone);
        continue;
      }
      fleet.send(child, {
        type: 'join',
        peer: p,
        ...(options.password !== undefined ? { password: options.password } : {}),
        ...(options.engine !== undefined ? { engine: options.engine } : {}),
        ...(options.publish !== undefined ? { publish: options.publish } : {}),
        ...(options.simulcast ? { simulcast: true } : {}),
        ...(options.subscriberLayer !== undefined ? { subscriberLayer: options.subscriberLayer } : {}),
        ...(options.rejoin ? { rejoin: true, urls } : {}),
        ...(options.speakerTurnSec !== undefined ? { speakerTurnMs: options.speakerTurnSec * 1000 } : {}),
        mediaGapMs,
      });
    }
    phase = 'hold';
    await pause(options.durationSec * 1000, halt.signal);
  } finally {
    phase = 'stopping';
    clearInterval(allDownWatch);
    signal?.removeEventListener('abort', onAbort);
    sampling = false;
    await sampler;
    // A last interval, unless one just closed: rates over a few ms would be noise.
    if (performance.now() - lastTickAt > sampleMs / 2) {
      await fleet.sample(2000);
      collector.tick();
    }
    udp = udpDelta(udpAtStart, readUdpCounters());
    await hooks.beforeStop?.();
    // The closing scrape while the peers are still there: their consumers' last counts with it.
    await Promise.all(scrapers.map((scraper) => scraper.stop()));
    peers = await fleet.stop();
    if (redraw) clearInterval(redraw);
    view?.update((performance.now() - t0) / 1000, collector.progress(), signal?.aborted ? 'interrupted' : 'done');
    view?.stop();
  }

  const report = collector.finish({
    options: {
      url: urls.join(','),
      rooms: options.rooms,
      publishers: options.publishers,
      ...(options.publishersMax !== undefined ? { publishersMax: options.publishersMax } : {}),
      ...(options.speakerTurnSec !== undefined ? { speakerTurnSec: options.speakerTurnSec } : {}),
      subscribers: options.subscribers,
      durationSec: options.durationSec,
      rampPerSec: options.rampPerSec,
      processes,
      roomPrefix,
      sampleIntervalSec: sampleMs / 1000,
      engine: options.engine ?? 'werift',
      publish: options.publish ?? { audio: true, video: true },
      rejoin: options.rejoin ?? false,
      ...(options.simulcast ? { simulcast: true } : {}),
      ...(options.subscriberLayer !== undefined ? { subscriberLayer: options.subscriberLayer } : {}),
    },
    startedAt,
    interrupted: signal?.aborted ?? false,
    peers,
    servers: scrapers.map((scraper, i) => ({ url: urls[i]!, metrics: scraper.report() })),
    thresholds,
    ...(stoppedEarly ? { stoppedEarly } : {}),
    ...(udp ? { udp } : {}),
  });
  const simulcast = simulcastReport(report);
  if (simulcast) {
    report.simulcast = simulcast;
    const check = layerCheck(simulcast, options.maxLayerMismatches ?? 0);
    if (check) report.verdict = withCheck(report.verdict, check);
  }
  if (!options.outDir) return { report };
  const files = await writeReport(report, options.outDir);
  log(`report: ${files.html}`);
  return { report, files };
}
