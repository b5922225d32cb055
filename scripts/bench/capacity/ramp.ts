/**
 * The two procedures of the capacity benchmark. A ramp adds viewers to one target until
 * the forwarded loss reaches 1 % (confirmed by a second window) or a worker saturates,
 * using each window to predict where saturation lies: it jumps to ~80 % of the prediction,
 * then climbs in small steps. A comparison puts several targets under the same fixed load,
 * one after the other.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { types } from 'mediasoup';
import { log, sleep } from '../lib/output.js';
import { round } from '../lib/stats.js';
import { figures, ksoftirqdPids, measureWindow, waitForQuiet, type Probe, type WindowFigures } from './measure.js';
import type { SenderProcess } from './senderProcess.js';
import type { CapacityTarget, Viewer, ViewerSpec } from './targets.js';

const run = promisify(execFile);

export const LOSS_LIMIT_PERCENT = 1;
/** A worker at this share of a core is saturated: it is single-threaded. */
export const SATURATED = 0.95;

export interface Timing {
  settleMs: number;
  windowMs: number;
}

/** A loaded target: its viewers, per worker. */
class Load {
  readonly viewers: Viewer[] = [];
  readonly perWorker: number[];

  constructor(readonly target: CapacityTarget) {
    this.perWorker = target.workerPids.map(() => 0);
  }

  /**
   * Adds viewers up to `count`, 50 at a time, and waits until each receives video (audio
   * when that is all it consumes). Returns how long the adding took (placement, pipes,
   * transports, consumers; not the wait).
   */
  async grow(count: number, spec: ViewerSpec, timeoutMs = 30_000): Promise<number> {
    const t0 = performance.now();
    const added: Viewer[] = [];
    while (this.viewers.length < count) {
      const batch = Math.min(50, count - this.viewers.length);
      const vs = await Promise.all(Array.from({ length: batch }, () => this.target.addViewer(spec)));
      for (const v of vs) {
        this.viewers.push(v);
        this.perWorker[v.slot] = (this.perWorker[v.slot] ?? 0) + 1;
      }
      added.push(...vs);
    }
    const ms = performance.now() - t0;
    await waitForFlow(
      added.flatMap((v) => v.consumers.filter((c) => c.kind === (spec.audioOnly ? 'audio' : 'video'))),
      timeoutMs,
    );
    return ms;
  }
}

/** Waits for every consumer's first packet (a video consumer's waits for a keyframe). */
async function waitForFlow(consumers: types.Consumer[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let pending = consumers;
  while (pending.length > 0) {
    const sent = await Promise.all(pending.map(async (c) => (await c.getStats()).reduce((a, s) => a + s.packetCount, 0)));
    pending = pending.filter((_, i) => sent[i] === 0);
    if (pending.length === 0) return;
    if (performance.now() > deadline) throw new Error(`${pending.length} consumers forwarded nothing in ${timeoutMs} ms`);
    await sleep(250);
  }
}

function probeOf(sender: SenderProcess, parts: { target: CapacityTarget; spec: ViewerSpec }[]): Probe {
  return {
    sender,
    ksoftirqd: ksoftirqdPids(),
    parts: parts.map(({ target, spec }) => ({ workerPids: target.workerPids, producers: target.published, sinkPort: spec.sinkPort, audioOnly: spec.audioOnly === true })),
  };
}

function describe(f: WindowFigures): string {
  const workers = f.workerCores.map((c, i) => `${round(100 * c, 0)} %${f.workerWaitShares[i]! > 0.05 ? ` (waited ${round(100 * f.workerWaitShares[i]!, 0)} %)` : ''}`).join(' + ');
  return (
    `${f.viewers} viewers [${f.viewersPerWorker.join(' + ')}], ${f.consumers} consumers: ${f.receivedPps} pkt/s, loss ${f.lossPercent} %` +
    `${f.ingressLossPercent > 0 ? ` (${f.ingressLossPercent} % at ingress)` : ''}, worker ${workers} of a core, ` +
    `${f.workerMicrosPerPacket} µs/pkt; sender ${round(100 * f.senderCore, 0)} %, harness ${round(100 * f.harnessCore, 0)} %, ` +
    `machine ${f.machineBusyCores} cores busy (others ${f.othersCores})`
  );
}

/**
 * `disturbed`: the loss came while other people's processes used the machine, through every
 * retry: the step says more about the machine's load than about the worker.
 */
export type StopReason = 'loss' | 'disturbed' | 'worker-saturated' | 'step-limit' | 'viewer-limit' | 'failed';

/** Other processes using this much of the machine during a window make its loss suspect. */
export const DISTURBED = 0.25;
const MAX_WINDOWS_PER_STEP = 3;

/**
 * Measures a step until its verdict is clear: a window under the loss limit; or two windows
 * over it while the rest of the machine was quiet; or, after MAX_WINDOWS_PER_STEP, the last
 * one. A window over the limit during others' work is taken again once the machine is quiet
 * (waiting up to 30 s).
 */
async function settledStep(measure: () => Promise<RampStep>, probe: Probe): Promise<RampStep> {
  const earlier: RampStep[] = [];
  for (;;) {
    const step = await measure();
    const done = () => (earlier.length > 0 ? { ...step, earlier } : step);
    if (step.lossPercent < LOSS_LIMIT_PERCENT || earlier.length + 1 >= MAX_WINDOWS_PER_STEP) return done();
    const quietLoss = [...earlier, step].filter((w) => w.othersCores < DISTURBED);
    if (quietLoss.length >= 2) return done();
    log(`    ${describe(step)} → measured again${step.othersCores >= DISTURBED ? ` once the machine is quiet (others used ${step.othersCores} cores)` : ''}`);
    earlier.push(step);
    if (step.othersCores >= DISTURBED) await waitForQuiet(probe, DISTURBED, 30_000);
  }
}

export interface RampStep extends WindowFigures {
  /** Viewers added for this step, and how long adding them took. */
  added: number;
  addMs: number;
  /** Earlier windows of this step whose loss sent it round for another. */
  earlier?: RampStep[];
}

export interface RampResult {
  label: string;
  round: number;
  /** The publisher alone (no viewers): the worker's fixed cost. */
  idle: WindowFigures;
  steps: RampStep[];
  stop: StopReason;
  failure?: string;
  /** The last step under the loss limit, and the first at or over it. */
  lastGood?: RampStep;
  firstBad?: RampStep;
}

/** A ramp's ceiling: consumers at its last step under the loss limit (0 when none). */
export const ceilingOf = (r: RampResult): number => r.lastGood?.consumers ?? 0;
/** Consumers per core of worker CPU at the ceiling. */
export const perCoreOf = (r: RampResult): number => r.lastGood?.consumersPerWorkerCore ?? NaN;
/** Why a ramp stopped, and where. */
export const stopOf = (r: RampResult): string => `${r.stop}${r.firstBad ? ` at ${r.firstBad.consumers}` : ''}`;
/** A ramp that ended on the worker or on loss while the machine was quiet, not on others' load or a failure. */
export const cleanStop = (r: RampResult): boolean => r.stop === 'worker-saturated' || r.stop === 'loss';

/**
 * A ramp's steps: `50 × scale` viewers first (at least 10), then steps of `resolution` × the
 * predicted ceiling, `maxSteps` at most, and 9,000 viewers at most (every viewer holds a
 * port of the 40100–49999 range).
 */
export function rampShape(scale: number, timing: Timing, resolution: number, maxSteps: number): Timing & Pick<RampOptions, 'firstViewers' | 'resolution' | 'maxSteps' | 'maxViewers'> {
  return { ...timing, firstViewers: Math.max(10, Math.round(50 * scale)), resolution, maxSteps, maxViewers: 9_000 };
}

export interface RampOptions extends Timing {
  label: string;
  round: number;
  spec: ViewerSpec;
  firstViewers: number;
  /** Small steps: this share of the predicted ceiling. */
  resolution: number;
  maxSteps: number;
  maxViewers: number;
}

/** Viewers at which the busiest worker would reach one full core, by a straight line through idle and `f`. */
function predictCeiling(idle: WindowFigures, f: WindowFigures): number | undefined {
  let best: number | undefined;
  f.workerCores.forEach((share, i) => {
    const base = idle.workerCores[i] ?? 0;
    const viewers = f.viewersPerWorker[i] ?? 0;
    if (viewers === 0 || share <= base) return;
    // This worker's viewers scale with the total as they did in this window.
    const atFull = (f.viewers * (1 - base)) / (share - base);
    if (best === undefined || atFull < best) best = atFull;
  });
  return best;
}

/** Starts a target; a half-started one leaves no publisher behind in the sender. */
async function startTarget(start: () => Promise<CapacityTarget>, sender: SenderProcess): Promise<CapacityTarget> {
  try {
    return await start();
  } catch (error) {
    await sender.unpublishAll();
    throw error;
  }
}

export async function ramp(start: () => Promise<CapacityTarget>, sender: SenderProcess, o: RampOptions): Promise<RampResult> {
  const target = await startTarget(start, sender);
  const load = new Load(target);
  const probe = probeOf(sender, [{ target, spec: o.spec }]);
  const steps: RampStep[] = [];
  let stop: StopReason = 'step-limit';
  let failure: string | undefined;
  log(`  ${o.label}, round ${o.round}`);
  try {
    await waitForQuiet(probe, DISTURBED, 30_000);
    await sleep(o.settleMs);
    const idle = figures(await measureWindow(probe, o.windowMs), probe, 0, 0, [...load.perWorker]);
    log(`    idle: worker ${idle.workerCores.map((c) => `${round(100 * c, 1)} %`).join(' + ')} of a core`);
    let next = o.firstViewers;
    for (let s = 0; s < o.maxSteps; s++) {
      const before = load.viewers.length;
      let addMs: number;
      try {
        addMs = await load.grow(next, o.spec);
      } catch (error) {
        stop = 'failed';
        failure = error instanceof Error ? error.message : String(error);
        log(`    ${next} viewers: ${failure}`);
        break;
      }
      await sleep(o.settleMs);
      const added = load.viewers.length - before;
      const measure = async () => ({
        ...figures(await measureWindow(probe, o.windowMs), probe, 0, load.viewers.length, [...load.perWorker]),
        added,
        addMs: round(addMs, 0),
      });
      const step = await settledStep(measure, probe);
      log(`    ${describe(step)}`);
      steps.push(step);
      if (step.lossPercent >= LOSS_LIMIT_PERCENT) {
        stop = step.othersCores >= DISTURBED ? 'disturbed' : 'loss';
        break;
      }
      if (Math.max(...step.workerCores) >= SATURATED) {
        stop = 'worker-saturated';
        break;
      }
      if (load.viewers.length >= o.maxViewers) {
        stop = 'viewer-limit';
        break;
      }
      const ceiling = predictCeiling(idle, step) ?? 2 * next;
      const n = load.viewers.length;
      const small = Math.max(2, Math.round(o.resolution * ceiling));
      next = Math.min(o.maxViewers, 2 * n, n < 0.8 * ceiling - small ? Math.round(0.8 * ceiling) : n + small);
    }
    const lastGood = [...steps].reverse().find((x) => x.lossPercent < LOSS_LIMIT_PERCENT);
    const firstBad = steps.find((x) => x.lossPercent >= LOSS_LIMIT_PERCENT);
    return {
      label: o.label,
      round: o.round,
      idle,
      steps,
      stop,
      ...(failure ? { failure } : {}),
      ...(lastGood ? { lastGood } : {}),
      ...(firstBad ? { firstBad } : {}),
    };
  } finally {
    await sender.unpublishAll();
    await target.close();
  }
}

export interface ComparedWindow extends WindowFigures {
  label: string;
  round: number;
}

export interface Contender {
  label: string;
  start: () => Promise<CapacityTarget>;
  /** Each contender needs a sink port of its own. */
  spec: ViewerSpec;
  /** Viewers for this contender, when not the common number. */
  viewers?: number;
}

/** Binds every thread of a process to one CPU (util-linux taskset). */
export async function pin(pid: number, cpu: number): Promise<void> {
  await run('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { timeout: 5_000 });
}

/**
 * Starts the contenders side by side, their workers bound to one and the same CPU, loads
 * each with `viewers`, and measures them in the same window: whatever the machine (or the
 * hypervisor under it) does to that CPU meanwhile falls on all of them alike. A window
 * during other people's work is taken again once the machine is quiet (twice at most).
 */
export async function measureTogether(
  contenders: readonly Contender[],
  sender: SenderProcess,
  roundNo: number,
  viewers: number,
  t: Timing,
  cpu: number,
): Promise<ComparedWindow[]> {
  const started: { target: CapacityTarget; spec: ViewerSpec; label: string }[] = [];
  try {
    for (const c of contenders) started.push({ target: await startTarget(c.start, sender), spec: c.spec, label: c.label });
    for (const s of started) for (const pid of s.target.workerPids) await pin(pid, cpu);
    const loads = started.map((s) => new Load(s.target));
    const probe = probeOf(sender, started);
    await Promise.all(loads.map((l, i) => l.grow(contenders[i]!.viewers ?? viewers, started[i]!.spec)));
    await sleep(t.settleMs);
    const measure = async () => {
      const edges = await measureWindow(probe, t.windowMs);
      return loads.map((l, i) => ({ ...figures(edges, probe, i, l.viewers.length, [...l.perWorker]), label: started[i]!.label, round: roundNo }));
    };
    let windows = await measure();
    for (let retry = 0; retry < 2 && windows[0]!.othersCores >= DISTURBED; retry++) {
      log(`    others used ${windows[0]!.othersCores} cores: measured again once the machine is quiet`);
      await waitForQuiet(probe, DISTURBED, 30_000);
      windows = await measure();
    }
    for (const w of windows) log(`    ${w.label}: ${describe(w)}`);
    return windows;
  } finally {
    await sender.unpublishAll();
    for (const s of started) await s.target.close();
  }
}
