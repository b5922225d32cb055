/**
 * `npm run cluster -- --nodes 3 [--base-port 3000]`: several Noom nodes on this machine as
 * one service, for development and tests of cluster mode. Starts a private redis-server
 * (loopback, a free port, no persistence, files in a temporary directory), then N nodes of
 * the built server (`dist/server/src/main.js`, built first if the sources are newer), each
 * with its own NODE_ID, PORT and block of RTC ports, and prints their URLs. Ctrl-C (or
 * SIGTERM) stops every node, then Redis. A node that exits on its own is reported.
 * Other variables of the environment (LOG_LEVEL, ANNOUNCED_IP, ...) reach every node.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { planNodes, type NodePlan } from './cluster/plan.js';
import { freePort, redisServer, type RedisServer } from './cluster/redisServer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'server', 'src', 'main.js');
const say = (text: string) => process.stdout.write(`[cluster] ${text}\n`);

function int(name: string, min: number, max = 65535) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}-${max}`);
    return n;
  };
}

/** Newest modification time of the files under `dirs`, skipping build output and dependencies. */
function newestMtime(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of dirs) if (existsSync(dir)) walk(dir);
  return newest;
}

/** Builds as `npm start` does, but only when dist/ is missing or older than the sources. */
function buildIfNeeded(): void {
  const outputs = [MAIN, path.join(ROOT, 'client', 'dist', 'index.html')];
  const built = Math.min(...outputs.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  const sources = newestMtime(['server', 'config', 'protocol', 'client'].map((d) => path.join(ROOT, d)));
  if (built >= sources) return;
  say('building (sources are newer than dist/)');
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
}

function ensureRedisInstalled(): void {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) return;
  say('redis-server is missing: bash scripts/setup.sh --cluster');
  const result = spawnSync('bash', [path.join(ROOT, 'scripts', 'setup.sh'), '--cluster'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('setup failed; install Debian\'s redis-server (apt-get install redis-server)');
}

interface RunningNode {
  plan: NodePlan;
  child: ChildProcess;
  url?: string;
  exited: Promise<void>;
  done: boolean;
}

/** Resolves once `url`/readyz answers 200, or never if `node` exits first. */
async function whenReady(url: string, node: RunningNode): Promise<boolean> {
  while (!node.done) {
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/**
 * A node's process, its output prefixed with its id unless `quiet` (then only warnings and
 * errors). `onListening` gets its URL once /readyz says so, or, for a node on a free port,
 * from its "noom listening" log line.
 */
function startNode(plan: NodePlan, quiet: boolean, onListening: (url: string) => void, onExit: (how: string) => void): RunningNode {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // On one machine the nodes reach each other over loopback.
    PIPE_LISTEN_IP: process.env.PIPE_LISTEN_IP ?? '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...plan.env,
  };
  // If this script dies without stopping the nodes, each is told to stop (util-linux' setpriv).
  const wrap = existsSync('/usr/bin/setpriv');
  const child = spawn(wrap ? '/usr/bin/setpriv' : process.execPath, wrap ? ['--pdeathsig', 'TERM', '--', process.execPath, MAIN] : [MAIN], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches this script, which stops the nodes before Redis.
    detached: true,
  });
  const node: RunningNode = { plan, child, done: false, exited: Promise.resolve() };
  node.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      node.done = true;
      onExit(signal ? `signal ${signal}` : `code ${code}`);
      resolve();
    });
  });
  const listening = (url: string) => {
    if (node.url) return;
    node.url = url;
    onListening(url);
  };
  const port = Number(plan.env.PORT);
  if (port !== 0) {
    const host = !env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::' ? '127.0.0.1' : env.HOST;
    const url = `${env.TLS_CERT ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    void whenReady(url, node).then((ok) => ok && listening(url));
  }
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      const level = Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 50);
      if (!quiet || level >= 40) process.stdout.write(`[${plan.nodeId}] ${line}\n`);
      if (port === 0 && line.includes('"msg":"noom listening"')) {
        const url = /"url":"([^"]+)"/.exec(line)?.[1];
        if (url) listening(url);
      }
    });
  }
  return node;
}

/**
 * Stops a node at once: a first SIGTERM would drain it (its calls go on for DRAIN_TIMEOUT),
 * but with every node stopping there is nowhere for them to go, so a second one follows once
 * the node no longer takes it for a copy of the first.
 */
async function stopNode(node: RunningNode, graceMs: number): Promise<void> {
  if (node.done) return;
  node.child.kill('SIGTERM');
  const again = setTimeout(() => node.child.kill('SIGTERM'), 1500);
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(again);
  clearTimeout(timer);
}

async function main(): Promise<number> {
  const program = new Command('cluster')
    .description('a private Redis and N Noom nodes on this machine, as one service (Ctrl-C stops them all)')
    .option('--nodes <n>', 'nodes to start', int('--nodes', 1, 20), 3)
    .option('--base-port <port>', 'HTTP port of the first node, node i gets base + i (0: free ports)', int('--base-port', 0), 3000)
    .option('--rtc-port-base <port>', 'first RTC port; each node owns the next block of 1000 (0: free ports)', int('--rtc-port-base', 0), 40000)
    .option('--workers <n>', 'mediasoup workers per node', int('--workers', 1, 100), 1)
    .option('--redis-port <port>', 'port of the private Redis on 127.0.0.1 (default: a free one)', int('--redis-port', 1))
    .option('--quiet', "show only the nodes' warnings and errors")
    .option('--no-build', 'never build, even when dist/ is older than the sources')
    .parse();
  const opts = program.opts<{ nodes: number; basePort: number; rtcPortBase: number; workers: number; redisPort?: number; build: boolean; quiet?: boolean }>();

  ensureRedisInstalled();
  if (opts.build) buildIfNeeded();
  if (!existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} is missing: npm run build`);

  const dir = mkdtempSync(path.join(tmpdir(), 'noom-cluster-'));
  const redis: RedisServer = redisServer({ port: opts.redisPort ?? (await freePort()), dir });
  const plans = planNodes({ nodes: opts.nodes, basePort: opts.basePort, rtcPortBase: opts.rtcPortBase, workers: opts.workers, redisUrl: redis.url });

  let stopping = false;
  let failed = false;
  const nodes: RunningNode[] = [];
  let resolveStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (resolveStop = resolve));
  const requestStop = (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${why})`);
    resolveStop();
  };
  // A terminal's Ctrl-C can arrive twice at once (from the terminal and forwarded by npm): only
  // a second one a moment later means "stop now".
  let firstSignalAt = 0;
  process.on('SIGINT', () => {
    if (!stopping) {
      firstSignalAt = Date.now();
      requestStop('SIGINT');
    } else if (Date.now() - firstSignalAt > 1000) {
      say('killing the nodes');
      for (const node of nodes) node.child.kill('SIGKILL');
    }
  });
  process.on('SIGTERM', () => requestStop('SIGTERM'));

  try {
    await redis.start();
    say(`redis ${redis.url} (pid ${redis.process?.pid}, log ${redis.logFile})`);
    redis.process?.once('exit', (code, signal) => {
      if (stopping) return;
      failed = true;
      say(`redis exited unexpectedly (${signal ?? `code ${code}`}); stopping the nodes`);
      requestStop('redis gone');
    });

    let listening = 0;
    for (const plan of plans) {
      const node = startNode(
        plan,
        opts.quiet === true,
        (url) => {
          say(`${plan.nodeId} ${url} (pid ${node.child.pid})`);
          if (++listening === plans.length) say(`ready: ${plans.length} nodes. Ctrl-C stops them all.`);
        },
        (how) => {
          if (stopping) return;
          failed = true;
          say(`${plan.nodeId} exited unexpectedly (${how})`);
          if (nodes.every((n) => n.done)) requestStop('no node left');
        },
      );
      nodes.push(node);
    }
    await stopRequested;
  } finally {
    stopping = true;
    await Promise.all(nodes.map((n) => stopNode(n, 10_000)));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    say('stopped');
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`[cluster] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
