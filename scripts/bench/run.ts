/**
 * `npm run bench`: runs the benchmarks one after another, prints their figures and writes
 * artifacts/bench/<name>.json. Figures, never assertions: nothing here fails on a slow number.
 */
import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { prepareMedia } from '../loadtest/peer/index.js';
import { machineInfo } from './lib/machine.js';
import { log, writeResult } from './lib/output.js';
import { capacity } from './suites/capacity.js';
import { cluster } from './suites/cluster.js';
import { forwarding } from './suites/forwarding.js';
import { joinFirstRtp } from './suites/joinFirstRtp.js';
import { joinLatency } from './suites/joinLatency.js';
import { keyframes } from './suites/keyframes.js';
import { lobbyList } from './suites/lobbyList.js';
import { pipeJoin } from './suites/pipeJoin.js';
import { recording } from './suites/recording.js';
import { signaling } from './suites/signaling.js';
import { signalingFlood } from './suites/signalingFlood.js';
import type { SuiteOptions, SuiteResult } from './suites/types.js';

const SUITES: Record<string, (o: SuiteOptions) => Promise<SuiteResult>> = {
  forwarding,
  'join-latency': joinLatency,
  'join-first-rtp': joinFirstRtp,
  'pipe-join': pipeJoin,
  keyframes,
  signaling,
  'signaling-flood': signalingFlood,
  'lobby-list': lobbyList,
  capacity,
  cluster,
  recording,
};

const program = new Command()
  .name('bench')
  .description('Noom benchmarks: figures printed and written to artifacts/bench/<name>.json')
  .addOption(new Option('--only <names...>', 'run only these benchmarks').choices(Object.keys(SUITES)))
  .option('--quick', 'small sizes and short windows (a smoke run)', false)
  .option('--scale <factor>', 'multiply peer counts by this factor', (v) => {
    const n = Number(v);
    if (!(n > 0 && n <= 10)) throw new InvalidArgumentError('a number in (0, 10]');
    return n;
  }, 1)
  .option('--bots <n>', 'bot processes for the media benchmarks (default: one per core)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('an integer in [1, 16]');
    return n;
  });
program.parse();
const flags = program.opts<{ only?: string[]; quick: boolean; scale: number; bots?: number }>();

const names = flags.only ?? Object.keys(SUITES);

/**
 * The run stops by itself even if something wedges: child processes go down with it. The
 * capacity and cluster ramps get their own share (they also bound themselves).
 */
const budgetMinutes =
  (flags.quick ? 8 : 25) + (names.includes('capacity') ? (flags.quick ? 6 : 40) : 0) + (names.includes('cluster') ? (flags.quick ? 4 : 15) : 0) +
  (names.includes('recording') ? (flags.quick ? 2 : 8) : 0);
setTimeout(() => {
  log(`\nbench: still running after ${budgetMinutes} minutes: stopping`);
  process.exit(2);
}, budgetMinutes * 60_000).unref();
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const options: SuiteOptions = { quick: flags.quick, scale: flags.scale, botProcesses: flags.bots ?? os.availableParallelism() };
const machine = machineInfo();
log(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverage.join(" ")}`);
log(`mediasoup worker: ${machine.workerBinary}`);
await prepareMedia();

const summaries: { name: string; summary: string[] }[] = [];
let failed = 0;
for (const name of names) {
  const started = performance.now();
  log(`\n== ${name}`);
  try {
    const result = await SUITES[name]!(options);
    const seconds = Math.round((performance.now() - started) / 1000);
    const file = await writeResult(name, { machine, options, seconds, summary: result.summary, data: result.data });
    for (const line of result.summary) log(`  ${line}`);
    log(`  (${seconds} s; ${file})`);
    summaries.push({ name, summary: result.summary });
  } catch (error) {
    failed++;
    log(`  ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
await writeResult('summary', { machine, options, loadAfter: os.loadavg(), suites: summaries });
log('\n== summary');
for (const s of summaries) for (const line of s.summary) log(`${s.name}: ${line}`);
process.exitCode = failed > 0 ? 1 : 0;
