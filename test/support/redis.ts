/**
 * A private redis-server for a test: loopback only, a free port, no persistence, its files in
 * a temporary directory. `restart(downMs)` kills it and brings it back on the same port
 * (empty, as a restarted Redis without persistence is) for outage tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

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

/** A port nothing listens on right now (the kernel's pick for an ephemeral bind). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends PING over a raw socket; true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // A Redis with a password answers -NOAUTH: it is up all the same.
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

export async function startRedis(options: { password?: string } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'noom-redis-'));
  const port = await freePort();
  const logfile = join(dir, 'redis.log');
  let child: ChildProcess | undefined;

  const start = async () => {
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', logfile];
    if (options.password) args.push('--requirepass', options.password);
    // If the test process dies, its Redis dies with it (util-linux' setpriv, where present).
    const wrap = existsSync('/usr/bin/setpriv');
    child = spawn(wrap ? '/usr/bin/setpriv' : 'redis-server', wrap ? ['--pdeathsig', 'KILL', '--', 'redis-server', ...args] : args, {
      stdio: 'ignore',
    });
    const spawned = child;
    const failed = new Promise<never>((_resolve, reject) => {
      spawned.once('error', (error) => reject(new Error(`cannot run redis-server (bash scripts/setup.sh --test installs it): ${error.message}`)));
      spawned.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${existsSync(logfile) ? readFileSync(logfile, 'utf8').slice(-500) : ''}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const up = await Promise.race([ping(port), failed]);
      if (up) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING in 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  };

  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async restart(downMs) {
      await kill();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
