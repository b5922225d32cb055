/**
 * The capacity part of the `cluster` benchmark, run by suites/cluster.ts inside a private
 * network namespace (see netns.ts): how many viewers one room carries at < 1 % loss when
 * they all sit on one node, and when they are spread over two nodes of a cluster. The
 * viewers are the capacity benchmark's kernel-counted PlainTransports with SRTP, and each
 * setup gets the capacity benchmark's ramp (ramp.ts). Both setups are cluster nodes on a
 * private redis-server, one worker each, node A's worker bound to CPU 0 in both and node
 * B's to CPU 1; the publisher is on node A. Per round one ramp of each, the order
 * alternating.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, redisServer } from '../../cluster/redisServer.js';
import { log } from '../lib/output.js';
import { fmt, median, round, spreadOf } from '../lib/stats.js';
import { ClusterTarget } from './clusterTarget.js';
import type { CapacityPlan, CapacityReport } from './messages.js';
import { serveReport } from './netns.js';
import { ceilingOf, cleanStop, perCoreOf, ramp, rampShape, stopOf, type RampResult } from './ramp.js';
import { SenderProcess } from './senderProcess.js';
import { SINK_PORTS, installSink } from './sink.js';
import { SRTP_SUITE } from './targets.js';

async function run(plan: CapacityPlan): Promise<CapacityReport> {
  const rounds = plan.quick ? 1 : 3;
  const timing = plan.quick ? { settleMs: 1_000, windowMs: 2_000 } : { settleMs: 1_000, windowMs: 3_000 };
  const shape = { ...rampShape(plan.scale, timing, plan.quick ? 0.1 : 0.06, plan.quick ? 3 : 10), spec: { sinkPort: SINK_PORTS[0], srtp: SRTP_SUITE } };
  const cpus = [0, Math.min(1, os.availableParallelism() - 1)];
  const setups = [
    { key: 'one', label: 'one node (worker on CPU 0)', cpus: cpus.slice(0, 1) },
    { key: 'two', label: `two nodes (workers on CPUs ${cpus.join(' and ')})`, cpus },
  ] as const;

  await installSink(plan.outerNetns);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'noom-bench-redis-'));
  const redis = redisServer({ port: await freePort(), dir });
  await redis.start();
  const sender = await SenderProcess.start();
  const ramps: Record<'one' | 'two', RampResult[]> = { one: [], two: [] };
  try {
    log(`cluster capacity: ${rounds} round(s); one room, publisher on node A, PlainTransport viewers with SRTP (${SRTP_SUITE}) on one node vs alternating over two`);
    for (let r = 1; r <= rounds; r++) {
      for (const s of r % 2 === 1 ? setups : [...setups].reverse()) {
        ramps[s.key].push(await ramp(() => ClusterTarget.start(sender, redis.url, s.cpus), sender, { ...shape, label: s.label, round: r }));
      }
    }
  } finally {
    await sender.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return summarize(plan.quick, rounds, setups[0].label, setups[1].label, ramps.one, ramps.two);
}

function summarize(quick: boolean, rounds: number, oneLabel: string, twoLabel: string, one: RampResult[], two: RampResult[]): CapacityReport {
  const viewers = (r: RampResult) => ceilingOf(r) / 2;
  const line = (label: string, rs: RampResult[]) => {
    const s = spreadOf(rs.map(viewers));
    const split = rs.map((r) => r.lastGood?.viewersPerWorker.join(' + ') ?? '-').join(', ');
    const cores = rs.map((r) => r.lastGood?.workerCores.map((c) => round(100 * c, 0)).join(' + ') ?? '-').join(', ');
    return (
      `${label}: ${s.median.toLocaleString('en-US')} viewers (${(2 * s.median).toLocaleString('en-US')} consumers) at < 1 % loss ` +
      `(median; rounds ${fmt(rs.map(viewers))}, ±${s.halfRangePercent} %; per node ${split}; workers at ${cores} % of a core), ` +
      `${fmt([median(rs.map(perCoreOf)) ?? NaN])} consumers per worker core; stopped by ${rs.map(stopOf).join(', ')}`
    );
  };
  const ratios = two.map((t, i) => ceilingOf(t) / Math.max(1, ceilingOf(one[i]!)));
  const ratio = spreadOf(ratios);
  const clean = ratios.filter((_, i) => cleanStop(one[i]!) && cleanStop(two[i]!));
  const efficiency = two.map((t, i) => perCoreOf(t) / perCoreOf(one[i]!));
  const at2 = two.map((t) => t.lastGood).filter((x) => x !== undefined);
  const m = (f: (x: (typeof at2)[number]) => number) => round(median(at2.map(f)) ?? NaN, 2);
  const summary = [
    line(oneLabel, one),
    line(twoLabel, two),
    `${quick ? 'QUICK RUN, NOT A RESULT: ' : ''}two nodes vs one, same round: ${round(ratio.median, 2)}× the viewers (${rounds} round(s): ${fmt(ratios, 2)}, ±${ratio.halfRangePercent} %; ` +
      `rounds where neither ramp was cut short by others' load or a failure: ${clean.length > 0 ? fmt(clean, 2) : 'none'}); ` +
      `consumers per worker core, two nodes / one: ${round(median(efficiency) ?? NaN, 2)}× (rounds ${fmt(efficiency, 2)}; below 1, what the pipe between the nodes costs each consumer)`,
  ];
  if (at2.length > 0) {
    summary.push(
      `at the two-node ceiling (medians, cores): workers ${m((x) => x.workerCores[0]!)} + ${m((x) => x.workerCores[1] ?? NaN)}, publisher process ${m((x) => x.senderCore)}, ` +
        `both nodes' Node side + harness ${m((x) => x.harnessCore)}, ksoftirqd ${m((x) => x.ksoftirqdCore)}, others (Redis included) ${m((x) => x.othersCores)}; whole machine ${m((x) => x.machineBusyCores)} of ${os.availableParallelism()} busy`,
    );
  }
  return { summary, data: { rounds, ramps: { oneNode: one, twoNodes: two }, ratios, efficiency } };
}

await serveReport('cluster capacity', run);
