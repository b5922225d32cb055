/**
 * (d) The worker's real capacity: viewers that cost the machine almost nothing (mediasoup
 * PlainTransports with SRTP, counted by the kernel; see capacity/), placed and piped by
 * Noom's own room. Runs capacity/main.ts in a private network namespace (`unshare -n`,
 * which needs root), relays its progress and returns its report.
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CapacityReport, type CapacityPlan } from '../capacity/messages.js';
import type { SuiteOptions, SuiteResult } from './types.js';

const ENTRY = fileURLToPath(new URL('../capacity/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export async function capacity(o: SuiteOptions): Promise<SuiteResult> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error('capacity runs in a private network namespace (unshare -n): it needs Linux and root');
  }
  const plan: CapacityPlan = { outerNetns: readlinkSync('/proc/self/ns/net'), quick: o.quick, scale: o.scale };
  const child = spawn('unshare', ['-n', '--', process.execPath, '--import', TSX, ENTRY, JSON.stringify(plan)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  const limitMs = (o.quick ? 6 : 40) * 60_000;
  try {
    return await new Promise<SuiteResult>((resolve, reject) => {
      let report: CapacityReport | undefined;
      const timer = setTimeout(() => {
        killChild();
        reject(new Error(`capacity: still running after ${limitMs / 60_000} minutes: stopped`));
      }, limitMs);
      child.on('message', (raw: unknown) => {
        const parsed = CapacityReport.safeParse(raw);
        if (parsed.success) report = parsed.data;
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`capacity: could not start unshare: ${error.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (report) resolve({ name: 'capacity', summary: report.summary, data: report.data });
        else reject(new Error(`capacity: the run ended without a report (${signal ?? `exit ${code}`})`));
      });
    });
  } finally {
    process.off('exit', killChild);
  }
}
