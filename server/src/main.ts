/**
 * Process entry: load the config, start Noom, and on SIGTERM or SIGINT drain it (no new
 * joins, calls go on for up to DRAIN_TIMEOUT seconds), close it and exit 0. A second signal
 * stops it at once.
 */
import { ConfigError, loadConfig, redact } from '../../config/index.js';
import { createLogger } from './logger.js';
import { startNoom } from './app.js';
import { signalExitCode, StopSignals } from './stopSignals.js';

/** After a second signal, how long closing may take before the process exits regardless. */
const FORCED_CLOSE_MS = 1000;
/** After a clean close nothing of Noom's is left; a stray handle must not keep the process up. */
const EXIT_GRACE_MS = 3000;

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`noom: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  log.info({ config: redact(config) }, 'starting');
  // Noom's from the start: a signal during startup stops the server once it is up.
  const signals = new StopSignals();
  const noom = await startNoom(config, log);
  const signal = await signals.next();
  log.info({ signal, drainTimeoutS: config.drainTimeoutMs / 1000 }, 'shutting down: draining');
  const second = await Promise.race([noom.drain(config.drainTimeoutMs).then(() => undefined), signals.next()]);
  if (second === undefined) {
    await noom.close();
    return 0;
  }
  log.warn({ signal: second }, 'second signal: stopping now');
  await Promise.race([noom.close(), new Promise((resolve) => setTimeout(resolve, FORCED_CLOSE_MS).unref())]);
  process.exit(signalExitCode(second));
}

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  (error: unknown) => {
    process.stderr.write(`noom: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
