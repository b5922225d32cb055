/**
 * Which nodes of the cluster are alive. Each node keeps a key `noom:node:<id>` (its
 * {@link NodeRecord}) with a short TTL that it refreshes, and lists itself in `noom:nodes`.
 * Every node polls that set and those keys: a node whose key has expired is dead
 * (`nodedown`), a node seen for the first time or with a new incarnation is `nodeup`. A node
 * that leaves on purpose deletes its key and says so on a channel, so the others report it
 * at once.
 *
 * Polling rather than keyspace notifications: those need `notify-keyspace-events` set on
 * the Redis server, are lost while a subscriber reconnects, and expiry events fire only when
 * Redis gets round to evicting the key. A poll of one set and a few keys per second is cheap
 * and its answer does not depend on what happened while we were away.
 *
 * Outages: while this node cannot reach Redis it reports nothing (its own view is stale, not
 * the others' state). When it is back it registers again and, for one TTL, does not report a
 * node as dead for a missing key: after a Redis restart every key is gone until each node
 * has re-registered, which takes each of them about a second.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { keys } from './keys.js';
import { parseJson } from './json.js';
import { withDeadline, type RedisConnections } from './redis.js';

export const NodeId = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/);

/** What a node publishes about itself; parsed like any other input when read. */
export const NodeRecord = z.object({
  nodeId: NodeId,
  /** New on every start, so that a node restarted under the same id is a new node. */
  incarnation: z.string().min(1).max(64),
  /** Where clients reach this node's HTTP + Socket.IO. */
  url: z.string().min(1).max(2048),
  /** Where other nodes send media piped to this node. */
  pipeAnnouncedIp: z.string().min(1).max(255),
  /** Epoch milliseconds (the node's clock). */
  startedAt: z.number().int().nonnegative(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

const NodeEvent = z.object({ type: z.literal('left'), nodeId: NodeId, incarnation: z.string().min(1).max(64) });

export type NodeDownReason = 'left' | 'expired' | 'restarted';

export type LivenessEvents = {
  /** Another node is alive: new, or back with a new incarnation (after its `nodedown`). */
  nodeup: [node: NodeRecord];
  /** Another node is gone: left on purpose, stopped refreshing its key, or was restarted. */
  nodedown: [nodeId: string, reason: NodeDownReason, last: NodeRecord];
  /** This node is registered again after it lost Redis: time to re-sync what it keeps there. */
  reconnected: [];
};

export interface LivenessOptions {
  nodeId: string;
  url: string;
  pipeAnnouncedIp: string;
  /** Lifetime of the node's key; a node that stops refreshing it is dead this long after. */
  ttlMs?: number;
  /** How often the key is refreshed. */
  heartbeatMs?: number;
  /** How often the other nodes' keys are read. */
  pollMs?: number;
}

/** Another live node already uses this NODE_ID. */
export class NodeIdInUseError extends Error {
  constructor(readonly nodeId: string) {
    super(`NODE_ID ${nodeId} is already used by a live node of this cluster`);
    this.name = 'NodeIdInUseError';
  }
}

// A death is seen within TTL + one poll (4 s) of the node's last refresh, inside the 5 s the
// cluster promises; two missed refreshes in a row (an event-loop stall) are survived.
const DEFAULT_TTL_MS = 3000;
const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_POLL_MS = 1000;
const MAX_DEPARTED = 1000;

export class Liveness extends EventEmitter<LivenessEvents> {
  readonly self: NodeRecord;
  readonly #redis: RedisConnections;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #pollMs: number;
  /** The other live nodes, by id. */
  readonly #nodes = new Map<string, NodeRecord>();
  /** Incarnations that announced their departure: a late read of their key must not revive them. */
  readonly #departed = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Until then a missing key is not taken as death (we have just come back). */
  #graceUntil = 0;
  #lostRedis = false;
  /** Counts connection losses: a poll that straddles one reads a world that has changed. */
  #epoch = 0;
  #polling = false;
  #beating = false;
  #started = false;
  /** The key is ours: only then may close() delete it. */
  #registered = false;
  #replacedEarlierRun = false;
  #closed = false;
  readonly #onReady = () => this.#handleReconnect();
  readonly #onLost = () => {
    if (!this.#lostRedis) this.#epoch++;
    this.#lostRedis = true;
  };
  readonly #onEvent = (message: string) => {
    // Runs inside the Redis client's reply parser: nothing may escape from here.
    try {
      this.#handleEvent(message);
    } catch (error) {
      this.#log.error({ err: error }, 'cluster event handling failed');
    }
  };

  constructor(redis: RedisConnections, options: LivenessOptions, log: Logger) {
    super();
    this.#redis = redis;
    this.#log = log;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.self = {
      nodeId: options.nodeId,
      incarnation: randomUUID(),
      url: options.url,
      pipeAnnouncedIp: options.pipeAnnouncedIp,
      startedAt: Date.now(),
    };
  }

  /**
   * Registers this node and starts watching the others. Waits up to one TTL for a key left by
   * a previous run under the same id to expire; fails with {@link NodeIdInUseError} if it is
   * still refreshed, since two nodes with one id would take each other's requests.
   */
  async start(): Promise<void> {
    if (this.#started || this.#closed) throw new Error('liveness already started');
    this.#started = true;
    await this.#claim();
    this.#registered = true;
    await this.#redis.subscriber.subscribe(keys.nodeEvents, this.#onEvent);
    this.#redis.commands.on('ready', this.#onReady);
    this.#redis.commands.on('error', this.#onLost);
    this.#redis.commands.on('reconnecting', this.#onLost);
    await this.#poll();
    this.#timers.push(
      setInterval(() => void this.#heartbeat(), this.#heartbeatMs),
      setInterval(() => void this.#poll(), this.#pollMs),
    );
    this.#log.info({ nodeId: this.self.nodeId, nodes: [...this.#nodes.keys()] }, 'joined the cluster');
  }

  /**
   * This node's id was still held by an earlier run when it started (a quick restart): the
   * others may not have seen that run die yet.
   */
  get replacedEarlierRun(): boolean {
    return this.#replacedEarlierRun;
  }

  /** How often the others poll: within about two polls every node has seen a change. */
  get pollMs(): number {
    return this.#pollMs;
  }

  /** The other nodes that are alive now, by id. */
  get nodes(): ReadonlyMap<string, NodeRecord> {
    return this.#nodes;
  }

  /** Whether `nodeId` (this node included) is alive as far as this node can tell. */
  isAlive(nodeId: string): boolean {
    return nodeId === this.self.nodeId ? this.#registered && !this.#closed : this.#nodes.has(nodeId);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Leaves the cluster: the key goes at once and the others hear of it immediately. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#registered) return;
    for (const timer of this.#timers) clearInterval(timer);
    this.#redis.commands.off('ready', this.#onReady);
    this.#redis.commands.off('error', this.#onLost);
    this.#redis.commands.off('reconnecting', this.#onLost);
    const { nodeId, incarnation } = this.self;
    try {
      await withDeadline(
        Promise.all([
          this.#redis.commands.del(keys.node(nodeId)),
          this.#redis.commands.sRem(keys.nodes, nodeId),
          this.#redis.commands.publish(keys.nodeEvents, JSON.stringify({ type: 'left', nodeId, incarnation })),
        ]),
        1000,
      );
    } catch (error) {
      // The others will see the key expire instead.
      this.#log.warn({ err: error }, 'could not announce leaving the cluster');
    }
    // Bounded: while Redis is away an unsubscribe waits for a reconnect that may never come.
    await withDeadline(this.#redis.subscriber.unsubscribe(keys.nodeEvents, this.#onEvent), 1000).catch(() => undefined);
    this.#nodes.clear();
  }

  async #claim(): Promise<void> {
    const deadline = Date.now() + this.#ttlMs + 500;
    for (;;) {
      const set = await this.#redis.commands.set(keys.node(this.self.nodeId), JSON.stringify(this.self), {
        condition: 'NX',
        expiration: { type: 'PX', value: this.#ttlMs },
      });
      if (set === 'OK') break;
      this.#replacedEarlierRun = true;
      if (Date.now() > deadline) throw new NodeIdInUseError(this.self.nodeId);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await this.#redis.commands.sAdd(keys.nodes, this.self.nodeId);
  }

  async #heartbeat(): Promise<boolean> {
    if (this.#closed || this.#beating || !this.#redis.ready) return false;
    this.#beating = true;
    try {
      await withDeadline(
        Promise.all([
          this.#redis.commands.set(keys.node(this.self.nodeId), JSON.stringify(this.self), {
            expiration: { type: 'PX', value: this.#ttlMs },
          }),
          this.#redis.commands.sAdd(keys.nodes, this.self.nodeId),
        ]),
        this.#heartbeatMs,
      );
      return true;
    } catch (error) {
      this.#log.debug({ err: error }, 'heartbeat failed');
      return false;
    } finally {
      this.#beating = false;
    }
  }

  #handleReconnect(): void {
    if (this.#closed || !this.#lostRedis) return;
    this.#lostRedis = false;
    // Everyone's key may be gone (a restarted Redis keeps nothing): give the others one TTL
    // to register again before a missing key counts as death.
    this.#graceUntil = Date.now() + this.#ttlMs;
    void this.#registerAgain(this.#epoch);
  }

  /** Heartbeats until one succeeds (a heartbeat from before the outage may still hold the slot). */
  async #registerAgain(epoch: number): Promise<void> {
    while (!this.#closed && epoch === this.#epoch) {
      if (await this.#heartbeat()) {
        this.#log.info({ nodeId: this.self.nodeId }, 'registered again after losing redis');
        this.#safeEmit('reconnected');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async #poll(): Promise<void> {
    if (this.#closed || this.#polling || !this.#redis.ready) return;
    this.#polling = true;
    const epoch = this.#epoch;
    try {
      const ids = (await withDeadline(this.#redis.commands.sMembers(keys.nodes), this.#pollMs)).filter(
        (id) => id !== this.self.nodeId,
      );
      const values = ids.length > 0 ? await withDeadline(this.#redis.commands.mGet(ids.map(keys.node)), this.#pollMs) : [];
      // An outage that began while the commands were out makes this answer stale.
      if (this.#closed || this.#lostRedis || epoch !== this.#epoch) return;
      const seen = new Map<string, NodeRecord>();
      ids.forEach((id, i) => {
        const record = this.#parseRecord(id, values[i] ?? null);
        if (record && !this.#departed.has(record.incarnation)) seen.set(id, record);
      });
      for (const [id, record] of seen) {
        const known = this.#nodes.get(id);
        if (known?.incarnation === record.incarnation) continue;
        if (known) this.#down(known, 'restarted');
        this.#nodes.set(id, record);
        this.#log.info({ node: id, url: record.url }, 'node up');
        this.#safeEmit('nodeup', record);
      }
      const gone = [...this.#nodes.values()].filter((n) => !seen.has(n.nodeId));
      if (gone.length > 0 && Date.now() >= this.#graceUntil) {
        for (const node of gone) this.#down(node, 'expired');
      }
      // Prune ids whose key is gone, so the set does not grow with every dead node. A node
      // that is merely slow adds itself back with its next heartbeat.
      const stale = ids.filter((id, i) => values[i] == null && !this.#nodes.has(id));
      if (stale.length > 0 && Date.now() >= this.#graceUntil) {
        await withDeadline(this.#redis.commands.sRem(keys.nodes, stale), this.#pollMs);
      }
    } catch (error) {
      // Cannot reach Redis: say nothing about the others.
      this.#log.debug({ err: error }, 'liveness poll failed');
    } finally {
      this.#polling = false;
    }
  }

  #parseRecord(id: string, value: string | null): NodeRecord | undefined {
    if (value === null) return undefined;
    const json = parseJson(value);
    const parsed = NodeRecord.safeParse(json);
    if (parsed.success && parsed.data.nodeId === id) return parsed.data;
    this.#log.warn({ node: id }, 'ignoring a malformed node record');
    return undefined;
  }

  #handleEvent(message: string): void {
    if (this.#closed) return;
    const json = parseJson(message);
    const parsed = NodeEvent.safeParse(json);
    if (!parsed.success) {
      this.#log.warn({ channel: keys.nodeEvents }, 'ignoring a malformed cluster event');
      return;
    }
    const { nodeId, incarnation } = parsed.data;
    if (nodeId === this.self.nodeId) return;
    this.#departed.add(incarnation);
    // Only a late read can revive a departed node, so the oldest entries can go.
    if (this.#departed.size > MAX_DEPARTED) this.#departed.delete(this.#departed.values().next().value!);
    const known = this.#nodes.get(nodeId);
    if (known?.incarnation === incarnation) this.#down(known, 'left');
  }

  #down(node: NodeRecord, reason: NodeDownReason): void {
    this.#nodes.delete(node.nodeId);
    this.#log.info({ node: node.nodeId, reason }, 'node down');
    this.#safeEmit('nodedown', node.nodeId, reason, node);
  }

  /** A listener that throws must not stop the heartbeat or the poll. */
  #safeEmit<E extends keyof LivenessEvents>(event: E, ...args: LivenessEvents[E]): void {
    try {
      (this.emit as (e: E, ...a: LivenessEvents[E]) => boolean)(event, ...args);
    } catch (error) {
      this.#log.error({ err: error, event }, 'liveness listener failed');
    }
  }
}
