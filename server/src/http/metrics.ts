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

/**
 * Counters fed from mediasoup objects' own cumulative stats: what each object had counted at
 * the previous scrape is kept, so that a counter only adds what was gained since (never
 * counting a drop, nor the same gain twice); objects that are gone drop out.
 */
class Increments<K extends string> {
  readonly #kept = new Map<string, Record<K, number>>();
  readonly #counters: Record<K, (gained: number) => void>;

  constructor(counters: Record<K, (gained: number) => void>) {
    this.#counters = counters;
  }

  async collect<T extends { id: string }>(objects: readonly T[], read: (o: T) => Promise<Record<K, number> | undefined>): Promise<void> {
    const live = new Set(objects.map((o) => o.id));
    await Promise.all(
      objects.map(async (o) => {
        const next = await read(o);
        if (!next) return;
        const kept = this.#kept.get(o.id);
        const high = { ...next };
        for (const k of Object.keys(this.#counters) as K[]) {
          const before = kept?.[k] ?? 0;
          if (next[k] > before) this.#counters[k](next[k] - before);
          high[k] = Math.max(before, next[k]);
        }
        this.#kept.set(o.id, high);
      }),
    );
    for (const id of this.#kept.keys()) if (!live.has(id)) this.#kept.delete(id);
  }
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly joins: client.Counter<'result'>;
  readonly joinSeconds: client.Histogram;
  readonly requests: client.Counter<'event' | 'result'>;
  readonly sockets: client.Gauge;
  readonly chatMessages: client.Counter;
  readonly floodDisconnects: client.Counter<'reason'>;

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
    this.#forwarded = new Increments({
      packets: (n) => this.#packets.inc(n),
      bytes: (n) => this.#bytes.inc(n),
      retransmitted: (n) => this.#retransmitted.inc(n),
      nacks: (n) => this.#nacks.inc(n),
    });
    this.#keyframesAsked = new Increments({
      pli: (n) => this.#keyframeRequests.inc({ type: 'pli' }, n),
      fir: (n) => this.#keyframeRequests.inc({ type: 'fir' }, n),
    });
    this.#rooms = rooms;
  }

  readonly #packets: client.Counter;
  readonly #bytes: client.Counter;
  readonly #retransmitted: client.Counter;
  readonly #nacks: client.Counter;
  readonly #keyframeRequests: client.Counter<'type'>;
  readonly #forwarded: Increments<'packets' | 'bytes' | 'retransmitted' | 'nacks'>;
  readonly #keyframesAsked: Increments<'pli' | 'fir'>;
  readonly #rooms: RoomRegistry;

  /** What mediasoup sent to each consumer; retransmissions are not in its packet count. */
  async #collectForwarded(): Promise<void> {
    const consumers: types.Consumer[] = [];
    for (const room of this.#rooms.rooms.values()) {
      for (const peer of room.peers.values()) for (const c of peer.consumers.values()) consumers.push(c);
    }
    await this.#forwarded.collect(consumers, async (c) => {
      const out = (await c.getStats().catch(() => [])).find((s) => s.type === 'outbound-rtp');
      return out && { packets: out.packetCount, bytes: out.byteCount, retransmitted: out.packetsRetransmitted, nacks: out.nackCount };
    });
  }

  /**
   * A producer's inbound-rtp stats count the PLI and FIR mediasoup sent to its publisher (the
   * worker's RtpStreamRecv::RequestKeyFrame), one stream per simulcast layer.
   */
  async #collectKeyframeRequests(): Promise<void> {
    const producers: types.Producer[] = [];
    for (const room of this.#rooms.rooms.values()) {
      for (const peer of room.peers.values()) for (const p of peer.producers.values()) producers.push(p.producer);
    }
    await this.#keyframesAsked.collect(producers, async (p) => {
      const next = { pli: 0, fir: 0 };
      for (const s of await p.getStats().catch(() => [])) {
        next.pli += s.pliCount;
        next.fir += s.firCount;
      }
      return next;
    });
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
