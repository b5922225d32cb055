/**
 * A private redis-server for a test (scripts/cluster/redisServer.ts on a free loopback port,
 * its files in a temporary directory). `restart(downMs)` kills it and brings it back on the
 * same port, empty as a restarted Redis without persistence is, for outage tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisServer } from '../../scripts/cluster/redisServer.js';

export { freePort };

export interface TestRedis {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** SIGKILL, wait `downMs`, start again on the same port; resolves once it answers PING. */
  restart(downMs: number): Promise<void>;
  /** SIGKILL: Redis vanishes as in a crash. */
  kill(): Promise<void>;
  /** Starts it again after `kill()`. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>;
}

export async function startRedis(options: { password?: string } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'noom-redis-'));
  const server = redisServer({ port: await freePort(), dir, ...options });
  await server.start();
  return {
    port: server.port,
    url: server.url,
    kill: () => server.kill(),
    start: () => server.start(),
    async restart(downMs) {
      await server.kill();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await server.start();
    },
    async stop() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
