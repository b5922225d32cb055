/**
 * This node's membership of a cluster (REDIS_URL set): the Redis connections, the Socket.IO
 * adapter that carries room emits to every node, liveness (who else is alive) and the broker
 * (requests to other nodes). Absent in a single-node server, where none of this runs.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { ClusterConfig } from '../../../config/index.js';
import type { Logger } from '../logger.js';
import { Broker } from './Broker.js';
import { keys } from './keys.js';
import { Liveness, type LivenessOptions } from './Liveness.js';
import { connectRedis, type RedisConnections } from './redis.js';

export interface ClusterNodeOptions {
  /** How long startup waits for Redis before failing (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Liveness timings, for tests. */
  liveness?: Pick<LivenessOptions, 'ttlMs' | 'heartbeatMs' | 'pollMs'>;
}

export class ClusterNode {
  readonly config: ClusterConfig;
  readonly redis: RedisConnections;
  readonly #log: Logger;
  readonly #options: ClusterNodeOptions;
  #liveness: Liveness | undefined;
  #broker: Broker | undefined;
  #closing: Promise<void> | undefined;
  #left: Promise<void> | undefined;

  private constructor(config: ClusterConfig, redis: RedisConnections, options: ClusterNodeOptions, log: Logger) {
    this.config = config;
    this.redis = redis;
    this.#options = options;
    this.#log = log;
  }

  /** Connects to Redis, or fails with a RedisConnectError that says why. */
  static async connect(config: ClusterConfig, log: Logger, options: ClusterNodeOptions = {}): Promise<ClusterNode> {
    const redis = await connectRedis(config.redisUrl, options.connectTimeoutMs ?? 5000, log.child({ component: 'redis' }));
    return new ClusterNode(config, redis, options, log);
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  /** For `new Server(..., { adapter })`: room emits through a Redis stream shared by all nodes. */
  socketIoAdapter(): ReturnType<typeof createAdapter> {
    return createAdapter(this.redis.commands, {
      streamName: keys.socketIoStream,
      channelPrefix: keys.socketIoChannelPrefix,
      sessionKeyPrefix: keys.socketIoSessionPrefix,
      // The reader stops at the end of its current XREAD after close: keep shutdown short.
      blockTimeInMs: 1000,
    });
  }

  /**
   * Announces this node (reachable at `url`) and starts answering requests. The broker reads
   * its stream before liveness makes the node known, so no request can arrive unread.
   */
  async join(url: string): Promise<void> {
    if (this.#liveness) throw new Error('already joined');
    const liveness = new Liveness(
      this.redis,
      { nodeId: this.nodeId, url, pipeAnnouncedIp: this.config.pipeAnnouncedIp, ...this.#options.liveness },
      this.#log.child({ component: 'liveness' }),
    );
    this.#liveness = liveness;
    this.#broker = await Broker.start(this.redis, { nodeId: this.nodeId, liveness }, this.#log.child({ component: 'broker' }));
    await liveness.start();
  }

  get liveness(): Liveness {
    if (!this.#liveness) throw new Error('not joined');
    return this.#liveness;
  }

  get broker(): Broker {
    if (!this.#broker) throw new Error('not joined');
    return this.#broker;
  }

  /** Whether this node can serve cluster traffic now: Redis reachable and not leaving. */
  get ready(): boolean {
    return this.redis.ready && this.#left === undefined;
  }

  /** Leaves the cluster at once (the others see it go) and stops answering; Redis stays open. */
  leave(): Promise<void> {
    return (this.#left ??= (async () => {
      await this.#liveness?.close();
      await this.#broker?.close();
    })());
  }

  /** Leaves, then closes the Redis connections. Call after the Socket.IO server has closed. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      await this.leave();
      await this.redis.close();
    })());
  }
}
