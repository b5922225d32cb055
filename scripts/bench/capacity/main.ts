/**
 * The capacity benchmark proper, run by suites/capacity.ts inside a private network
 * namespace (`unshare -n`), so that the kernel counters it reads and the filters it
 * installs are its own. Takes its plan as a JSON argument, prints progress, and sends
 * `{ summary, data }` to its parent over IPC.
 *
 * Per round: a ramp of Noom with one worker, then of one room over two workers, then of one
 * worker whose viewers consume audio alone (the shape of LiveKit's published run). Then, at a
 * third of the one-worker ceiling each, targets side by side in the same windows, their
 * workers on the same CPU: bare mediasoup and Noom; Noom with viewers using AES-CM SRTP, no
 * SRTP (what encryption costs) and AES-GCM SRTP; a room on one worker and a room over two
 * (what placement and pipes cost per forwarded packet).
 */
import os from 'node:os';
import { log } from '../lib/output.js';
import { fmt, median, round, spreadOf } from '../lib/stats.js';
import type { CapacityPlan, CapacityReport } from './messages.js';
import { serveReport } from './netns.js';
import { ceilingOf as ceiling, cleanStop as clean, measureTogether, perCoreOf as perCore, ramp, rampShape, stopOf as bound, type ComparedWindow, type Contender, type RampResult } from './ramp.js';
import { SenderProcess } from './senderProcess.js';
import { SINK_PORTS, installSink } from './sink.js';
import { BareTarget, NoomTarget, SRTP_SUITE, type ViewerSpec } from './targets.js';

async function run(plan: CapacityPlan): Promise<CapacityReport> {
  const rounds = plan.quick ? 1 : 3;
  const compareRounds = plan.quick ? 1 : 5;
  const timing = plan.quick ? { settleMs: 1_000, windowMs: 3_000 } : { settleMs: 2_000, windowMs: 8_000 };
  const shape = rampShape(plan.scale, timing, plan.quick ? 0.1 : 0.04, plan.quick ? 4 : 14);
  const spec: ViewerSpec = { sinkPort: SINK_PORTS[0], srtp: SRTP_SUITE };
  const audioSpec: ViewerSpec = { ...spec, audioOnly: true };

  await installSink(plan.outerNetns);
  const sender = await SenderProcess.start();
  const one: RampResult[] = [];
  const two: RampResult[] = [];
  const audio: RampResult[] = [];
  const compared: ComparedWindow[] = [];
  try {
    log(`capacity: ${rounds} round(s); viewers are PlainTransports with SRTP (${SRTP_SUITE}), each consuming audio + video of one publisher`);
    for (let r = 1; r <= rounds; r++) {
      one.push(await ramp(() => NoomTarget.start(sender, 1, 1), sender, { ...shape, label: 'Noom, WORKERS=1', round: r, spec }));
      two.push(await ramp(() => NoomTarget.start(sender, 2, 1), sender, { ...shape, label: 'Noom, WORKERS=2, ROOM_PEERS_PER_ROUTER=1', round: r, spec }));
      audio.push(await ramp(() => NoomTarget.start(sender, 1, 1), sender, { ...shape, label: 'Noom, WORKERS=1, audio-only viewers', round: r, spec: audioSpec }));
    }
    // Side by side on one CPU: together they must leave it room (a third of the ceiling each).
    const compareViewers = Math.max(10, Math.round((median(one.map((x) => x.lastGood?.viewers ?? 0)) ?? 0) / 3));
    const scalingViewers = Math.max(5, Math.round(0.7 * compareViewers));
    const cpu = os.availableParallelism() - 1;
    log(`  same load on each target, side by side on CPU ${cpu}: ${compareViewers} viewers (${2 * compareViewers} consumers) each, ${compareRounds} round(s)`);
    const noom = () => NoomTarget.start(sender, 1, 1);
    for (let r = 1; r <= compareRounds; r++) {
      const pair: Contender[] = [
        { label: 'bare', start: () => BareTarget.start(sender), spec: { sinkPort: SINK_PORTS[0], srtp: SRTP_SUITE } },
        { label: 'noom', start: noom, spec: { sinkPort: SINK_PORTS[1], srtp: SRTP_SUITE } },
      ];
      const srtp: Contender[] = [
        { label: 'srtp-aes-cm', start: noom, spec: { sinkPort: SINK_PORTS[0], srtp: SRTP_SUITE } },
        { label: 'srtp-none', start: noom, spec: { sinkPort: SINK_PORTS[1], srtp: null } },
        // The profile the project's WebRTC bots (werift) end up with: the forwarding suite's.
        { label: 'srtp-aes-gcm', start: noom, spec: { sinkPort: SINK_PORTS[2], srtp: 'AEAD_AES_128_GCM' } },
      ];
      // One room over two workers, as many viewers per worker as the one-worker room has; three
      // workers' worth on the CPU, so fewer viewers each.
      const scaling: Contender[] = [
        { label: 'room-1-worker', start: noom, spec: { sinkPort: SINK_PORTS[0], srtp: SRTP_SUITE }, viewers: scalingViewers },
        { label: 'room-2-workers', start: () => NoomTarget.start(sender, 2, 1), spec: { sinkPort: SINK_PORTS[1], srtp: SRTP_SUITE }, viewers: 2 * scalingViewers },
      ];
      // Who starts first (and is first in the sender's tick) alternates.
      const inOrder = (cs: Contender[]) => (r % 2 === 1 ? cs : [...cs].reverse());
      log(`  round ${r}`);
      compared.push(...(await measureTogether(inOrder(pair), sender, r, compareViewers, timing, cpu)));
      compared.push(...(await measureTogether(inOrder(srtp), sender, r, compareViewers, timing, cpu)));
      compared.push(...(await measureTogether(inOrder(scaling), sender, r, compareViewers, timing, cpu)));
    }
    return summarize(rounds, compareRounds, { one, two, audio }, compared, compareViewers, scalingViewers);
  } finally {
    await sender.stop();
  }
}

function summarize(
  rounds: number,
  compareRounds: number,
  { one, two, audio }: Record<'one' | 'two' | 'audio', RampResult[]>,
  compared: ComparedWindow[],
  compareViewers: number,
  scalingViewers: number,
): CapacityReport {
  const summary: string[] = [];
  const others = (rs: RampResult[]) => fmt(rs.map((r) => r.lastGood?.othersCores ?? NaN), 2);
  /** The ceiling of a one-worker ramp, and what it is per core of that worker. */
  const oneWorkerLine = (title: string, rs: RampResult[]) => {
    const c = spreadOf(rs.map(ceiling));
    const perCoreSpread = spreadOf(rs.map(perCore));
    return (
      `${title}: ${c.median.toLocaleString('en-US')} consumers at < 1 % loss (median; rounds ${fmt(rs.map(ceiling))}, ±${c.halfRangePercent} %), ` +
      `worker at ${fmt(rs.map((r) => 100 * (r.lastGood?.workerCores[0] ?? NaN)))} % of a core → ` +
      `${perCoreSpread.median.toLocaleString('en-US')} consumers per worker core (rounds ${fmt(rs.map(perCore))}, ±${perCoreSpread.halfRangePercent} %); stopped by ${rs.map(bound).join(', ')}; ` +
      `other processes used ${others(rs)} cores meanwhile`
    );
  };
  summary.push(oneWorkerLine('one worker (WORKERS=1)', one));
  summary.push(oneWorkerLine('one worker, audio-only viewers (one Opus consumer each, 50 packets/s)', audio));
  const twoC = spreadOf(two.map(ceiling));
  const ratios = two.map((t, i) => ceiling(t) / Math.max(1, ceiling(one[i]!)));
  const ratio = spreadOf(ratios);
  summary.push(
    `one room over two workers (WORKERS=2, ROOM_PEERS_PER_ROUTER=1): ${twoC.median.toLocaleString('en-US')} consumers at < 1 % loss (median; rounds ${fmt(two.map(ceiling))}, ±${twoC.halfRangePercent} %), ` +
      `per worker ${two.map((t) => t.lastGood?.viewersPerWorker.map((v) => 2 * v).join(' + ') ?? '-').join(', ')}; stopped by ${two.map(bound).join(', ')}; ` +
      `other processes used ${others(two)} cores meanwhile`,
  );
  const efficiency = two.map((t, i) => perCore(t) / perCore(one[i]!));
  // A round whose ramps ended on others' load (or a failure) says little about the ratio.
  const cleanRatios = ratios.filter((_, i) => clean(one[i]!) && clean(two[i]!));
  summary.push(
    `two workers vs one, same round: ${round(ratio.median, 2)}× the consumers (rounds ${fmt(ratios, 2)}, ±${ratio.halfRangePercent} %; ` +
      `rounds where neither ramp was cut short by others' load: ${cleanRatios.length > 0 ? fmt(cleanRatios, 2) : 'none'}; target ≥ 1.8×); ` +
      `consumers per worker core ${round(spreadOf(efficiency).median, 2)}× (rounds ${fmt(efficiency, 2)}): what piping and placement cost per consumer`,
  );
  const rate = (rs: RampResult[]) => {
    const steps = rs.flatMap((r) => r.steps);
    const ms = steps.reduce((a, x) => a + x.addMs, 0);
    return round((1000 * steps.reduce((a, x) => a + x.added, 0)) / Math.max(1, ms), 0);
  };
  const firstAdd = (rs: RampResult[]) => fmt(rs.map((r) => r.steps[0]?.addMs ?? NaN));
  summary.push(
    `adding viewers (place, pipe, PlainTransport + 2 consumers, 50 at once): the first 50 into an idle room in ${firstAdd(one)} ms with one worker, ` +
      `${firstAdd(two)} ms with two (second router and pipes included); over whole ramps, workers busy forwarding, ${rate(one)} and ${rate(two)} viewers/s`,
  );
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
  // Both sides of a ratio come from the same window.
  const perRound = (num: string, den: string) =>
    Array.from({ length: compareRounds }, (_, i) => {
      const n = byLabel(num).find((w) => w.round === i + 1);
      const d = byLabel(den).find((w) => w.round === i + 1);
      return n && d ? n.workerMicrosPerPacket / d.workerMicrosPerPacket : NaN;
    });
  const noomBare = spreadOf(perRound('noom', 'bare'));
  summary.push(
    `same load side by side, ${compareViewers} viewers (${2 * compareViewers} consumers) each: worker CPU per forwarded packet Noom ${round(micros('noom').median, 2)} µs, ` +
      `bare mediasoup ${round(micros('bare').median, 2)} µs → Noom / bare ${round(noomBare.median, 3)} (rounds ${fmt(perRound('noom', 'bare'), 3)}, ±${noomBare.halfRangePercent} %)`,
  );
  const srtpShare = perRound('srtp-none', 'srtp-aes-cm').map((x) => 100 * (1 - x));
  const gcm = spreadOf(perRound('srtp-aes-gcm', 'srtp-aes-cm'));
  summary.push(
    `SRTP, Noom side by side: AES_CM_128_HMAC_SHA1_80 ${round(micros('srtp-aes-cm').median, 2)} µs per packet, AEAD_AES_128_GCM ${round(micros('srtp-aes-gcm').median, 2)} µs ` +
      `(${round(gcm.median, 2)}×, rounds ${fmt(perRound('srtp-aes-gcm', 'srtp-aes-cm'), 2)}), no SRTP ${round(micros('srtp-none').median, 2)} µs: ` +
      `AES-CM encryption is ${round(median(srtpShare) ?? NaN, 0)} % of the worker's work (rounds ${fmt(srtpShare)} %)`,
  );
  const piping = spreadOf(perRound('room-2-workers', 'room-1-worker'));
  summary.push(
    `one room over two workers (${2 * scalingViewers} viewers, half of them through pipes) side by side with one worker (${scalingViewers} viewers): ` +
      `${round(piping.median, 3)}× the worker CPU per forwarded packet (rounds ${fmt(perRound('room-2-workers', 'room-1-worker'), 3)}, ±${piping.halfRangePercent} %)`,
  );
  const perCoreAt = (label: string) => fmt(byLabel(label).map((w) => w.consumersPerWorkerCore));
  summary.push(`consumers per worker core at that load: AES-CM ${perCoreAt('srtp-aes-cm')}; AES-GCM ${perCoreAt('srtp-aes-gcm')}; no SRTP ${perCoreAt('srtp-none')}`);
  const loss = compared.map((w) => w.lossPercent);
  summary.push(`loss in the same-load windows: max ${round(Math.max(...loss), 3)} %`);
  return {
    summary,
    data: { rounds, compareRounds, ramps: { oneWorker: one, twoWorkers: two, audioOnly: audio }, comparison: { viewers: compareViewers, scalingViewers, windows: compared } },
  };
}

await serveReport('capacity', run);
