/**
 * A private redis-server (Debian's, installed by `scripts/setup.sh --cluster` or `--test`):
 * loopback only, a port of its own, no persistence (a restart starts empty), its pid file
 * and log in a directory of the caller's. Used by `npm run cluster` and by the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { endChild, hasExited } from '../lib/childProcess.js';

export interface RedisServerOptions {
  port: number;
  /** Holds redis.pid and redis.log. */
  dir: string;
  /** `requirepass`, for tests of a refused password. */
  password?: string;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly logFile: string;
  /** The running process, if any (for `exit` listeners). */
  readonly process: ChildProcess | undefined;
  /** Starts it (again); resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGKILL, as a crash: resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM and wait, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** A port nothing listens on right now (the kernel's pick for an ephemeral bind). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** PING over a raw socket: true when Redis answers (+PONG, or -NOAUTH when it has a password). */
export function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

export function redisServer(options: RedisServerOptions): RedisServer {
  const { port, dir } = options;
  const logFile = join(dir, 'redis.log');
  let child: ChildProcess | undefined;

  const args = [
    '--bind', '127.0.0.1', '--port', String(port),
    '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    '--dir', dir, '--pidfile', join(dir, 'redis.pid'), '--logfile', logFile,
    ...(options.password ? ['--requirepass', options.password] : []),
  ];


  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    logFile,
    get process() {
      return child;
    },
    async start() {
      if (child && !hasExited(child)) return;
      // If whoever started it dies, Redis goes too (util-linux' setpriv, where present).
      const wrap = existsSync('/usr/bin/setpriv');
      const spawned = spawn(wrap ? '/usr/bin/setpriv' : 'redis-server', wrap ? ['--pdeathsig', 'KILL', '--', 'redis-server', ...args] : args, {
        stdio: 'ignore',
        // Its own process group: a terminal's Ctrl-C reaches the caller, which stops Redis last.
        detached: true,
      });
      child = spawned;
      const failed = new Promise<never>((_resolve, reject) => {
        spawned.once('error', (error) =>
          reject(new Error(`cannot run redis-server (bash scripts/setup.sh --cluster installs it): ${error.message}`)),
        );
        spawned.once('exit', (code, signal) => {
          const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join('\n') : '';
          reject(new Error(`redis-server exited (${signal ?? code}) before answering${log ? `:\n${log}` : ''}`));
        });
      });
      failed.catch(() => undefined);
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (await Promise.race([pingRedis(port), failed])) return;
        if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING in 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    },
    async kill() {
      await endChild(child, 'SIGKILL', 0);
    },
    async stop(graceMs = 5000) {
      await endChild(child, 'SIGTERM', graceMs);
    },
  };
}
