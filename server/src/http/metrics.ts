/**
 * Prometheus metrics (prom-client). Counters of the signaling layer are updated as things
 * happen; the media figures (worker CPU, producers, consumers, packets and bytes forwarded)
 * are read from mediasoup when `/metrics` is scraped, so an unscraped server pays nothing.
 */
import client from 'prom-client';
import type { types } from 'mediasoup';
import type { WorkerPool } from '../media/WorkerPool.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { Peer } from '../rooms/Peer.js';
import type { Room } from '../rooms/Room.js';

/** What a cluster node reports about the cluster (absent on a single node). */
export interface ClusterFigures {
  /** Live nodes, this one included. */
  nodes(): number;
  /** Producers piped in from other nodes and out to them. */
  pipes(): { inbound: number; outbound: number };
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly joins: client.Counter<'result'>;
  readonly joinSeconds: client.Histogram;
  readonly requests: client.Counter<'event' | 'result'>;
  readonly sockets: client.Gauge;
  readonly chatMessages: client.Counter;
  readonly floodDisconnects: client.Counter<'reason'>;
  readonly #consumerTotals = new Map<string, { packets: number; bytes: number }>();

  constructor(pool: WorkerPool, rooms: RoomRegistry, cluster?: ClusterFigures) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'noom_', eventLoopMonitoringPrecision: 10 });
    this.joins = new client.Counter({ name: 'noom_joins_total', help: 'room:join requests', labelNames: ['result'], registers });
    this.floodDisconnects = new client.Counter({
      name: 'noom_flood_disconnects_total',
      help: 'Connections dropped for flooding (reason: invalid requests or signaling bytes over the per-address allowance)',
      labelNames: ['reason'],
      registers,
    });
    this.joinSeconds = new client.Histogram({
      name: 'noom_join_duration_seconds',
      help: 'Time to answer room:join',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.requests = new client.Counter({
      name: 'noom_requests_total',
      help: 'Protocol requests by event and result',
      labelNames: ['event', 'result'],
      registers,
    });
    this.sockets = new client.Gauge({ name: 'noom_sockets', help: 'Open Socket.IO connections', registers });
    this.chatMessages = new client.Counter({ name: 'noom_chat_messages_total', help: 'Chat messages accepted', registers });
    new client.Gauge({
      name: 'noom_rooms',
      help: 'Open rooms',
      registers,
      collect() {
        this.set(rooms.rooms.size);
      },
    });
    new client.Gauge({
      name: 'noom_peers',
      help: 'Peers in rooms',
      registers,
      collect() {
        let n = 0;
        for (const r of rooms.rooms.values()) n += r.peerCount;
        this.set(n);
      },
    });
    if (cluster) {
      new client.Gauge({
        name: 'noom_cluster_nodes',
        help: 'Live nodes of the cluster, this one included',
        registers,
        collect() {
          this.set(cluster.nodes());
        },
      });
      new client.Gauge({
        name: 'noom_cluster_pipes',
        help: 'Producers piped between this node and others, by direction (in: consumed here)',
        labelNames: ['direction'],
        registers,
        collect() {
          const { inbound, outbound } = cluster.pipes();
          this.set({ direction: 'in' }, inbound);
          this.set({ direction: 'out' }, outbound);
        },
      });
    }
    new client.Gauge({
      name: 'noom_workers',
      help: 'Live mediasoup workers',
      registers,
      collect() {
        this.set(pool.slots.length);
      },
    });
    new client.Gauge({
      name: 'noom_worker_cpu_seconds_total',
      help: 'CPU time (user + system) used by each mediasoup worker process since it started',
      labelNames: ['worker'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          pool.slots.map(async (s) => {
            const u = await s.worker.getResourceUsage().catch(() => undefined);
            if (u) this.set({ worker: String(s.index) }, (u.ru_utime + u.ru_stime) / 1000);
          }),
        );
      },
    });
    const perWorker = (name: string, help: string, count: (room: Room, add: (slot: number, n: number) => void) => void) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers,
        collect() {
          this.reset();
          const totals = new Map<number, number>(pool.slots.map((s) => [s.index, 0]));
          const add = (slot: number, n: number) => totals.set(slot, (totals.get(slot) ?? 0) + n);
          for (const room of rooms.rooms.values()) count(room, add);
          for (const [w, n] of totals) this.set({ worker: String(w) }, n);
        },
      });
    const countPerWorker = (name: string, help: string, pick: (peer: Peer) => number) =>
      perWorker(name, help, (room, add) => {
        for (const peer of room.peers.values()) add(peer.slotIndex, pick(peer));
      });
    countPerWorker('noom_producers', 'Producers per worker (of the peers placed on it)', (peer) => peer.producers.size);
    countPerWorker('noom_consumers', 'Consumers per worker (of the peers placed on it)', (peer) => peer.consumers.size);
    countPerWorker('noom_worker_peers', 'Peers per worker', () => 1);
    perWorker('noom_room_routers', 'Routers of rooms per worker (a room has one router on each worker it uses)', (room, add) => {
      for (const r of room.media.routers) add(r.slot.index, 1);
    });
    perWorker('noom_pipes', 'Producers piped into a router on this worker from another router of the same room', (room, add) => {
      for (const [slot, n] of room.media.pipesBySlot()) add(slot, n);
    });

    this.#packets = new client.Counter({
      name: 'noom_rtp_packets_forwarded_total',
      help: 'RTP packets sent to consumers',
      registers,
    });
    this.#bytes = new client.Counter({ name: 'noom_rtp_bytes_forwarded_total', help: 'RTP bytes sent to consumers', registers });
    this.#rooms = rooms;
  }

  readonly #packets: client.Counter;
  readonly #bytes: client.Counter;
  readonly #rooms: RoomRegistry;

  /** Totals are kept per consumer so that counters only move forward; closed consumers drop out. */
  async #collectForwarded(): Promise<void> {
    const consumers: types.Consumer[] = [];
    for (const room of this.#rooms.rooms.values()) {
      for (const peer of room.peers.values()) for (const c of peer.consumers.values()) consumers.push(c);
    }
    const live = new Set(consumers.map((c) => c.id));
    await Promise.all(
      consumers.map(async (c) => {
        const stats = await c.getStats().catch(() => []);
        const out = stats.find((s) => s.type === 'outbound-rtp');
        if (!out) return;
        const prev = this.#consumerTotals.get(c.id) ?? { packets: 0, bytes: 0 };
        if (out.packetCount > prev.packets) this.#packets.inc(out.packetCount - prev.packets);
        if (out.byteCount > prev.bytes) this.#bytes.inc(out.byteCount - prev.bytes);
        this.#consumerTotals.set(c.id, { packets: out.packetCount, bytes: out.byteCount });
      }),
    );
    for (const id of this.#consumerTotals.keys()) if (!live.has(id)) this.#consumerTotals.delete(id);
  }

  /** The collection under way: two scrapes at once must not both add one consumer's increase. */
  #collecting: Promise<void> = Promise.resolve();

  async render(): Promise<string> {
    const collected = this.#collecting.then(() => this.#collectForwarded());
    this.#collecting = collected.catch(() => undefined);
    await collected;
    return this.registry.metrics();
  }
}
