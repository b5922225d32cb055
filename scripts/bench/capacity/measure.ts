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

export interface Probe {
  sender: SenderProcess;
  workerPids: readonly number[];
  producers: { audio: types.Producer; video: types.Producer };
  ksoftirqd: readonly number[];
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

function cpuNow(p: Probe): Cpu {
  return {
    workers: p.workerPids.map(safeCpu),
    workersWaiting: p.workerPids.map(runQueueWait),
    sender: safeCpu(p.sender.pid),
    self: safeCpu(process.pid),
    ksoftirqd: p.ksoftirqd.reduce((a, pid) => a + safeCpu(pid), 0),
    machine: machineCpu(),
  };
}

/** Counters read while the publisher is paused and the pipeline has drained: exact. */
interface Quiet {
  sent: SenderCounts;
  sink: SinkCounts;
  udp: Record<string, number>;
  ingress: number;
}

async function producerPackets(p: types.Producer): Promise<number> {
  const stats = await p.getStats();
  return stats.reduce((a, s) => a + s.packetCount, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until nothing more reaches the sink (bounded), then reads everything. */
async function quiet(p: Probe, sent: SenderCounts, drainTimeoutMs = 5_000): Promise<Quiet> {
  const deadline = performance.now() + drainTimeoutMs;
  let sink = await readSink();
  for (;;) {
    await sleep(50);
    const next = await readSink();
    const settled = next.rtp === sink.rtp;
    sink = next;
    if (settled || performance.now() > deadline) break;
  }
  const ingress = (await producerPackets(p.producers.audio)) + (await producerPackets(p.producers.video));
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
 * One window. Its edges are the publisher's pauses: the sender stops, the pipeline drains,
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

export function figures(e: Edges, viewers: number, viewersPerWorker: number[]): WindowFigures {
  const { a, b, cpuA, cpuB } = e;
  const s = e.seconds;
  const sentOf = (q: Quiet, kind: 'audio' | 'video') => q.sent.streams.filter((x) => x.kind === kind).reduce((n, x) => n + x.packets, 0);
  const sentAudio = sentOf(b, 'audio') - sentOf(a, 'audio');
  const sentVideo = sentOf(b, 'video') - sentOf(a, 'video');
  const expected = (sentAudio + sentVideo) * viewers;
  const received = b.sink.rtp - a.sink.rtp;
  const ingress = b.ingress - a.ingress;
  const workerCores = cpuB.workers.map((w, i) => (w - cpuA.workers[i]!) / s);
  const workerTotal = workerCores.reduce((x, y) => x + y, 0);
  const consumers = viewers * 2;
  return {
    seconds: round(s, 2),
    viewers,
    consumers,
    viewersPerWorker,
    sentPps: round((sentAudio + sentVideo) / s, 0),
    ingressPps: round(ingress / s, 0),
    expectedPps: round(expected / s, 0),
    receivedPps: round(received / s, 0),
    rtcpPps: round((b.sink.rtcp - a.sink.rtcp) / s, 0),
    lossPercent: round(expected > 0 ? (100 * (expected - received)) / expected : 0, 3),
    ingressLossPercent: round(sentAudio + sentVideo > 0 ? (100 * (sentAudio + sentVideo - ingress)) / (sentAudio + sentVideo) : 0, 3),
    workerCores: workerCores.map((c) => round(c, 3)),
    workerWaitShares: cpuB.workersWaiting.map((w, i) => round((w - cpuA.workersWaiting[i]!) / s, 3)),
    senderCore: round((cpuB.sender - cpuA.sender) / s, 3),
    harnessCore: round((cpuB.self - cpuA.self) / s, 3),
    ksoftirqdCore: round((cpuB.ksoftirqd - cpuA.ksoftirqd) / s, 3),
    machineBusyCores: round((cpuB.machine.busy - cpuA.machine.busy) / s, 2),
    machineStealCores: round((cpuB.machine.steal - cpuA.machine.steal) / s, 2),
    udpRcvbufErrors: (b.udp.RcvbufErrors ?? 0) - (a.udp.RcvbufErrors ?? 0),
    udpSndbufErrors: (b.udp.SndbufErrors ?? 0) - (a.udp.SndbufErrors ?? 0),
    senderLateFrames: b.sent.lateFrames - a.sent.lateFrames,
    senderLoopMaxMs: round(b.sent.loopDelayMaxMs, 1),
    keyframes: b.sent.keyframes - a.sent.keyframes,
    workerMicrosPerPacket: round(received > 0 ? (1e6 * workerTotal * s) / received : NaN, 3),
    consumersPerWorkerCore: round(workerTotal > 0 ? consumers / workerTotal : NaN, 0),
  };
}
