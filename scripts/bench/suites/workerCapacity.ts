/**
 * (d) How many consumers one worker carries with under 1 % loss: Noom with WORKERS=1, four
 * audio + video publishers, subscribers added step by step. Each step is held for a window
 * in which loss (sequence gaps seen by the bots), the worker's CPU and the bots' CPU are
 * measured. The ramp stops at the first step with loss ≥ 1 %, a worker above 90 % of a
 * core, or a bot process above 90 % of a core — past that point the bots, not the worker,
 * would decide the loss, so the step is reported as bot-bound rather than as the worker's limit.
 * A step whose loss was lost at the receivers (see lostAtReceivers) gets a second window
 * before it counts as failed.
 */
import os from 'node:os';
import { BotFleet, lossSplit, receiveTotals } from '../bots/fleet.js';
import { udpReceiveBufferErrors } from '../lib/udpCounters.js';
import { processCpuSeconds } from '../lib/procCpu.js';
import { scrapeMetrics } from '../lib/metricsText.js';
import { log, sleep } from '../lib/output.js';
import { waitForReceiving } from '../lib/room.js';
import { startServer, type ServerProcess } from '../lib/serverProcess.js';
import { round } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

const PUBLISHERS = 4;
const LOSS_LIMIT_PERCENT = 1;
const SATURATED = 0.9;

interface Step {
  subscribers: number;
  /** Consumers on the worker, per Noom's /metrics. */
  consumers: number;
  packetsPerSecond: number;
  lossPercent: number;
  /** The loss split: before the fan-out (same on every consumer of a track) and per consumer. */
  loss: { commonPercent: number; perConsumerPercent: number };
  /** Kernel UDP receive-buffer drops during the window (whole network namespace). */
  udpRcvbufErrors?: number;
  workerCoreShare: number;
  /** The busiest bot process, as a share of one core. */
  busiestBotCoreShare: number;
  /** The longest event-loop stall of any bot process during the window, ms. */
  botLoopDelayMaxMs: number;
  /** The machine's 1-minute load average at the end of the window (other work included). */
  loadAverage: number;
  /** The first window of this step, when its loss sent it round for a second one. */
  retriedAfter?: Step;
}

function lostAtReceivers(step: Step): boolean {
  return step.loss.perConsumerPercent > step.loss.commonPercent && (step.udpRcvbufErrors ?? 0) > 0 && step.workerCoreShare < SATURATED;
}

function logStep(step: Step, note = ''): void {
  log(
    `  ${step.subscribers} subscribers, ${step.consumers} consumers: ${step.packetsPerSecond} pkt/s, loss ${step.lossPercent} % ` +
      `(${step.loss.commonPercent} % before fan-out, ${step.loss.perConsumerPercent} % per consumer, ${step.udpRcvbufErrors ?? '?'} UDP rcvbuf drops), ` +
      `worker ${round(100 * step.workerCoreShare, 1)} % of a core, busiest bot ${round(100 * step.busiestBotCoreShare, 0)} %, longest bot stall ${step.botLoopDelayMaxMs} ms` +
      (note ? ` (${note})` : ''),
  );
}

async function measureWindow(fleet: BotFleet, server: ServerProcess, subscribers: number, windowMs: number): Promise<Step> {
  const stats0 = await fleet.stats();
  const rx0 = receiveTotals(stats0);
  const udp0 = udpReceiveBufferErrors();
  const w0 = processCpuSeconds(server.workerPids[0]!);
  const b0 = fleet.pids.map(processCpuSeconds);
  const t0 = performance.now();
  await sleep(windowMs);
  const seconds = (performance.now() - t0) / 1000;
  const w1 = processCpuSeconds(server.workerPids[0]!);
  const b1 = fleet.pids.map(processCpuSeconds);
  const udp1 = udpReceiveBufferErrors();
  const stats1 = await fleet.stats();
  const rx1 = receiveTotals(stats1);
  const metrics = await scrapeMetrics(server.url);
  const packets = rx1.packets - rx0.packets;
  const lost = rx1.lost - rx0.lost;
  return {
    subscribers,
    consumers: metrics.sum('noom_consumers'),
    packetsPerSecond: round(packets / seconds, 0),
    lossPercent: round((100 * lost) / Math.max(1, packets + lost), 3),
    loss: lossSplit(stats0, stats1),
    ...(udp0 !== undefined && udp1 !== undefined ? { udpRcvbufErrors: udp1 - udp0 } : {}),
    workerCoreShare: round((w1 - w0) / seconds, 3),
    busiestBotCoreShare: round(Math.max(...b1.map((c, i) => (c - b0[i]!) / seconds)), 3),
    botLoopDelayMaxMs: round(Math.max(...stats1.map((b) => b.loopDelayMaxMs)), 1),
    loadAverage: round(os.loadavg()[0]!, 2),
  };
}

/**
 * `loss-at-receivers`: the loss was per consumer (not shared by all consumers of a track) and
 * the kernel dropped UDP for full receive buffers — a subscriber's socket overflowed, i.e.
 * a bot fell behind, while the worker was not saturated. The worker's own overload shows up
 * as loss common to every consumer of a track (its ingress socket overflows first).
 */
type StopReason = 'loss' | 'loss-at-receivers' | 'worker-saturated' | 'bots-saturated' | 'step-limit' | 'join-failed';

export async function workerCapacity(o: SuiteOptions): Promise<SuiteResult> {
  const stepSize = o.quick ? 1 : scaled(4, o);
  const maxSteps = o.quick ? 3 : 22;
  const settleMs = o.quick ? 2_000 : 3_000;
  const windowMs = o.quick ? 4_000 : 10_000;
  log(`worker-capacity: WORKERS=1, ${PUBLISHERS} audio+video publishers, +${stepSize} subscribers per step (${stepSize * PUBLISHERS * 2} consumers), ${windowMs / 1000} s windows`);
  const server = await startServer('noom', 'worker-capacity', { WORKERS: '1' });
  const fleet = await BotFleet.start(o.botProcesses);
  const steps: Step[] = [];
  let stop: StopReason = 'step-limit';
  let failure: string | undefined;
  const roomId = `capacity-${Date.now()}`;
  try {
    for (let p = 0; p < PUBLISHERS; p++) {
      await fleet.join(p, { url: server.url, roomId, displayName: `pub-${p}`, publish: { audio: true, video: true }, consume: false });
    }
    let subscribers = 0;
    for (let s = 0; s < maxSteps; s++) {
      try {
        await Promise.all(
          Array.from({ length: stepSize }, (_, i) =>
            fleet.join(subscribers + i, { url: server.url, roomId, displayName: `sub-${subscribers + i}`, publish: { audio: false, video: false }, consume: true }),
          ),
        );
        subscribers += stepSize;
        await waitForReceiving(fleet, subscribers * PUBLISHERS * 2, 20_000);
      } catch (error) {
        stop = 'join-failed';
        failure = error instanceof Error ? error.message : String(error);
        break;
      }
      await sleep(settleMs);
      let step = await measureWindow(fleet, server, subscribers, windowMs);
      logStep(step);
      // A bot that stalls for a moment drops packets at its own socket: that is the bots'
      // hiccup, not the worker's limit, so such a step is held for one more window.
      if (step.lossPercent >= LOSS_LIMIT_PERCENT && lostAtReceivers(step)) {
        const first = step;
        step = { ...(await measureWindow(fleet, server, subscribers, windowMs)), retriedAfter: first };
        logStep(step, 'held for a second window');
      }
      steps.push(step);
      if (step.lossPercent >= LOSS_LIMIT_PERCENT) {
        stop = step.busiestBotCoreShare >= SATURATED ? 'bots-saturated' : lostAtReceivers(step) ? 'loss-at-receivers' : 'loss';
        break;
      }
      if (step.workerCoreShare >= SATURATED) {
        stop = 'worker-saturated';
        break;
      }
      if (step.busiestBotCoreShare >= SATURATED) {
        stop = 'bots-saturated';
        break;
      }
    }
  } finally {
    await fleet.stop();
    await server.stop();
  }
  const good = steps.filter((s) => s.lossPercent < LOSS_LIMIT_PERCENT);
  const last = good.at(-1);
  // The worker's cost is a fixed part (receiving the publishers) plus a part per consumer:
  // the slope between the first and the last good step estimates the latter.
  const first = good[0];
  const slope =
    first && last && last.consumers > first.consumers ? (last.workerCoreShare - first.workerCoreShare) / (last.consumers - first.consumers) : undefined;
  const extrapolated =
    last && slope !== undefined && slope > 0 ? Math.floor(last.consumers + (SATURATED - last.workerCoreShare) / slope) : undefined;
  const summary = [
    last
      ? `last step under ${LOSS_LIMIT_PERCENT} % loss: ${last.consumers} consumers (${last.subscribers} subscribers × ${PUBLISHERS * 2} tracks), loss ${last.lossPercent} %, worker ${round(100 * last.workerCoreShare, 1)} % of a core, ${last.packetsPerSecond} pkt/s`
      : 'no step under 1 % loss',
    `ramp stopped by: ${stop}${failure ? ` (${failure})` : ''}`,
  ];
  const bad = steps.find((s) => s.lossPercent >= LOSS_LIMIT_PERCENT);
  if (bad) {
    summary.push(
      `first step at or over ${LOSS_LIMIT_PERCENT} %: ${bad.consumers} consumers, loss ${bad.lossPercent} % (${bad.loss.commonPercent} % before the fan-out, ${bad.loss.perConsumerPercent} % per consumer), ` +
        `${bad.udpRcvbufErrors ?? '?'} kernel UDP receive-buffer drops, worker ${round(100 * bad.workerCoreShare, 1)} % of a core, busiest bot ${round(100 * bad.busiestBotCoreShare, 0)} %, longest bot event-loop stall ${bad.botLoopDelayMaxMs} ms, load average ${bad.loadAverage}`,
    );
  }
  if (extrapolated !== undefined && stop !== 'loss' && stop !== 'worker-saturated') {
    // Only when something other than the worker ended the ramp.
    summary.push(
      `the worker was not the limit: at ${round(100 * slope!, 3)} % of a core per added consumer it would reach ${SATURATED * 100} % of a core near ${extrapolated} consumers (linear extrapolation, not measured)`,
    );
  }
  return { name: 'worker-capacity', summary, data: { publishers: PUBLISHERS, stepSize, windowMs, stop, failure, steps, marginalCoreSharePerConsumer: slope, extrapolatedConsumersAt90: extrapolated } };
}
