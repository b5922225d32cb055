/**
 * (a) Forwarding capacity: the same bots, the same room shape and the same measurement
 * window against Noom and against the bare mediasoup harness; the worker's CPU per forwarded
 * stream of each, and Noom's over the bare one. Runs alternate bare / Noom so that drift in
 * the machine's background load falls on both sides.
 */
import { BotFleet, receiveTotals } from '../bots/fleet.js';
import { cpuMeter } from '../lib/procCpu.js';
import { scrapeMetrics } from '../lib/metricsText.js';
import { log, sleep } from '../lib/output.js';
import { fillRoom, waitForReceiving, type RoomShape } from '../lib/room.js';
import { startServer, type ServerKind } from '../lib/serverProcess.js';
import { median, round } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

interface Window {
  target: ServerKind;
  round: number;
  /** Open consumers on the bots, i.e. forwarded streams. */
  streams: number;
  seconds: number;
  workerCpuSeconds: number;
  /** Worker CPU as a share of one core. */
  workerCoreShare: number;
  /** The Node process (Noom's signaling or the shim), for context. */
  serverCoreShare: number;
  botsCoreShare: number;
  packetsPerSecond: number;
  lossPercent: number;
  /** Worker CPU per forwarded stream, in % of one core. */
  cpuPercentPerStream: number;
  /** Worker CPU per forwarded packet, in µs. */
  cpuMicrosPerPacket: number;
  /** Noom only: the same window's forwarded packets and worker CPU per its /metrics. */
  metrics?: { packetsPerSecond: number; workerCpuSeconds: number };
}

async function measureOnce(
  target: ServerKind,
  roundNo: number,
  fleet: BotFleet,
  shape: RoomShape,
  warmupMs: number,
  windowMs: number,
): Promise<Window> {
  const server = await startServer(target, `forwarding-${target}-${roundNo}`, target === 'noom' ? { WORKERS: '1' } : {});
  try {
    const roomId = `fwd-${target}-${roundNo}`;
    await fillRoom(fleet, server.url, roomId, shape);
    const streams = shape.publishers * 2 * shape.subscribers;
    await waitForReceiving(fleet, streams, 30_000);
    await sleep(warmupMs);

    const before = target === 'noom' ? await scrapeMetrics(server.url) : undefined;
    const rx0 = receiveTotals(await fleet.stats());
    const worker = cpuMeter(server.workerPids);
    const node = cpuMeter([server.pid]);
    const bots = cpuMeter(fleet.pids);
    await sleep(windowMs);
    const w = worker.stop();
    const n = node.stop();
    const b = bots.stop();
    const rx1 = receiveTotals(await fleet.stats());
    const after = target === 'noom' ? await scrapeMetrics(server.url) : undefined;

    const packets = rx1.packets - rx0.packets;
    const lost = rx1.lost - rx0.lost;
    const result: Window = {
      target,
      round: roundNo,
      streams: rx1.consumers,
      seconds: round(w.seconds, 2),
      workerCpuSeconds: round(w.cpuSeconds, 2),
      workerCoreShare: round(w.coreShare, 4),
      serverCoreShare: round(n.coreShare, 4),
      botsCoreShare: round(b.coreShare, 4),
      packetsPerSecond: round(packets / w.seconds, 0),
      lossPercent: round((100 * lost) / Math.max(1, packets + lost), 3),
      cpuPercentPerStream: round((100 * w.coreShare) / Math.max(1, rx1.consumers), 4),
      cpuMicrosPerPacket: round((1e6 * w.cpuSeconds) / Math.max(1, packets), 3),
    };
    if (before && after) {
      const metricsSeconds = w.seconds; // the scrapes bracket the window closely
      result.metrics = {
        packetsPerSecond: round((after.sum('noom_rtp_packets_forwarded_total') - before.sum('noom_rtp_packets_forwarded_total')) / metricsSeconds, 0),
        workerCpuSeconds: round(after.sum('noom_worker_cpu_seconds_total') - before.sum('noom_worker_cpu_seconds_total'), 2),
      };
    }
    log(
      `  ${target} round ${roundNo}: ${result.streams} streams, ${result.packetsPerSecond} pkt/s, worker ${round(100 * w.coreShare, 1)} % of a core, ` +
        `${result.cpuPercentPerStream} %/stream, ${result.cpuMicrosPerPacket} µs/pkt, loss ${result.lossPercent} %` +
        ` (bots ${round(100 * b.coreShare, 0)} %, node ${round(100 * n.coreShare, 0)} %)`,
    );
    return result;
  } finally {
    await fleet.closeAll().catch(() => undefined);
    await server.stop();
  }
}

export async function forwarding(o: SuiteOptions): Promise<SuiteResult> {
  const shape: RoomShape = { publishers: 4, subscribers: o.quick ? 2 : scaled(20, o) };
  const rounds = o.quick ? 1 : 3;
  const windowMs = o.quick ? 8_000 : 25_000;
  const warmupMs = o.quick ? 2_000 : 5_000;
  log(`forwarding: ${shape.publishers} publishers (audio+video) × ${shape.subscribers} subscribers, ${rounds} round(s) of ${windowMs / 1000} s per target`);
  const fleet = await BotFleet.start(o.botProcesses);
  const windows: Window[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const target of ['bare', 'noom'] as const) windows.push(await measureOnce(target, r, fleet, shape, warmupMs, windowMs));
    }
  } finally {
    await fleet.stop();
  }
  const pick = (t: ServerKind, f: (w: Window) => number) => median(windows.filter((w) => w.target === t).map(f))!;
  const perStream = { bare: pick('bare', (w) => w.cpuPercentPerStream), noom: pick('noom', (w) => w.cpuPercentPerStream) };
  const perPacket = { bare: pick('bare', (w) => w.cpuMicrosPerPacket), noom: pick('noom', (w) => w.cpuMicrosPerPacket) };
  const ratio = round(perStream.noom / perStream.bare, 3);
  // Each round measures bare then Noom back to back: their quotient cancels slow drift.
  const pairedRatios = Array.from({ length: rounds }, (_, i) => {
    const b = windows.find((w) => w.target === 'bare' && w.round === i + 1);
    const n = windows.find((w) => w.target === 'noom' && w.round === i + 1);
    return b && n ? round(n.cpuPercentPerStream / b.cpuPercentPerStream, 3) : NaN;
  });
  const packetRatio = round(perPacket.noom / perPacket.bare, 3);
  const streams = pick('noom', (w) => w.streams);
  return {
    name: 'forwarding',
    summary: [
      `room: ${shape.publishers} pub × ${shape.subscribers} sub = ${streams} forwarded streams, ${windowMs / 1000} s windows, ${rounds} round(s), medians`,
      `worker CPU per forwarded stream: Noom ${perStream.noom} % of a core, bare ${perStream.bare} % → ratio ${ratio} (target ≤ 1.05); per round ${pairedRatios.join(', ')}`,
      `worker CPU per forwarded packet: Noom ${perPacket.noom} µs, bare ${perPacket.bare} µs → ratio ${packetRatio}`,
      `worker load: Noom ${round(100 * pick('noom', (w) => w.workerCoreShare), 2)} % of a core, bare ${round(100 * pick('bare', (w) => w.workerCoreShare), 2)} %`,
      `packets/s received by the bots: Noom ${pick('noom', (w) => w.packetsPerSecond)}, bare ${pick('bare', (w) => w.packetsPerSecond)}; loss Noom ${pick('noom', (w) => w.lossPercent)} %, bare ${pick('bare', (w) => w.lossPercent)} %`,
      `cross-check, Noom's /metrics over the same windows: ${pick('noom', (w) => w.metrics?.packetsPerSecond ?? NaN)} pkt/s forwarded, worker ${pick('noom', (w) => w.metrics?.workerCpuSeconds ?? NaN)} CPU s (/proc: ${pick('noom', (w) => w.workerCpuSeconds)} s)`,
    ],
    data: { shape, rounds, windowMs, warmupMs, ratio, pairedRatios, packetRatio, perStream, perPacket, windows },
  };
}
