/**
 * Runs a media server under test in its own process, so that its CPU is not mixed with the
 * bots': Noom itself (`node --import tsx server/src/main.ts`) or the bare mediasoup harness
 * (bare/harness.ts). Both print JSON log lines; the line announcing the URL and the worker
 * pids is parsed with zod. Output goes to artifacts/bench/logs/<label>.log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ARTIFACTS_DIR, REPO_ROOT, sleep } from './output.js';

const Listening = z.object({
  msg: z.enum(['noom listening', 'bare harness listening']),
  url: z.url(),
  workers: z.array(z.number().int().positive()).min(1),
});

/** Loopback only, ports picked by the OS so that other test servers on the machine don't collide. */
export const LOOPBACK_ENV = {
  HOST: '127.0.0.1',
  PORT: '0',
  RTC_LISTEN_IP: '127.0.0.1',
  ANNOUNCED_IP: '127.0.0.1',
  RTC_PORT_BASE: '0',
  LOG_LEVEL: 'info',
  // The benchmark's clients all come from this machine: per-address abuse limits would cap them.
  RATE_LIMIT_EXEMPT: 'loopback',
} as const;

export interface ServerProcess {
  readonly label: string;
  readonly url: string;
  readonly pid: number;
  readonly workerPids: readonly number[];
  readonly logFile: string;
  stop(): Promise<void>;
}

const TSX = import.meta.resolve('tsx');

/** Servers still running: killed if the benchmark process exits early (watchdog, Ctrl-C, crash). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export type ServerKind = 'noom' | 'bare';

const ENTRY: Record<ServerKind, string> = {
  noom: path.join(REPO_ROOT, 'server', 'src', 'main.ts'),
  bare: path.join(REPO_ROOT, 'scripts', 'bench', 'bare', 'harness.ts'),
};

export async function startServer(
  kind: ServerKind,
  label: string,
  env: Record<string, string>,
  readyTimeoutMs = 30_000,
): Promise<ServerProcess> {
  const logDir = path.join(ARTIFACTS_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${label}.log`);
  const fd = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX, ENTRY[kind]], {
    cwd: REPO_ROOT,
    // A clean environment: the caller's Noom variables must not change a benchmark's setup.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...(process.env.MEDIASOUP_WORKER_BIN ? { MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN } : {}),
      ...LOOPBACK_ENV,
      ...env,
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  live.add(child);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  };

  const deadline = performance.now() + readyTimeoutMs;
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${label} exited during startup; see ${logFile}`);
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes(' listening"')) continue;
      const parsed = Listening.safeParse(safeJson(line));
      if (!parsed.success) continue;
      return { label, url: parsed.data.url, pid: child.pid!, workerPids: parsed.data.workers, logFile, stop };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${label} did not start in ${readyTimeoutMs} ms; see ${logFile}`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
