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

/** What a consumer's outbound stream had sent at the previous scrape. */
interface ConsumerTotals {
  packets: number;
  bytes: number;
  retransmitted: number;
  nacks: number;
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly joins: client.Counter<'result'>;
  readonly joinSeconds: client.Histogram;
  readonly requests: client.Counter<'event' | 'result'>;
  readonly sockets: client.Gauge;
  readonly chatMessages: client.Counter;
  readonly floodDisconnects: client.Counter<'reason'>;
  readonly #consumerTotals = new Map<string, ConsumerTotals>();
  readonly #producerTotals = new Map<string, { pli: number; fir: number }>();

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
    this.#retransmitted = new client.Counter({
      name: 'noom_rtp_packets_retransmitted_total',
      help: 'RTP packets sent to consumers again on their NACKs (not in noom_rtp_packets_forwarded_total)',
      registers,
    });
    this.#nacks = new client.Counter({
      name: 'noom_rtp_nacks_received_total',
      help: 'RTCP NACK packets received from consumers',
      registers,
    });
    this.#keyframeRequests = new client.Counter({
      name: 'noom_keyframe_requests_total',
      help: 'Keyframe requests sent to publishers (PLI or FIR), on behalf of their consumers or for lost packets',
      labelNames: ['type'],
      registers,
    });
    // Present from the start at 0, so a reader integrating from its first scrape has a baseline.
    this.#keyframeRequests.inc({ type: 'pli' }, 0);
    this.#keyframeRequests.inc({ type: 'fir' }, 0);
    this.#rooms = rooms;
  }

  readonly #packets: client.Counter;
  readonly #bytes: client.Counter;
  readonly #retransmitted: client.Counter;
  readonly #nacks: client.Counter;
  readonly #keyframeRequests: client.Counter<'type'>;
  readonly #rooms: RoomRegistry;

  /** Totals are kept per consumer so that counters only move forward; closed consumers drop out. */
  async #collectForwarded(): Promise<void> {
    const consumers: types.Consumer[] = [];
    for (const room of this.#rooms.rooms.values()) {
      for (const peer of room.peers.values()) for (const c of peer.consumers.values()) consumers.push(c);
    }
    const live = new Set(consumers.map((c) => c.id));
    const add = (counter: client.Counter, now: number, before: number) => {
      if (now > before) counter.inc(now - before);
    };
    await Promise.all(
      consumers.map(async (c) => {
        const stats = await c.getStats().catch(() => []);
        const out = stats.find((s) => s.type === 'outbound-rtp');
        if (!out) return;
        const prev = this.#consumerTotals.get(c.id) ?? { packets: 0, bytes: 0, retransmitted: 0, nacks: 0 };
        const next = { packets: out.packetCount, bytes: out.byteCount, retransmitted: out.packetsRetransmitted, nacks: out.nackCount };
        add(this.#packets, next.packets, prev.packets);
        add(this.#bytes, next.bytes, prev.bytes);
        add(this.#retransmitted, next.retransmitted, prev.retransmitted);
        add(this.#nacks, next.nacks, prev.nacks);
        this.#consumerTotals.set(c.id, next);
      }),
    );
    for (const id of this.#consumerTotals.keys()) if (!live.has(id)) this.#consumerTotals.delete(id);
  }

  /**
   * A producer's inbound-rtp stats count the PLI and FIR mediasoup sent to its publisher (the
   * worker's RtpStreamRecv::RequestKeyFrame), one stream per simulcast layer; kept per producer
   * like the consumers' totals.
   */
  async #collectKeyframeRequests(): Promise<void> {
    const producers: types.Producer[] = [];
    for (const room of this.#rooms.rooms.values()) {
      for (const peer of room.peers.values()) for (const p of peer.producers.values()) producers.push(p.producer);
    }
    const live = new Set(producers.map((p) => p.id));
    await Promise.all(
      producers.map(async (p) => {
        const stats = await p.getStats().catch(() => []);
        const next = { pli: 0, fir: 0 };
        for (const s of stats) {
          next.pli += s.pliCount;
          next.fir += s.firCount;
        }
        const prev = this.#producerTotals.get(p.id) ?? { pli: 0, fir: 0 };
        if (next.pli > prev.pli) this.#keyframeRequests.inc({ type: 'pli' }, next.pli - prev.pli);
        if (next.fir > prev.fir) this.#keyframeRequests.inc({ type: 'fir' }, next.fir - prev.fir);
        this.#producerTotals.set(p.id, { pli: Math.max(prev.pli, next.pli), fir: Math.max(prev.fir, next.fir) });
      }),
    );
    for (const id of this.#producerTotals.keys()) if (!live.has(id)) this.#producerTotals.delete(id);
  }

  /** The collection under way: two scrapes at once must not both add one consumer's increase. */
  #collecting: Promise<void> = Promise.resolve();

  async render(): Promise<string> {
    const collected = this.#collecting.then(async () => {
      await Promise.all([this.#collectForwarded(), this.#collectKeyframeRequests()]);
    });
    this.#collecting = collected.catch(() => undefined);
    await collected;
    return this.registry.metrics();
  }
}
