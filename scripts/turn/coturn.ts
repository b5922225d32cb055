/**
 * A private coturn (Debian's `coturn`, installed by `scripts/setup.sh --turn` or `--test`) in
 * the TURN REST API mode Noom hands out credentials for (`use-auth-secret`): a listening
 * address and port of its own, a relay port range, its configuration (with the shared
 * secret, so that it is not on a command line), user database and pid file in a directory of
 * the caller's. Its log is kept in memory. Used by `npm run turn` and by the tests.
 *
 * It relays to loopback peers (`allow-loopback-peers`), which a development machine and the
 * tests need (Noom announces 127.0.0.1 there) and a public TURN server must never do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { endChild, hasExited } from '../lib/childProcess.js';

export interface CoturnOptions {
  /** TURN port, UDP and TCP. */
  port: number;
  /** Holds turnserver.conf, turndb and turnserver.pid. */
  dir: string;
  /** Shared with Noom's TURN_SECRET; random if not given. */
  secret?: string;
  /** Address it listens on and relays from. Default 127.0.0.1. */
  ip?: string;
  /** UDP ports of the relayed addresses. Default 50000-50999 (outside Noom's default RTC ports). */
  relayPorts?: { min: number; max: number };
  /** Log every session's traffic when it ends (`verbose`). */
  verbose?: boolean;
}

export interface Coturn {
  readonly port: number;
  readonly secret: string;
  readonly relayPorts: { min: number; max: number };
  /** Noom's TURN_URLS for it: UDP and TCP. */
  readonly urls: string[];
  readonly process: ChildProcess | undefined;
  /** What it logged so far. */
  log(): string;
  /** Starts it; resolves once it answers a STUN binding request. */
  start(): Promise<void>;
  /** SIGTERM and wait, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Sends a STUN binding request over UDP: true when a binding success answer comes back. */
export function stunBinding(ip: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    const id = randomBytes(12);
    // Binding request, no attributes, the RFC 5389 magic cookie, a random transaction id.
    const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), id]);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('message', (msg) => {
      if (msg.length >= 20 && msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(id)) done(true);
    });
    socket.send(request, port, ip);
  });
}

export function coturn(options: CoturnOptions): Coturn {
  const { port, dir } = options;
  const ip = options.ip ?? '127.0.0.1';
  const secret = options.secret ?? randomBytes(24).toString('base64url');
  const relayPorts = options.relayPorts ?? { min: 50000, max: 50999 };
  const host = ip.includes(':') ? `[${ip}]` : ip;
  let child: ChildProcess | undefined;
  let output = '';

  const conf = join(dir, 'turnserver.conf');
  const settings = [
    `listening-ip=${ip}`,
    `relay-ip=${ip}`,
    `listening-port=${port}`,
    `min-port=${relayPorts.min}`,
    `max-port=${relayPorts.max}`,
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'realm=noom',
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-software-attribute',
    'no-multicast-peers',
    'allow-loopback-peers',
    `userdb=${join(dir, 'turndb')}`,
    `pidfile=${join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    ...(options.verbose ? ['verbose'] : []),
  ];


  return {
    port,
    secret,
    relayPorts,
    urls: [`turn:${host}:${port}?transport=udp`, `turn:${host}:${port}?transport=tcp`],
    get process() {
      return child;
    },
    log: () => output,
    async start() {
      if (child && !hasExited(child)) return;
      writeFileSync(conf, `${settings.join('\n')}\n`, { mode: 0o600 });
      // If whoever started it dies, coturn goes too (util-linux' setpriv, where present).
      const wrap = existsSync('/usr/bin/setpriv');
      const args = ['-c', conf];
      const spawned = spawn(wrap ? '/usr/bin/setpriv' : 'turnserver', wrap ? ['--pdeathsig', 'KILL', '--', 'turnserver', ...args] : args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: a terminal's Ctrl-C reaches the caller, which stops it.
        detached: true,
      });
      child = spawned;
      for (const stream of [spawned.stdout!, spawned.stderr!]) stream.on('data', (d: Buffer) => (output += d.toString()));
      const failed = new Promise<never>((_resolve, reject) => {
        spawned.once('error', (error) =>
          reject(new Error(`cannot run turnserver (bash scripts/setup.sh --turn installs coturn): ${error.message}`)),
        );
        spawned.once('exit', (code, signal) => {
          reject(new Error(`turnserver exited (${signal ?? code}) before answering:\n${output.trim().split('\n').slice(-5).join('\n')}`));
        });
      });
      failed.catch(() => undefined);
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (await Promise.race([stunBinding(ip, port), failed])) return;
        if (Date.now() > deadline) throw new Error(`turnserver on ${host}:${port} did not answer STUN in 10 s`);
      }
    },
    async stop(graceMs = 5000) {
      await endChild(child, 'SIGTERM', graceMs);
    },
  };
}
