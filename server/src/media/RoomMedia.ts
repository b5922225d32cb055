/**
 * The media side of one room: its routers (at most one per worker), where each peer is
 * placed, which router carries each producer, the pipes that carry a producer to the other
 * routers of the room, and the room's active-speaker observer.
 *
 * A router takes up to `peersPerRouter` peers; the next ones go to a router of the room on
 * another worker (the least-loaded first), created on demand. When every worker carries a
 * full router of the room, the least-crowded one takes the overflow. A producer is piped to
 * another router only when someone there consumes it, and unpiped when the last of them
 * goes. Pause, resume and close follow across a pipe (mediasoup wires the pipe's two ends
 * together). The observer lives on one router, the "speaker" router; audio producers of the
 * other routers are piped to it so that it hears the whole room.
 *
 * A router whose worker dies takes only its own peers: the room hears of it through
 * `routerclose` and tells those peers to rejoin, while the others go on. When the speaker
 * router is the one that died, the observer is rebuilt on another router.
 *
 * In a cluster, a producer of another node is imported on first consume: piped onto the
 * router of its first local viewer, then handled like a local producer (piped on to other
 * routers here as needed), and given back when its last local viewer goes. The observer
 * hears imported audio too, so each node names the room's speaker for its own members.
 */
import { EventEmitter } from 'node:events';
import { parseScalabilityMode, type types } from 'mediasoup';
import type { ProducerInfo } from '../../../protocol/index.js';
import { AppError, invalidState, notFound, unavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ImportedProducer } from '../rooms/RoomLink.js';
import { LayerDemand } from './LayerDemand.js';
import type { WorkerLease, WorkerPool, WorkerSlot } from './WorkerPool.js';

export type Source = ProducerInfo['source'];

/** One router of the room, on one worker. */
export interface RoomRouter {
  readonly router: types.Router;
  readonly slot: WorkerSlot;
  /** Peers placed on it. */
  readonly peerIds: ReadonlySet<string>;
}

interface Site extends RoomRouter {
  readonly peerIds: Set<string>;
}

/** Where a peer's transports go, until `release()`. */
export interface Placement {
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  readonly slotIndex: number;
  release(): void;
}

export interface RoomProducer {
  readonly producer: types.Producer;
  readonly peerId: string;
  readonly source: Source;
  readonly router: types.Router;
  /** Set when the producer lives on another node and this is its local end. */
  readonly imported?: ImportedProducer;
}

/** Brings producers of other nodes into this room's media. */
export interface ProducerImporter {
  /** Whether `producerId` is a producer of this room on another node. */
  has(producerId: string): boolean;
  open(producerId: string, router: types.Router): Promise<ImportedProducer>;
}

interface Import {
  refs: number;
  ready: Promise<ImportedProducer>;
}

interface Pipe {
  refs: number;
  ready: Promise<types.Consumer>;
}

export type RoomMediaEvents = {
  /** A router of the room closed under it (its worker died); these peers lost their media. */
  routerclose: [peerIds: string[]];
  /** Every router is gone: the room has no media left. */
  close: [];
  dominantspeaker: [peerId: string | null];
  /** A producer joined the room's media (a recorder follows them). */
  producer: [p: RoomProducer];
  /** Dynacast: tell this publisher the highest layer of its producer anyone watches. */
  demand: [peerId: string, producerId: string, maxSpatialLayer: number | null];
};

/** How long a room being created waits for a live worker (a dead one is replaced in about half a second). */
export const WORKER_WAIT_MS = 5000;

export interface RoomMediaOptions {
  roomId: string;
  peersPerRouter: number;
  /** How long a lower layer demand must last before the publisher is told to send less. */
  dynacastHoldMs: number;
}

export class RoomMedia extends EventEmitter<RoomMediaEvents> {
  readonly #pool: WorkerPool;
  readonly #options: RoomMediaOptions;
  readonly #log: Logger;
  /** By worker slot index. */
  readonly #sites = new Map<number, Site>();
  readonly #producers = new Map<string, RoomProducer>();
  /** Producer id → target router id → the pipe carrying it there. */
  readonly #pipes = new Map<string, Map<string, Pipe>>();
  /** Producers of other nodes that local viewers consume, by producer id. */
  readonly #imports = new Map<string, Import>();
  #importer: ProducerImporter | undefined;
  /** Which layers of each video producer its viewers watch, across every router. */
  readonly demand: LayerDemand;
  #growing: Promise<void> | undefined;
  #speaker: { observer: types.ActiveSpeakerObserver; site: Site } | undefined;
  #closed = false;

  private constructor(pool: WorkerPool, options: RoomMediaOptions, log: Logger) {
    super();
    this.#pool = pool;
    this.#options = options;
    this.#log = log;
    this.demand = new LayerDemand(options.dynacastHoldMs);
    this.demand.on('change', (producerId, layer) => {
      const p = this.#producers.get(producerId);
      if (p?.imported) p.imported.setDemand(layer);
      else if (p) this.emit('demand', p.peerId, producerId, layer);
    });
  }

  /**
   * The room's media with its first router and the active-speaker observer on it. While no
   * worker is live (the only one is being replaced), it waits for one, up to
   * WORKER_WAIT_MS, then gives up with UNAVAILABLE.
   */
  static async create(pool: WorkerPool, options: RoomMediaOptions, log: Logger): Promise<RoomMedia> {
    const media = new RoomMedia(pool, options, log);
    try {
      const site = await media.#firstSite();
      await media.#startSpeaker(site);
    } catch (error) {
      media.close();
      throw error;
    }
    return media;
  }

  async #firstSite(): Promise<Site> {
    const deadline = performance.now() + WORKER_WAIT_MS;
    for (;;) {
      const left = deadline - performance.now();
      if (!(await this.#pool.whenAvailable(Math.max(0, left)))) {
        throw unavailable('no media worker is available; retry in a moment');
      }
      try {
        return await this.#addSite(this.#pool.pick());
      } catch (error) {
        // A worker that died between being picked and taking the router: wait for its replacement.
        if (error instanceof AppError && error.code === 'UNAVAILABLE' && performance.now() < deadline && !this.#closed) continue;
        throw error;
      }
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Same codecs on every router, so any router's capabilities speak for the room. */
  get rtpCapabilities(): types.RtpCapabilities {
    const site = this.#sites.values().next().value;
    if (!site) throw invalidState('room has no media');
    return site.router.rtpCapabilities;
  }

  get routers(): RoomRouter[] {
    return [...this.#sites.values()];
  }

  get producers(): ReadonlyMap<string, RoomProducer> {
    return this.#producers;
  }

  /** Open pipes into each router of the room, by worker slot index. */
  pipesBySlot(): Map<number, number> {
    const slotOf = new Map<string, number>([...this.#sites.values()].map((s) => [s.router.id, s.slot.index]));
    const out = new Map<number, number>();
    for (const byRouter of this.#pipes.values()) {
      for (const routerId of byRouter.keys()) {
        const slot = slotOf.get(routerId);
        if (slot !== undefined) out.set(slot, (out.get(slot) ?? 0) + 1);
      }
    }
    return out;
  }

  /** Where producers of other nodes come from (cluster only). */
  set importer(importer: ProducerImporter) {
    this.#importer = importer;
  }

  /** Tells the nodes of imported producers again what this node's viewers watch (a message may have been lost in an outage). */
  repeatImportDemand(): void {
    for (const [id, p] of this.#producers) {
      const told = this.demand.told(id);
      if (p.imported && told !== undefined) p.imported.setDemand(told);
    }
  }

  /** Closes the local end of an imported producer whose owner has closed it (its viewers get `producerclose`). */
  dropImport(producerId: string): void {
    const p = this.#producers.get(producerId);
    if (p?.imported) p.producer.close();
  }

  /** Brings an imported producer's paused state in line with its owner's (a mirror message may have been lost). */
  alignImport(producerId: string, paused: boolean): void {
    const p = this.#producers.get(producerId);
    if (!p?.imported || p.producer.closed || p.producer.paused === paused) return;
    (paused ? p.producer.pause() : p.producer.resume()).catch((error: unknown) => {
      this.#log.debug({ err: error, producer: producerId }, 'could not align an imported producer');
    });
  }

  /** Producers of other nodes piped in for local viewers now. */
  get importCount(): number {
    return this.#imports.size;
  }

  producer(producerId: string): RoomProducer {
    const p = this.#producers.get(producerId);
    if (!p) throw notFound('producer', producerId);
    return p;
  }

  /**
   * Makes sure the next peer has a router with room for it: when every router of the room
   * is full and a worker carries none of them, a router is created there. Growth is
   * serialized, so that a burst of joins creates one router, not one each. When no router
   * can be added, the peer will overflow onto an existing one.
   */
  async reserve(): Promise<void> {
    while (!this.#closed && !this.#hasRoom()) {
      if (this.#growing) {
        await this.#growing;
        continue;
      }
      const free = this.#pool.pick(new Set(this.#sites.keys()));
      if (!free) return; // every worker already carries this room
      let grew = true;
      this.#growing = this.#addSite(free)
        .then(
          () => undefined,
          (error: unknown) => {
            grew = false;
            this.#log.warn({ err: error, slot: free.index }, 'could not grow the room onto another worker');
          },
        )
        .finally(() => (this.#growing = undefined));
      await this.#growing;
      if (!grew) return;
    }
  }

  /** Places a peer now: the fullest router that still has room, else the least crowded. */
  place(peerId: string): Placement {
    if (this.#closed) throw unavailable('the room is closing; retry in a moment');
    const sites = [...this.#sites.values()].filter((s) => !s.router.closed);
    const cap = this.#options.peersPerRouter;
    const open = sites.filter((s) => s.peerIds.size < cap).sort((a, b) => b.peerIds.size - a.peerIds.size || a.slot.load - b.slot.load);
    const site = open[0] ?? sites.sort((a, b) => a.peerIds.size - b.peerIds.size || a.slot.load - b.slot.load)[0];
    // The room's workers died a moment ago; the room closes next and a join then makes a new one.
    if (!site) throw unavailable('the room lost its media worker; retry in a moment');
    site.peerIds.add(peerId);
    const lease: WorkerLease = this.#pool.lease(site.slot);
    let released = false;
    return {
      router: site.router,
      webRtcServer: site.slot.webRtcServer,
      slotIndex: site.slot.index,
      release: () => {
        if (released) return;
        released = true;
        site.peerIds.delete(peerId);
        lease.release();
      },
    };
  }

  /** Takes a new producer into the room: it can be consumed from every router from now on. */
  addProducer(p: RoomProducer): void {
    this.#producers.set(p.producer.id, p);
    if (p.producer.kind === 'video') this.demand.addProducer(p.producer.id, spatialLayers(p.producer));
    p.producer.observer.once('close', () => {
      this.demand.removeProducer(p.producer.id);
      if (this.#producers.get(p.producer.id) === p) this.#producers.delete(p.producer.id);
      // Its pipes close with it (mediasoup closes a pipe's ends together).
      this.#pipes.delete(p.producer.id);
      if (p.imported) {
        this.#imports.delete(p.producer.id);
        p.imported.close();
      }
    });
    if (p.producer.kind === 'audio') void this.#hear(p);
    this.emit('producer', p);
  }

  /** Whether the producer can be consumed here: a local one, or one another node can pipe in. */
  has(producerId: string): boolean {
    return this.#producers.has(producerId) || (this.#importer?.has(producerId) ?? false);
  }

  /**
   * Makes the producer consumable on `router` and counts one user of it there. The returned
   * function gives the use back (once); the last one closes the pipe.
   */
  async route(producerId: string, router: types.Router): Promise<() => void> {
    const known = this.#producers.get(producerId);
    if (known?.imported || (!known && this.#importer?.has(producerId))) return this.#routeImported(producerId, router);
    return this.#routeLocal(this.producer(producerId), router);
  }

  async #routeLocal(p: RoomProducer, router: types.Router): Promise<() => void> {
    const producerId = p.producer.id;
    if (p.router === router) return () => undefined;
    let byRouter = this.#pipes.get(producerId);
    if (!byRouter) this.#pipes.set(producerId, (byRouter = new Map()));
    const pipes = byRouter;
    const forget = (e: Pipe) => {
      if (pipes.get(router.id) === e) pipes.delete(router.id);
    };
    let pipe = pipes.get(router.id);
    if (!pipe) {
      // However the pipe ends (last user gone, producer closed, a router gone), it is forgotten.
      const created: Pipe = { refs: 0, ready: this.#openPipe(p, router, () => forget(created)) };
      pipes.set(router.id, created);
      pipe = created;
    }
    const entry = pipe;
    entry.refs++;
    let given = false;
    const giveBack = () => {
      if (given) return;
      given = true;
      if (--entry.refs > 0) return;
      forget(entry);
      entry.ready.then((pipeConsumer) => pipeConsumer.close(), () => undefined);
    };
    try {
      await entry.ready;
    } catch (error) {
      forget(entry);
      giveBack();
      throw error;
    }
    return giveBack;
  }

  /** Imports a producer of another node (once, for every local viewer) and routes it on. */
  async #routeImported(producerId: string, router: types.Router): Promise<() => void> {
    const importer = this.#importer!;
    let entry = this.#imports.get(producerId);
    if (!entry) {
      const ready = importer.open(producerId, router).then((imported) => {
        if (this.#closed || imported.producer.closed) {
          imported.close();
          throw invalidState('producer is gone');
        }
        this.addProducer({ producer: imported.producer, peerId: imported.peerId, source: imported.source, router, imported });
        return imported;
      });
      entry = { refs: 0, ready };
      this.#imports.set(producerId, entry);
    }
    const held = entry;
    held.refs++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--held.refs > 0) return;
      if (this.#imports.get(producerId) === held) this.#imports.delete(producerId);
      held.ready.then((imported) => imported.producer.close(), () => undefined);
    };
    try {
      await held.ready;
    } catch (error) {
      if (this.#imports.get(producerId) === held) this.#imports.delete(producerId);
      release();
      throw error;
    }
    let giveBack: () => void;
    try {
      giveBack = await this.#routeLocal(this.producer(producerId), router);
    } catch (error) {
      release();
      throw error;
    }
    return () => {
      giveBack();
      release();
    };
  }

  async #openPipe(p: RoomProducer, target: types.Router, onGone: () => void): Promise<types.Consumer> {
    const t0 = performance.now();
    const { pipeConsumer, pipeProducer } = await p.router.pipeToRouter({ producerId: p.producer.id, router: target });
    if (!pipeConsumer || !pipeProducer) throw new Error('pipeToRouter gave no pipe');
    pipeProducer.observer.once('close', onGone);
    if (pipeProducer.closed) onGone();
    this.#log.debug({ producer: p.producer.id, ms: Math.round(performance.now() - t0) }, 'producer piped');
    return pipeConsumer;
  }

  async #addSite(slot: WorkerSlot | undefined): Promise<Site> {
    if (!slot) throw unavailable('no mediasoup worker is available');
    const { router } = await this.#pool.createRouter({ roomId: this.#options.roomId }, slot);
    if (this.#closed) {
      router.close();
      throw invalidState('room is closing');
    }
    const site: Site = { router, slot, peerIds: new Set() };
    this.#sites.set(slot.index, site);
    router.observer.once('close', () => this.#onRouterClose(site));
    this.#log.info({ slot: slot.index, routers: this.#sites.size }, 'room router opened');
    return site;
  }

  #hasRoom(): boolean {
    for (const s of this.#sites.values()) if (!s.router.closed && s.peerIds.size < this.#options.peersPerRouter) return true;
    return false;
  }

  #onRouterClose(site: Site): void {
    if (this.#sites.get(site.slot.index) === site) this.#sites.delete(site.slot.index);
    if (this.#closed) return;
    this.#log.warn({ slot: site.slot.index, peers: site.peerIds.size }, 'room router closed under the room');
    if (this.#sites.size === 0) {
      this.emit('close');
      this.close();
      return;
    }
    this.emit('routerclose', [...site.peerIds]);
    if (this.#speaker?.site === site) {
      this.#speaker = undefined;
      void this.#rebuildSpeaker();
    }
  }

  async #startSpeaker(site: Site): Promise<void> {
    const observer = await site.router.createActiveSpeakerObserver({ interval: 300 });
    this.#speaker = { observer, site };
    observer.on('dominantspeaker', ({ producer }) => {
      this.emit('dominantspeaker', this.#producers.get(producer.id)?.peerId ?? null);
    });
  }

  async #rebuildSpeaker(): Promise<void> {
    const site = this.#sites.values().next().value;
    if (!site || this.#closed) return;
    try {
      await this.#startSpeaker(site);
      for (const p of this.#producers.values()) if (p.producer.kind === 'audio') void this.#hear(p);
    } catch (error) {
      this.#log.warn({ err: error }, 'active speaker observer could not be rebuilt');
    }
  }

  /** Lets the observer hear an audio producer, piping it to the speaker router if need be. */
  async #hear(p: RoomProducer): Promise<void> {
    const speaker = this.#speaker;
    if (!speaker) return;
    try {
      // The pipe is held for as long as the producer lives; it closes with the producer. An
      // imported one is heard while local viewers keep it here, and not kept here for that.
      if (p.router !== speaker.site.router) await this.#routeLocal(p, speaker.site.router);
      if (!p.producer.closed && !speaker.observer.closed) await speaker.observer.addProducer({ producerId: p.producer.id });
    } catch (error) {
      if (!p.producer.closed) this.#log.warn({ err: error, producer: p.producer.id }, 'active speaker observer refused producer');
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const site of this.#sites.values()) site.router.close();
    this.#sites.clear();
    this.#producers.clear();
    this.#pipes.clear();
    for (const entry of this.#imports.values()) entry.ready.then((imported) => imported.close(), () => undefined);
    this.#imports.clear();
    this.demand.close();
    this.removeAllListeners();
  }
}

/** Spatial layers a producer sends: one per simulcast encoding, or those of its SVC mode. */
function spatialLayers(producer: types.Producer): number {
  const encodings = producer.rtpParameters.encodings ?? [];
  if (encodings.length > 1) return encodings.length;
  return parseScalabilityMode(encodings[0]?.scalabilityMode).spatialLayers;
}
