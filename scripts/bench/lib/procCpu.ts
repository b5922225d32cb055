/**
 * CPU time of a process from /proc/<pid>/stat, read the same way for Noom's workers and for
 * the bare harness's worker, so both sides of a comparison share one method. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const n = Number(out);
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the full line, i.e. 11 and 12 after the name.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc/${pid}/stat`);
  return (utime + stime) / clockTicks();
}

/** CPU seconds used by several processes together (e.g. the bot children). */
export function totalCpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += processCpuSeconds(pid);
  return total;
}

/** Samples processes' CPU over an interval: `stop()` gives the share of one core used. */
export function cpuMeter(pids: readonly number[]): { stop(): { cpuSeconds: number; seconds: number; coreShare: number } } {
  const t0 = performance.now();
  const c0 = totalCpuSeconds(pids);
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const cpuSeconds = totalCpuSeconds(pids) - c0;
      return { cpuSeconds, seconds, coreShare: seconds > 0 ? cpuSeconds / seconds : 0 };
    },
  };
}
