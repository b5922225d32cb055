/**
 * One measurement window of the capacity benchmark: what the publisher sent, what reached
 * the sink, and who used the CPU meanwhile — each worker, the publisher process, this
 * process (Noom's Node side and the harness), the kernel's softirq threads, and the whole
 * machine (other people's work included). Read at both edges of the window; the figures
 * are the differences.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { types } from 'mediasoup';
import { processCpuSeconds } from '../lib/procCpu.js';
import { round } from '../lib/stats.js';
import type { SenderCounts } from './messages.js';
import type { SenderProcess } from './senderProcess.js';
import { readSink, udpCounters, type SinkCounts } from './sink.js';

/** The kernel threads that run network softirqs when the sending task does not. */
export function ksoftirqdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('ksoftirqd/')) pids.push(Number(entry));
    } catch {
      // the process ended while listing
    }
  }
  return pids;
}

interface MachineCpu {
  /** Seconds of all cores: busy (user, nice, system, irq, softirq), idle (idle, iowait), steal. */
  busy: number;
  idle: number;
  steal: number;
}

function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number) as number[];
  const hz = 100; // USER_HZ, as procCpu reads it
  return { busy: (user! + nice! + system! + irq! + softirq!) / hz, idle: (idle! + iowait!) / hz, steal: steal! / hz };
}

function safeCpu(pid: number): number {
  try {
    return processCpuSeconds(pid);
  } catch {
    return NaN;
  }
}

/** One target under measurement: its workers, its publisher, the sink port of its viewers and what they consume. */
export interface Part {
  workerPids: readonly number[];
  producers: { audio: types.Producer; video: types.Producer };
  sinkPort: number;
  audioOnly: boolean;
}

/** What a window reads: the publisher process, the kernel's softirq threads, one or more targets. */
export interface Probe {
  sender: SenderProcess;
  ksoftirqd: readonly number[];
  parts: readonly Part[];
}

/** Seconds the process's threads have waited on a run queue for a CPU (/proc/<pid>/schedstat). */
function runQueueWait(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return NaN;
  }
}

interface Cpu {
  workers: number[];
  workersWaiting: number[];
  sender: number;
  self: number;
  ksoftirqd: number;
  machine: MachineCpu;
}

/** Every part's worker pids, in order: Cpu.workers follows it. */
const allWorkers = (p: Probe) => p.parts.flatMap((x) => x.workerPids);

function cpuNow(p: Probe): Cpu {
  return {
    workers: allWorkers(p).map(safeCpu),
    workersWaiting: allWorkers(p).map(runQueueWait),
    sender: safeCpu(p.sender.pid),
    self: safeCpu(process.pid),
    ksoftirqd: p.ksoftirqd.reduce((a, pid) => a + safeCpu(pid), 0),
    machine: machineCpu(),
  };
}

/** Counters read while the publisher is paused and the pipeline has drained: exact. */
interface Quiet {
  sent: SenderCounts;
  sink: Map<number, SinkCounts>;
  udp: Record<string, number>;
  /** Packets each part's producers received. */
  ingress: number[];
}

async function producerPackets(p: types.Producer): Promise<number> {
  const stats = await p.getStats();
  return stats.reduce((a, s) => a + s.packetCount, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until nothing more reaches the sink (bounded), then reads everything. */
async function quiet(p: Probe, sent: SenderCounts, drainTimeoutMs = 5_000): Promise<Quiet> {
  const deadline = performance.now() + drainTimeoutMs;
  const rtp = (m: Map<number, SinkCounts>) => [...m.values()].reduce((a, c) => a + c.rtp, 0);
  let sink = await readSink();
  for (;;) {
    await sleep(50);
    const next = await readSink();
    const settled = rtp(next) === rtp(sink);
    sink = next;
    if (settled || performance.now() > deadline) break;
  }
  const ingress = await Promise.all(p.parts.map(async (x) => (await producerPackets(x.producers.audio)) + (await producerPackets(x.producers.video))));
  return { sent, sink, udp: udpCounters(), ingress };
}

interface Edges {
  a: Quiet;
  b: Quiet;
  cpuA: Cpu;
  cpuB: Cpu;
  seconds: number;
}

/**
 * One window, for every part of the probe at once. Its edges are the publisher's pauses: the sender stops, the pipeline drains,
 * the counters are read — so sent and received describe exactly the same packets however
 * long a read takes on a busy machine. CPU is read right after the sender resumes and
 * right after it pauses, so it covers the window's sending time.
 */
export async function measureWindow(p: Probe, windowMs: number): Promise<Edges> {
  const a = await quiet(p, await p.sender.pause());
  await p.sender.resume();
  const t0 = performance.now();
  const cpuA = cpuNow(p);
  await sleep(windowMs);
  const sent = await p.sender.pause();
  const cpuB = cpuNow(p);
  const seconds = (performance.now() - t0) / 1000;
  const b = await quiet(p, sent);
  await p.sender.resume();
  return { a, b, cpuA, cpuB, seconds };
}

/** Cores the rest of the machine used between two readings. */
function othersOver(a: Cpu, b: Cpu, seconds: number): number {
  const ours = b.workers.reduce((x, w, i) => x + w - a.workers[i]!, 0) + (b.sender - a.sender) + (b.self - a.self) + (b.ksoftirqd - a.ksoftirqd);
  return (b.machine.busy - a.machine.busy - ours) / seconds;
}

/**
 * Waits (at most `maxMs`) until the rest of the machine leaves this benchmark alone: other
 * processes below `cores` over a 2 s sample. Returns the last sample.
 */
export async function waitForQuiet(p: Probe, cores: number, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    const a = cpuNow(p);
    const t0 = performance.now();
    await sleep(2_000);
    const others = othersOver(a, cpuNow(p), (performance.now() - t0) / 1000);
    if (others < cores || performance.now() > deadline) return others;
  }
}

export interface WindowFigures {
  seconds: number;
  viewers: number;
  consumers: number;
  /** Viewers on each worker (by slot). */
  viewersPerWorker: number[];
  /** Packets/s the publisher sent (audio + video) and the worker received from it. */
  sentPps: number;
  ingressPps: number;
  /** Forwarded RTP packets/s expected at the sink (sent × viewers) and counted there. */
  expectedPps: number;
  receivedPps: number;
  /** RTCP packets/s the viewers' transports sent (sender reports), counted apart. */
  rtcpPps: number;
  lossPercent: number;
  /** Loss before the worker: publisher packets the producers never counted. */
  ingressLossPercent: number;
  /** Each worker's CPU, as a share of one core. */
  workerCores: number[];
  /** Each worker's time spent runnable but waiting for a CPU, as a share of the window: contention. */
  workerWaitShares: number[];
  senderCore: number;
  /** This process: Noom's Node side (idle during a window) and the harness. */
  harnessCore: number;
  ksoftirqdCore: number;
  /** The whole machine, cores busy out of all (others' work included), and steal. */
  machineBusyCores: number;
  machineStealCores: number;
  /** Cores used by everything but this benchmark's processes: other people's work. */
  othersCores: number;
  /** Kernel UDP drops in this namespace during the window (a socket's buffer full). */
  udpRcvbufErrors: number;
  udpSndbufErrors: number;
  senderLateFrames: number;
  senderLoopMaxMs: number;
  keyframes: number;
  /** Worker CPU per forwarded packet (all workers), µs. */
  workerMicrosPerPacket: number;
  /** Consumers per core of worker CPU: consumers ÷ the workers' summed core shares. */
  consumersPerWorkerCore: number;
}

const ssrcOf = (p: types.Producer) => p.rtpParameters.encodings?.[0]?.ssrc;

/** The figures of one part (`index` in the probe) of a window. */
export function figures(e: Edges, probe: Probe, index: number, viewers: number, viewersPerWorker: number[]): WindowFigures {
  const { a, b, cpuA, cpuB } = e;
  const s = e.seconds;
  const part = probe.parts[index]!;
  const ssrcs = new Set([ssrcOf(part.producers.audio), ssrcOf(part.producers.video)]);
  const sentOf = (q: Quiet, kind: 'audio' | 'video') =>
    q.sent.streams.filter((x) => x.kind === kind && ssrcs.has(x.ssrc)).reduce((n, x) => n + x.packets, 0);
  const sentAudio = sentOf(b, 'audio') - sentOf(a, 'audio');
  const sentVideo = sentOf(b, 'video') - sentOf(a, 'video');
  const expected = (sentAudio + (part.audioOnly ? 0 : sentVideo)) * viewers;
  const sinkA = a.sink.get(part.sinkPort)!;
  const sinkB = b.sink.get(part.sinkPort)!;
  const received = sinkB.rtp - sinkA.rtp;
  const ingress = b.ingress[index]! - a.ingress[index]!;
  const first = probe.parts.slice(0, index).reduce((n, x) => n + x.workerPids.length, 0);
  const mine = (xs: number[]) => xs.slice(first, first + part.workerPids.length);
  const workerCores = mine(cpuB.workers).map((w, i) => (w - mine(cpuA.workers)[i]!) / s);
  const workerTotal = workerCores.reduce((x, y) => x + y, 0);
  const consumers = viewers * (part.audioOnly ? 1 : 2);
  return {
    seconds: round(s, 2),
    viewers,
    consumers,
    viewersPerWorker,
    sentPps: round((sentAudio + sentVideo) / s, 0),
    ingressPps: round(ingress / s, 0),
    expectedPps: round(expected / s, 0),
    receivedPps: round(received / s, 0),
    rtcpPps: round((sinkB.rtcp - sinkA.rtcp) / s, 0),
    lossPercent: round(expected > 0 ? (100 * (expected - received)) / expected : 0, 3),
    ingressLossPercent: round(sentAudio + sentVideo > 0 ? (100 * (sentAudio + sentVideo - ingress)) / (sentAudio + sentVideo) : 0, 3),
    workerCores: workerCores.map((c) => round(c, 3)),
    workerWaitShares: mine(cpuB.workersWaiting).map((w, i) => round((w - mine(cpuA.workersWaiting)[i]!) / s, 3)),
    senderCore: round((cpuB.sender - cpuA.sender) / s, 3),
    harnessCore: round((cpuB.self - cpuA.self) / s, 3),
    ksoftirqdCore: round((cpuB.ksoftirqd - cpuA.ksoftirqd) / s, 3),
    machineBusyCores: round((cpuB.machine.busy - cpuA.machine.busy) / s, 2),
    machineStealCores: round((cpuB.machine.steal - cpuA.machine.steal) / s, 2),
    othersCores: round(Math.max(0, othersOver(cpuA, cpuB, s)), 2),
    udpRcvbufErrors: (b.udp.RcvbufErrors ?? 0) - (a.udp.RcvbufErrors ?? 0),
    udpSndbufErrors: (b.udp.SndbufErrors ?? 0) - (a.udp.SndbufErrors ?? 0),
    senderLateFrames: b.sent.lateFrames - a.sent.lateFrames,
    senderLoopMaxMs: round(b.sent.loopDelayMaxMs, 1),
    keyframes: b.sent.keyframes - a.sent.keyframes,
    workerMicrosPerPacket: round(received > 0 ? (1e6 * workerTotal * s) / received : NaN, 3),
    consumersPerWorkerCore: round(workerTotal > 0 ? consumers / workerTotal : NaN, 0),
  };
}
