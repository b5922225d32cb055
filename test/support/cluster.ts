/** Cluster nodes without media for the cluster tests: Redis connections, liveness, broker. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClusterNode, type ClusterNodeOptions } from '../../server/src/cluster/ClusterNode.js';
import type { NoomServer } from '../../server/src/app.js';
import { createLogger } from '../../server/src/logger.js';
import { eventually } from './eventually.js';
import { startRedis, type TestRedis } from './redis.js';
import { callFixture, type CallFixture } from './call.js';
import { startTestServer, TEST_ENV } from './server.js';

const MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));

/** A whole Noom node (server/src/main.ts) in its own process, joined to the Redis at `redisUrl`. */
export function spawnNodeProcess(redisUrl: string, nodeId: string, env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_ENV, LOG_LEVEL: 'info', REDIS_URL: redisUrl, NODE_ID: nodeId, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

export interface TwoNodes {
  redis: TestRedis;
  a: NoomServer;
  b: NoomServer;
  /** Stops both nodes, then Redis. */
  close(): Promise<void>;
}

/** A private redis-server and two whole Noom nodes on it, `<prefix>-a` and `<prefix>-b`, once they see each other. */
export async function startTwoNodes(prefix: string, env: Record<string, string> = {}): Promise<TwoNodes> {
  const redis = await startRedis();
  const started: NoomServer[] = [];
  const close = async () => {
    for (const node of started) await node.close();
    await redis.stop();
  };
  try {
    for (const side of ['a', 'b']) started.push(await startTestServer({ REDIS_URL: redis.url, NODE_ID: `${prefix}-${side}`, ...env }));
    const [a, b] = started as [NoomServer, NoomServer];
    await eventually('the nodes see each other', () => a.cluster!.liveness.isAlive(`${prefix}-b`) && b.cluster!.liveness.isAlive(`${prefix}-a`));
    return { redis, a, b, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The set-up of a test file about one call over two nodes: two nodes on a private Redis
 * (callFixture: the clip first; after the tests, peers and sockets closed, then the nodes
 * and Redis stopped).
 */
export function twoNodeCall(prefix: string, env: Record<string, string>, ready: (nodes: TwoNodes) => void): CallFixture {
  return callFixture(() => startTwoNodes(prefix, env), (nodes) => nodes.close(), ready);
}

export const testLog = () => createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** A joined cluster node named `nodeId` on the Redis at `redisUrl`. */
export async function startClusterNode(redisUrl: string, nodeId: string, options: ClusterNodeOptions = {}): Promise<ClusterNode> {
  const node = await ClusterNode.connect(
    { redisUrl, nodeId, pipeListenIp: '127.0.0.1', pipeAnnouncedIp: '127.0.0.1' },
    testLog(),
    { connectTimeoutMs: 3000, ...options },
  );
  try {
    await node.join(`http://127.0.0.1/${nodeId}`);
  } catch (error) {
    await node.close();
    throw error;
  }
  return node;
}

/** Resolves with the arguments of the next `event` for which `match` holds. */
export function nextEvent<A extends unknown[]>(
  emitter: { on(event: string, fn: (...args: A) => void): unknown; off(event: string, fn: (...args: A) => void): unknown },
  event: string,
  match: (...args: A) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no matching "${event}" in ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: A) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}
