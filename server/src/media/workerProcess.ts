/**
 * How Noom starts mediasoup workers so that the stop signals are Noom's alone.
 *
 * Two things would otherwise close every worker, and end its calls with `workerclose`, the
 * moment SIGINT or SIGTERM arrives, before Noom could drain them:
 * - mediasoup's Worker constructor adds `process.once('SIGINT' | 'SIGTERM')` listeners that
 *   close the worker: they are removed right after each worker is created;
 * - the worker process installs its own SIGINT/SIGTERM handler, and as Noom's child it is in
 *   Noom's process group, which a terminal's Ctrl-C or `kill -- -<pgid>` signals as a whole:
 *   it is started through scripts/worker/own-session.sh, in a session of its own.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** From server/src/media in the sources, or dist/server/src/media once built. */
const LAUNCHER_CANDIDATES = [
  path.resolve(HERE, '..', '..', '..', 'scripts', 'worker', 'own-session.sh'),
  path.resolve(HERE, '..', '..', '..', '..', 'scripts', 'worker', 'own-session.sh'),
];

let launcher: string | null | undefined;

/** The session launcher, or null where it is missing (the worker then runs in Noom's group). */
export function ownSessionLauncher(): string | null {
  if (launcher !== undefined) return launcher;
  launcher =
    LAUNCHER_CANDIDATES.find((file) => {
      try {
        accessSync(file, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }) ?? null;
  // The launcher execs the binary mediasoup would have run; mediasoup passes its own
  // environment to the worker, so this is how the launcher learns the path.
  if (launcher) process.env.NOOM_MEDIASOUP_WORKER = mediasoup.workerBin;
  return launcher;
}

/** mediasoup.createWorker in a session of its own, leaving SIGINT and SIGTERM to Noom. */
export function createWorker<AppData extends types.AppData>(
  settings: types.WorkerSettings<AppData>,
): Promise<types.Worker<AppData>> {
  const bin = ownSessionLauncher();
  const before = STOP_SIGNALS.map((signal) => new Set(process.listeners(signal)));
  // The listeners are added synchronously, inside this call, before its first await.
  const created = mediasoup.createWorker<AppData>({ ...settings, ...(bin ? { workerBin: bin } : {}) });
  STOP_SIGNALS.forEach((signal, i) => {
    for (const listener of process.listeners(signal)) {
      if (!before[i]!.has(listener)) process.removeListener(signal, listener);
    }
  });
  return created;
}
