/**
 * A private coturn (Debian's `turnserver`) for a test: loopback only, a free port for UDP
 * and TCP, coturn's REST-API credentials (`use-auth-secret`), relaying to loopback peers so
 * that a test server announcing 127.0.0.1 can be reached through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/cluster/redisServer.js';

export interface TestTurnServer {
  readonly port: number;
  /** `turn:127.0.0.1:<port>?transport=<transport>` */
  url(transport: 'udp' | 'tcp'): string;
  /** What coturn's log said so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** coturn's REST-API credentials: username `<expiry>:<peerId>`, credential base64(HMAC-SHA1(secret, username)). */
export function turnCredentials(secret: string, peerId: string, ttlSec = 3600): { username: string; credential: string } {
  const username = `${Math.floor(Date.now() / 1000) + ttlSec}:${peerId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

async function listening(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`turnserver exited with code ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > until) throw new Error(`turnserver not listening on ${port} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startTurnServer(secret: string): Promise<TestTurnServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'noom-turn-'));
  const child = spawn(
    'turnserver',
    [
      '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=noom.test',
      '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
      '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls', '--no-multicast-peers',
      '--log-file=stdout', '--simple-log', `--pidfile=${join(dir, 'turnserver.pid')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(new Error(`cannot start turnserver (Debian package coturn; scripts/setup.sh --test installs it): ${error.message}`)),
    );
  });
  await listening(port, child, 5000).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${log}`);
  });
  return {
    port,
    url: (transport) => `turn:127.0.0.1:${port}?transport=${transport}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
