/**
 * A private coturn for a test: scripts/turn/coturn.ts (Debian's `turnserver` in coturn's
 * REST-API mode, `use-auth-secret`) on a free loopback port for UDP and TCP, its files in a
 * temporary directory, relaying to loopback peers so that a test server announcing 127.0.0.1
 * can be reached through it. Its log records each allocation's traffic when it ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/cluster/redisServer.js';
import { coturn } from '../../scripts/turn/coturn.js';

export interface TestTurnServer {
  readonly port: number;
  /** Its static-auth-secret (Noom's TURN_SECRET). */
  readonly secret: string;
  /** UDP ports of the addresses it relays from. */
  readonly relayPorts: { min: number; max: number };
  /** Noom's environment for it: TURN_URLS (UDP and TCP) and TURN_SECRET. */
  readonly env: { TURN_URLS: string; TURN_SECRET: string };
  /** `turn:127.0.0.1:<port>?transport=<transport>` */
  url(transport: 'udp' | 'tcp'): string;
  /** What coturn's log said so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts one; with no `secret`, a random one. */
export async function startTurnServer(secret?: string): Promise<TestTurnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'noom-turn-'));
  const server = coturn({ port: await freePort(), dir, verbose: true, ...(secret ? { secret } : {}) });
  try {
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port: server.port,
    secret: server.secret,
    relayPorts: server.relayPorts,
    env: { TURN_URLS: server.urls.join(','), TURN_SECRET: server.secret },
    url: (transport) => `turn:127.0.0.1:${server.port}?transport=${transport}`,
    log: () => server.log(),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
