/**
 * `node --import tsx scripts/bench/join-first-rtp.ts [--quick]`: median time from room:join
 * to the first RTP packet over 20 sequential joins (also part of `npm run bench`).
 */
import { Command } from 'commander';
import { prepareMedia } from '../loadtest/peer/index.js';
import { log, writeResult } from './lib/output.js';
import { machineInfo } from './lib/machine.js';
import { joinFirstRtp } from './suites/joinFirstRtp.js';

const flags = new Command()
  .name('join-first-rtp')
  .option('--quick', '5 joins instead of 20', false)
  .parse()
  .opts<{ quick: boolean }>();

await prepareMedia();
const result = await joinFirstRtp({ quick: flags.quick });
for (const line of result.summary) log(line);
log(await writeResult('join-first-rtp', { machine: machineInfo(), summary: result.summary, data: result.data }));
