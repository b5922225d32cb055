/** Ending the helper daemons the scripts and tests start (redis-server, turnserver). */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export const hasExited = (p: ChildProcess): boolean => p.exitCode !== null || p.signalCode !== null;

/** Sends `signal` and resolves once the process has exited; SIGKILL after `graceMs` if it has not. */
export async function endChild(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!child || hasExited(child)) return;
  const gone = once(child, 'exit');
  child.kill(signal);
  const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}
