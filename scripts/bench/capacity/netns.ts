/**
 * Both sides of a run in a private network namespace (`unshare -n`, which needs root): the
 * suite starts an entry there with a {@link CapacityPlan}, relays its output and takes its
 * {@link CapacityReport}; the entry reads its plan, runs, and sends the report back.
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { CapacityPlan, CapacityReport } from './messages.js';

const TSX = import.meta.resolve('tsx');

/** Parent side: runs `entry` under `unshare -n`; stops it after `limitMs`. */
export async function runInNetns(label: string, entry: string, o: { quick: boolean; scale: number }, limitMs: number): Promise<CapacityReport> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error(`${label} runs in a private network namespace (unshare -n): it needs Linux and root`);
  }
  const plan: CapacityPlan = { outerNetns: readlinkSync('/proc/self/ns/net'), quick: o.quick, scale: o.scale };
  const child = spawn('unshare', ['-n', '--', process.execPath, '--import', TSX, entry, JSON.stringify(plan)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  try {
    return await new Promise<CapacityReport>((resolve, reject) => {
      let report: CapacityReport | undefined;
      const timer = setTimeout(() => {
        killChild();
        reject(new Error(`${label}: still running after ${limitMs / 60_000} minutes: stopped`));
      }, limitMs);
      child.on('message', (raw: unknown) => {
        const parsed = CapacityReport.safeParse(raw);
        if (parsed.success) report = parsed.data;
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`${label}: could not start unshare: ${error.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (report) resolve(report);
        else reject(new Error(`${label}: the run ended without a report (${signal ?? `exit ${code}`})`));
      });
    });
  } finally {
    process.off('exit', killChild);
  }
}

/** Entry side: runs with the plan from argv and sends the report to the parent. */
export async function serveReport(label: string, run: (plan: CapacityPlan) => Promise<CapacityReport>): Promise<void> {
  const plan = CapacityPlan.parse(JSON.parse(process.argv[2] ?? '{}'));
  try {
    const report = await run(plan);
    await new Promise<void>((resolve, reject) => process.send?.(report, (e: Error | null) => (e ? reject(e) : resolve())));
  } catch (error) {
    process.stderr.write(`${label}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    process.disconnect?.();
  }
}
