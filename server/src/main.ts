/** Process entry: load the config, start Noom, stop it cleanly on SIGINT / SIGTERM. */
import { ConfigError, loadConfig, redact } from '../../config/index.js';
import { createLogger } from './logger.js';
import { startNoom } from './app.js';

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
  const noom = await startNoom(config, log);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info({ signal }, 'shutting down');
  await noom.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`noom: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
