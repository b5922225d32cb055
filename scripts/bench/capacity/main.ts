/**
 * The capacity benchmark proper, run by suites/capacity.ts inside a private network
 * namespace (`unshare -n`), so that the kernel counters it reads and the filters it
 * installs are its own. Takes its plan as a JSON argument, prints progress, and sends
 * `{ summary, data }` to its parent over IPC.
 *
 * Per round: a ramp of Noom with one worker, then of one room over two workers. Then, at
 * 60 % of the one-worker ceiling, one window each of bare mediasoup, Noom, Noom with viewers
 * without SRTP (what encryption costs) and Noom with AEAD_AES_128_GCM, the order reversed
 * every round.
 */
import { log } from '../lib/output.js';
import { median, round } from '../lib/stats.js';
import { CapacityPlan, type CapacityReport } from './messages.js';
import { measureAt, ramp, type ComparedWindow, type RampResult } from './ramp.js';
import { SenderProcess } from './senderProcess.js';
import { SINK_PORT, installSink } from './sink.js';
import { BareTarget, NoomTarget, SRTP_SUITE, type ViewerSpec } from './targets.js';

/** Median, extremes, and the half-range as a share of the median. */
function spreadOf(values: readonly number[]): { median: number; min: number; max: number; halfRangePercent: number } {
  const m = median(values) ?? NaN;
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, halfRangePercent: round((100 * (max - min)) / 2 / m, 1) };
}

const fmt = (values: readonly number[], digits = 0) => values.map((v) => round(v, digits).toLocaleString('en-US')).join(', ');

async function run(plan: CapacityPlan): Promise<CapacityReport> {
  const rounds = plan.quick ? 1 : 3;
  const timing = plan.quick ? { settleMs: 1_000, windowMs: 3_000 } : { settleMs: 2_000, windowMs: 8_000 };
  const rampShape = {
    ...timing,
    firstViewers: Math.max(10, Math.round(50 * plan.scale)),
    resolution: plan.quick ? 0.1 : 0.04,
    maxSteps: plan.quick ? 4 : 14,
    // Every viewer holds a port of the 40100–49999 range.
    maxViewers: 4_000,
  };
  const spec: ViewerSpec = { sinkPort: SINK_PORT, srtp: SRTP_SUITE };

  await installSink(plan.outerNetns);
  const sender = await SenderProcess.start();
  const one: RampResult[] = [];
  const two: RampResult[] = [];
  const compared: ComparedWindow[] = [];
  try {
    log(`capacity: ${rounds} round(s); viewers are PlainTransports with SRTP (${SRTP_SUITE}), each consuming audio + video of one publisher`);
    for (let r = 1; r <= rounds; r++) {
      one.push(await ramp(() => NoomTarget.start(sender, 1, 1), sender, { ...rampShape, label: 'Noom, WORKERS=1', round: r, spec }));
      two.push(await ramp(() => NoomTarget.start(sender, 2, 1), sender, { ...rampShape, label: 'Noom, WORKERS=2, ROOM_PEERS_PER_ROUTER=1', round: r, spec }));
    }
    const compareViewers = Math.max(10, Math.round(0.6 * (median(one.map((x) => x.lastGood?.viewers ?? 0)) ?? 0)));
    log(`  same load on each target: ${compareViewers} viewers (${2 * compareViewers} consumers), ${rounds} round(s)`);
    for (let r = 1; r <= rounds; r++) {
      const targets = [
        ['bare', () => BareTarget.start(sender), spec],
        ['noom', () => NoomTarget.start(sender, 1, 1), spec],
        ['noom-plain-rtp', () => NoomTarget.start(sender, 1, 1), { ...spec, srtp: null }],
        // The profile the project's WebRTC bots (werift) end up with: the forwarding suite's.
        ['noom-aes128gcm', () => NoomTarget.start(sender, 1, 1), { ...spec, srtp: 'AEAD_AES_128_GCM' }],
      ] as const;
      // Alternate the order, so that drift in the machine's load falls on every target.
      const order = r % 2 === 1 ? targets : [...targets].reverse();
      for (const [label, start, s] of order) compared.push(await measureAt(start, sender, label, r, compareViewers, s, timing));
    }
    return summarize(rounds, one, two, compared, compareViewers);
  } finally {
    await sender.stop();
  }
}

function summarize(rounds: number, one: RampResult[], two: RampResult[], compared: ComparedWindow[], compareViewers: number): CapacityReport {
  const summary: string[] = [];
  const ceiling = (r: RampResult) => r.lastGood?.consumers ?? 0;
  const perCore = (r: RampResult) => r.lastGood?.consumersPerWorkerCore ?? NaN;
  const oneC = spreadOf(one.map(ceiling));
  const onePerCore = spreadOf(one.map(perCore));
  const bound = (r: RampResult) => `${r.stop}${r.firstBad ? ` at ${r.firstBad.consumers}` : ''}`;
  summary.push(
    `one worker (WORKERS=1): ${oneC.median.toLocaleString('en-US')} consumers at < 1 % loss (median; rounds ${fmt(one.map(ceiling))}, ±${oneC.halfRangePercent} %), ` +
      `worker at ${fmt(one.map((r) => 100 * (r.lastGood?.workerCores[0] ?? NaN)))} % of a core → ` +
      `${onePerCore.median.toLocaleString('en-US')} consumers per worker core (rounds ${fmt(one.map(perCore))}); stopped by ${one.map(bound).join(', ')}`,
  );
  const twoC = spreadOf(two.map(ceiling));
  const ratios = two.map((t, i) => ceiling(t) / Math.max(1, ceiling(one[i]!)));
  const ratio = spreadOf(ratios);
  summary.push(
    `one room over two workers (WORKERS=2, ROOM_PEERS_PER_ROUTER=1): ${twoC.median.toLocaleString('en-US')} consumers at < 1 % loss (median; rounds ${fmt(two.map(ceiling))}, ±${twoC.halfRangePercent} %), ` +
      `per worker ${two.map((t) => t.lastGood?.viewersPerWorker.map((v) => 2 * v).join(' + ') ?? '-').join(', ')}; stopped by ${two.map(bound).join(', ')}`,
  );
  const efficiency = two.map((t, i) => perCore(t) / perCore(one[i]!));
  summary.push(
    `two workers vs one, same round: ${round(ratio.median, 2)}× the consumers (rounds ${fmt(ratios, 2)}, ±${ratio.halfRangePercent} %; target ≥ 1.8×); ` +
      `consumers per worker core ${round(spreadOf(efficiency).median, 2)}× (rounds ${fmt(efficiency, 2)}): what piping and placement cost per consumer`,
  );
  const rate = (rs: RampResult[]) => {
    const steps = rs.flatMap((r) => r.steps);
    const ms = steps.reduce((a, x) => a + x.addMs, 0);
    return round((1000 * steps.reduce((a, x) => a + x.added, 0)) / Math.max(1, ms), 0);
  };
  summary.push(`adding viewers (place, pipe, PlainTransport + 2 consumers; 50 at once): ${rate(one)} viewers/s with one worker, ${rate(two)} with two`);
  const at2 = two.map((t) => t.lastGood).filter((x) => x !== undefined);
  if (at2.length > 0) {
    const m = (f: (x: (typeof at2)[number]) => number) => round(median(at2.map(f)) ?? NaN, 2);
    summary.push(
      `at the two-worker ceiling (medians, cores): workers ${m((x) => x.workerCores[0]!)} + ${m((x) => x.workerCores[1] ?? NaN)}, publisher process ${m((x) => x.senderCore)}, ` +
        `harness + Noom's Node ${m((x) => x.harnessCore)}, ksoftirqd ${m((x) => x.ksoftirqdCore)}; whole machine ${m((x) => x.machineBusyCores)} of 2 busy`,
    );
  }
  const byLabel = (label: string) => compared.filter((w) => w.label === label);
  const micros = (label: string) => spreadOf(byLabel(label).map((w) => w.workerMicrosPerPacket));
  const perRound = (num: string, den: string) =>
    Array.from({ length: rounds }, (_, i) => {
      const n = byLabel(num).find((w) => w.round === i + 1);
      const d = byLabel(den).find((w) => w.round === i + 1);
      return n && d ? n.workerMicrosPerPacket / d.workerMicrosPerPacket : NaN;
    });
  const noomBare = spreadOf(perRound('noom', 'bare'));
  summary.push(
    `same load, ${compareViewers} viewers (${2 * compareViewers} consumers): worker CPU per forwarded packet Noom ${round(micros('noom').median, 2)} µs, bare mediasoup ${round(micros('bare').median, 2)} µs → ` +
      `Noom / bare ${round(noomBare.median, 3)} (rounds ${fmt(perRound('noom', 'bare'), 3)}, ±${noomBare.halfRangePercent} %)`,
  );
  const srtpShare = perRound('noom-plain-rtp', 'noom').map((x) => 1 - x);
  summary.push(
    `SRTP: the same Noom load without SRTP costs ${round(micros('noom-plain-rtp').median, 2)} µs per packet: encryption is ${round(100 * (median(srtpShare) ?? NaN), 0)} % of the worker's work ` +
      `(rounds ${fmt(srtpShare.map((x) => 100 * x))} %); with AEAD_AES_128_GCM ${round(micros('noom-aes128gcm').median, 2)} µs per packet ` +
      `(${fmt(byLabel('noom-aes128gcm').map((w) => w.consumersPerWorkerCore))} consumers per worker core at this load, AES-CM ${fmt(byLabel('noom').map((w) => w.consumersPerWorkerCore))})`,
  );
  const loss = compared.map((w) => w.lossPercent);
  summary.push(`loss in the same-load windows: max ${round(Math.max(...loss), 3)} %`);
  return { summary, data: { rounds, ramps: { oneWorker: one, twoWorkers: two }, comparison: { viewers: compareViewers, windows: compared } } };
}

const plan = CapacityPlan.parse(JSON.parse(process.argv[2] ?? '{}'));
try {
  const report = await run(plan);
  await new Promise<void>((resolve, reject) => process.send?.(report, (e: Error | null) => (e ? reject(e) : resolve())));
} catch (error) {
  process.stderr.write(`capacity: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  process.disconnect?.();
}
