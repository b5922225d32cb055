/**
 * The one place that creates Noom's Redis connections (node-redis). Every client gets an
 * `error` listener (an EventEmitter without one crashes the process on the first lost
 * connection), the same reconnect strategy and the same command timeout, so that a Redis
 * outage is a period of reconnecting, never a crash.
 *
 * Measured with this client and the streams adapter (shared/notes/cluster.md): commands
 * issued while Redis is away are held and replayed on reconnect, up to the command timeout;
 * held longer, they fail. Callers that cannot wait that long put their own deadline on a
 * command ({@link withDeadline}).
 */
import { createClient } from 'redis';
import { redactRedisUrl } from '../../../config/index.js';
import type { Logger } from '../logger.js';

export type RedisClient = ReturnType<typeof newClient>;

/** A command still waiting for a connection after this long fails (node-redis' default, made explicit). */
export const COMMAND_TIMEOUT_MS = 5000;
/** Longest pause between reconnect attempts: every node is back within about a second of Redis. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** Redis could not be reached (or refused us) at startup; the message names the URL without its password. */
export class RedisConnectError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach Redis at ${url}: ${reason}`);
    this.name = 'RedisConnectError';
  }
}

/** A short reason for a connection failure: the system error code when there is one. */
export function describeRedisError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    return error.message || error.name;
  }
  return String(error);
}

/** Exponential backoff from 50 ms to {@link MAX_RECONNECT_DELAY_MS}, with jitter so nodes do not reconnect in step. */
function reconnectDelay(retries: number): number {
  const base = Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS);
  return Math.round(base * (0.75 + Math.random() * 0.25));
}

function newClient(url: string, role: string) {
  return createClient({
    url,
    name: `noom-${role}`,
    socket: { connectTimeout: 3000, reconnectStrategy: reconnectDelay },
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
  });
}

/**
 * A new, not yet connected client for `url` with Noom's settings and an `error` listener
 * that logs the first failure of an outage (and each further one at debug level).
 */
export function createRedisClient(url: string, role: string, log: Logger): RedisClient {
  const client = newClient(url, role);
  let failing = false;
  client.on('error', (error: unknown) => {
    const fields = { role, reason: describeRedisError(error) };
    if (failing) log.debug(fields, 'redis still unreachable');
    else log.warn(fields, 'redis connection lost; reconnecting');
    failing = true;
  });
  client.on('ready', () => {
    if (failing) log.info({ role }, 'redis reconnected');
    failing = false;
  });
  return client;
}

/**
 * Connects a client created by {@link createRedisClient}, retrying until `timeoutMs` has
 * passed. Then it gives up with a {@link RedisConnectError} naming the last reason (such as
 * `ECONNREFUSED` or `WRONGPASS ...`) and leaves nothing open.
 */
export async function connectClient(client: RedisClient, url: string, timeoutMs: number): Promise<void> {
  let lastError: unknown;
  const onError = (error: unknown) => (lastError = error);
  client.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
  } catch (error) {
    client.destroy();
    const reason = lastError ?? error;
    throw new RedisConnectError(
      redactRedisUrl(url),
      lastError === undefined && error instanceof Error && error.message === 'timeout'
        ? `no answer in ${timeoutMs} ms`
        : describeRedisError(reason),
    );
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}

/**
 * The connections a cluster node holds: `commands` for ordinary commands and for the
 * Socket.IO adapter (which duplicates it for its own stream reader and subscriber),
 * `subscriber` for pub/sub (a subscribed connection runs nothing else), and `blocking` for
 * the broker's XREAD BLOCK (a blocked connection would stall every other command behind it).
 */
export class RedisConnections {
  #closed = false;

  private constructor(
    readonly url: string,
    readonly commands: RedisClient,
    readonly subscriber: RedisClient,
    readonly blocking: RedisClient,
  ) {}

  /** Connects all three or none, failing after `timeoutMs` with a {@link RedisConnectError}. */
  static async connect(url: string, timeoutMs: number, log: Logger): Promise<RedisConnections> {
    const commands = createRedisClient(url, 'commands', log);
    await connectClient(commands, url, timeoutMs);
    const subscriber = createRedisClient(url, 'subscriber', log);
    const blocking = createRedisClient(url, 'blocking', log);
    try {
      await Promise.all([connectClient(subscriber, url, timeoutMs), connectClient(blocking, url, timeoutMs)]);
    } catch (error) {
      for (const client of [commands, subscriber, blocking]) if (client.isOpen) client.destroy();
      throw error;
    }
    return new RedisConnections(url, commands, subscriber, blocking);
  }

  /** True while the command connection is up: what /readyz reports and liveness trusts. */
  get ready(): boolean {
    return !this.#closed && this.commands.isReady;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes every connection: pending commands on `commands` are answered first (a node that
   * leaves deletes its liveness key on the way out), the blocked reader is cut at once.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.blocking.destroy();
    this.subscriber.destroy();
    // A graceful close waits for replies that a dead Redis never sends: bound it.
    await withDeadline(this.commands.close(), 1000).catch(() => undefined);
    if (this.commands.isOpen) this.commands.destroy();
  }
}

/** Shorthand for {@link RedisConnections.connect}. */
export function connectRedis(url: string, timeoutMs: number, log: Logger): Promise<RedisConnections> {
  return RedisConnections.connect(url, timeoutMs, log);
}

export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer from Redis in ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * Settles with `promise`, or rejects with a {@link DeadlineError} after `ms`. The command
 * timeout only covers commands not yet sent; one sent just before a connection went quiet
 * would otherwise wait for TCP to notice.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(ms)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
