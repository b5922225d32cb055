/**
 * (d) The worker's real capacity: viewers that cost the machine almost nothing (mediasoup
 * PlainTransports with SRTP, counted by the kernel; see capacity/), placed and piped by
 * Noom's own room. Runs capacity/main.ts in a private network namespace (`unshare -n`,
 * which needs root), relays its progress and returns its report.
 */
import { fileURLToPath } from 'node:url';
import { runInNetns } from '../capacity/netns.js';
import type { SuiteOptions, SuiteResult } from './types.js';

const ENTRY = fileURLToPath(new URL('../capacity/main.ts', import.meta.url));

export async function capacity(o: SuiteOptions): Promise<SuiteResult> {
  const report = await runInNetns('capacity', ENTRY, o, (o.quick ? 6 : 40) * 60_000);
  return { name: 'capacity', summary: report.summary, data: report.data };
}
