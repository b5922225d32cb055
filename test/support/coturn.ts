/** A private coturn for a test (scripts/turn/coturn.ts on a free loopback port, its files in a temporary directory). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/cluster/redisServer.js';
import { coturn, type Coturn } from '../../scripts/turn/coturn.js';

export interface TestCoturn extends Coturn {
  /** Noom's environment for it: TURN_URLS and TURN_SECRET. */
  readonly env: { TURN_URLS: string; TURN_SECRET: string };
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

export async function startCoturn(options: { verbose?: boolean } = {}): Promise<TestCoturn> {
  const dir = mkdtempSync(join(tmpdir(), 'noom-coturn-'));
  const server = coturn({ port: await freePort(), dir, verbose: options.verbose ?? true });
  await server.start();
  return {
    port: server.port,
    secret: server.secret,
    relayPorts: server.relayPorts,
    urls: server.urls,
    get process() {
      return server.process;
    },
    log: () => server.log(),
    start: () => server.start(),
    stop: (graceMs) => server.stop(graceMs),
    env: { TURN_URLS: server.urls.join(','), TURN_SECRET: server.secret },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
