/**
 * A participant: owns its WebRTC transports, producers and consumers, all on the router the
 * room placed it on. Closing the peer closes its transports, which closes every producer
 * and consumer on them; each child reports its own close so the maps never hold a closed
 * object. Requests reach it by id and get protocol data back: no mediasoup object leaves
 * the room.
 */
import type { types } from 'mediasoup';
import {
  ICE_RESTART_LIMIT,
  type ConsumeData,
  type ProducerInfo,
  type ServerEventName,
  type ServerEventPayload,
  type TransportData,
} from '../../../protocol/index.js';
import { AppError, forbidden, invalidState, notFound } from '../errors.js';
import { mediaCall } from '../media/mediaErrors.js';
import type { Placement, RoomMedia, Source } from '../media/RoomMedia.js';
import { WEBRTC_TRANSPORT_OPTIONS } from '../media/transportOptions.js';
import { RateLimiter } from './RateLimiter.js';

export type Notify = <E extends ServerEventName>(event: E, payload: ServerEventPayload<E>) => void;

export type { Source };
export type Direction = 'send' | 'recv';

export interface PeerLimits {
  maxProducers: number;
  maxTransports: number;
  maxConsumers: number;
  /** Viewers' keyframe requests reach a video publisher at most once per this interval. */
  keyFrameRequestDelayMs: number;
}

export interface PeerProducer {
  producer: types.Producer;
  source: Source;
}

export interface ProduceOptions {
  kind: types.MediaKind;
  rtpParameters: types.RtpParameters;
  source: Source;
  paused: boolean;
}

interface PeerTransport {
  transport: types.WebRtcTransport;
  direction: Direction;
  /** ICE restarts are cheap for the client to ask and cost the worker a new ICE session each. */
  iceRestarts: RateLimiter;
}

export class Peer {
  readonly id: string;
  displayName: string;
  readonly joinedAt = Date.now();
  readonly #notify: Notify;
  readonly #limits: PeerLimits;
  readonly #placement: Placement;
  readonly #media: RoomMedia;
  readonly #transports = new Map<string, PeerTransport>();
  readonly #producers = new Map<string, PeerProducer>();
  readonly #consumers = new Map<string, types.Consumer>();
  readonly #onClose: (() => void)[] = [];
  /**
   * Places taken by requests still waiting on the worker. Every limit counts them, and they
   * are taken before the first await: a client that sends many requests without waiting for
   * answers meets the same limits as one that waits.
   */
  readonly #pending = { transports: 0, producers: 0, consumers: 0 };
  /** `source:kind` of producers, made or being made: one of each per peer. */
  readonly #producerSlots = new Set<string>();
  /** `transportId:producerId` of consumers, made or being made: each producer once per transport. */
  readonly #consumed = new Set<string>();
  #closed = false;

  constructor(o: {
    id: string;
    displayName: string;
    notify: Notify;
    limits: PeerLimits;
    placement: Placement;
    media: RoomMedia;
  }) {
    this.id = o.id;
    this.displayName = o.displayName;
    this.#notify = o.notify;
    this.#limits = o.limits;
    this.#placement = o.placement;
    this.#media = o.media;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The worker slot this peer's media runs on. */
  get slotIndex(): number {
    return this.#placement.slotIndex;
  }

  notify: Notify = (event, payload) => {
    if (!this.#closed) this.#notify(event, payload);
  };

  /** Runs `fn` once, when the peer closes. */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  get producers(): ReadonlyMap<string, PeerProducer> {
    return this.#producers;
  }
  get consumers(): ReadonlyMap<string, types.Consumer> {
    return this.#consumers;
  }
  get transportCount(): number {
    return this.#transports.size;
  }
  /** The peer's WebRTC transports, for reading (e.g. which path their media takes). */
  get transports(): types.WebRtcTransport[] {
    return [...this.#transports.values()].map((t) => t.transport);
  }

  producerInfo(p: PeerProducer): ProducerInfo {
    return { producerId: p.producer.id, peerId: this.id, kind: p.producer.kind, source: p.source, paused: p.producer.paused };
  }

  async createTransport(direction: Direction): Promise<TransportData> {
    this.#assertOpen();
    if (this.#transports.size + this.#pending.transports >= this.#limits.maxTransports) {
      throw forbidden(`at most ${this.#limits.maxTransports} transports per peer`, 'limit');
    }
    this.#pending.transports++;
    let transport: types.WebRtcTransport;
    try {
      transport = await mediaCall(() =>
        this.#placement.router.createWebRtcTransport({
          webRtcServer: this.#placement.webRtcServer,
          ...WEBRTC_TRANSPORT_OPTIONS,
          appData: { peerId: this.id, direction },
        }),
      );
    } finally {
      this.#pending.transports--;
    }
    // The peer may have closed while the worker was creating the transport.
    if (this.#closed) {
      transport.close();
      throw invalidState('peer left');
    }
    const { burst, refillMs } = ICE_RESTART_LIMIT;
    this.#transports.set(transport.id, { transport, direction, iceRestarts: new RateLimiter(burst, burst * refillMs) });
    transport.observer.once('close', () => this.#transports.delete(transport.id));
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  async connectTransport(id: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.#transport(id);
    await mediaCall(() => transport.connect({ dtlsParameters }));
  }

  async restartIce(id: string): Promise<types.IceParameters> {
    const { transport, iceRestarts } = this.#transportEntry(id);
    if (!iceRestarts.tryTake()) {
      const { burst, refillMs } = ICE_RESTART_LIMIT;
      throw new AppError('RATE_LIMITED', `at most ${burst} ICE restarts of a transport at once, then one per ${refillMs / 1000} s`, {
        retryAfterMs: iceRestarts.retryAfterMs(),
      });
    }
    return mediaCall(() => transport.restartIce());
  }

  closeTransport(id: string): void {
    this.#transport(id).close();
  }

  #transport(id: string, direction?: Direction): types.WebRtcTransport {
    return this.#transportEntry(id, direction).transport;
  }

  #transportEntry(id: string, direction?: Direction): PeerTransport {
    const entry = this.#transports.get(id);
    if (!entry) throw notFound('transport', id);
    if (direction && entry.direction !== direction) {
      throw invalidState(`transport ${id} is a ${entry.direction} transport`);
    }
    return entry;
  }

  producer(id: string): PeerProducer {
    const p = this.#producers.get(id);
    if (!p) throw notFound('producer', id);
    return p;
  }

  async pauseProducer(id: string): Promise<void> {
    const { producer } = this.producer(id);
    await mediaCall(() => producer.pause());
  }

  async resumeProducer(id: string): Promise<void> {
    const { producer } = this.producer(id);
    await mediaCall(() => producer.resume());
  }

  closeProducer(id: string): void {
    this.producer(id).producer.close();
  }

  #consumer(id: string): types.Consumer {
    const c = this.#consumers.get(id);
    if (!c) throw notFound('consumer', id);
    return c;
  }

  async pauseConsumer(id: string): Promise<void> {
    const consumer = this.#consumer(id);
    await mediaCall(() => consumer.pause());
    this.#media.demand.setPaused(consumer.producerId, consumer.id, true);
  }

  async resumeConsumer(id: string): Promise<void> {
    const consumer = this.#consumer(id);
    // mediasoup asks the publisher for a keyframe on resume (or once the transport connects):
    // asking again here would only send a second PLI, or wait out the keyframe guard.
    await mediaCall(() => consumer.resume());
    this.#media.demand.setPaused(consumer.producerId, consumer.id, false);
  }

  closeConsumer(id: string): void {
    this.#consumer(id).close();
  }

  async setPreferredLayers(id: string, layers: types.ConsumerLayers): Promise<void> {
    const consumer = this.#consumer(id);
    await mediaCall(() => consumer.setPreferredLayers(layers));
    this.#media.demand.setLayer(consumer.producerId, consumer.id, layers.spatialLayer);
  }

  /** Creates a producer on one of the peer's send transports; the room announces it. */
  async produce(transportId: string, options: ProduceOptions): Promise<PeerProducer> {
    const transport = this.#transport(transportId, 'send');
    if (this.#producers.size + this.#pending.producers >= this.#limits.maxProducers) {
      throw forbidden(`at most ${this.#limits.maxProducers} producers per peer`, 'limit');
    }
    const slot = `${options.source}:${options.kind}`;
    if (this.#producerSlots.has(slot)) throw invalidState(`a ${options.source} ${options.kind} producer already exists`);
    this.#producerSlots.add(slot);
    this.#pending.producers++;
    let producer: types.Producer;
    try {
      producer = await mediaCall(() =>
        transport.produce({
          kind: options.kind,
          rtpParameters: options.rtpParameters,
          paused: options.paused,
          ...(options.kind === 'video' ? { keyFrameRequestDelay: this.#limits.keyFrameRequestDelayMs } : {}),
          appData: { peerId: this.id, source: options.source },
        }),
      );
    } catch (error) {
      this.#producerSlots.delete(slot);
      throw error;
    } finally {
      this.#pending.producers--;
    }
    if (this.#closed) {
      producer.close();
      throw invalidState('peer left');
    }
    const entry = { producer, source: options.source };
    this.#producers.set(producer.id, entry);
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      this.#producerSlots.delete(slot);
    });
    this.#media.addProducer({ producer, peerId: this.id, source: options.source, router: this.#placement.router });
    return entry;
  }

  /**
   * Consumes any producer of the room on one of the peer's receive transports, created
   * paused. A producer on another router of the room (or on another node) is piped here
   * first; the pipe is given back when this consumer closes.
   */
  async consume(transportId: string, producerId: string, rtpCapabilities: types.RtpCapabilities): Promise<ConsumeData> {
    if (!this.#media.has(producerId)) throw notFound('producer', producerId);
    const transport = this.#transport(transportId, 'recv');
    if (this.#consumers.size + this.#pending.consumers >= this.#limits.maxConsumers) {
      throw forbidden(`at most ${this.#limits.maxConsumers} consumers per peer`, 'limit');
    }
    // One consumer of a producer per transport: more would only multiply what the worker
    // sends to this one client.
    const pair = `${transportId}:${producerId}`;
    if (this.#consumed.has(pair)) throw invalidState(`producer ${producerId} is already consumed on transport ${transportId}`);
    this.#consumed.add(pair);
    this.#pending.consumers++;
    const router = this.#placement.router;
    let consumer: types.Consumer;
    let target: { peerId: string; source: Source };
    let giveBack = (): void => {};
    try {
      // A producer of another node is piped in here first (cluster), so it is known after this.
      giveBack = await this.#media.route(producerId, router);
      target = this.#media.producer(producerId);
      if (!router.canConsume({ producerId, rtpCapabilities })) {
        throw new AppError('INVALID_REQUEST', 'rtpCapabilities cannot consume this producer');
      }
      consumer = await mediaCall(() => transport.consume({ producerId, rtpCapabilities, paused: true, appData: { peerId: this.id } }));
    } catch (error) {
      giveBack();
      this.#consumed.delete(pair);
      throw error;
    } finally {
      this.#pending.consumers--;
    }
    consumer.observer.once('close', giveBack);
    consumer.observer.once('close', () => this.#consumed.delete(pair));
    if (this.#closed) {
      consumer.close();
      throw invalidState('peer left');
    }
    this.#consumers.set(consumer.id, consumer);
    this.#media.demand.addViewer(producerId, consumer.id);
    consumer.observer.once('close', () => {
      this.#consumers.delete(consumer.id);
      this.#media.demand.removeViewer(producerId, consumer.id);
    });
    // The consumer went away without the client asking (its producer or its transport
    // closed): tell the client, which still holds its side of it.
    const closed = () => this.notify('consumer:closed', { consumerId: consumer.id, producerId });
    consumer.on('producerclose', closed);
    consumer.on('transportclose', closed);
    consumer.on('score', ({ score }) => this.notify('consumer:score', { consumerId: consumer.id, producerId, score }));
    return {
      consumerId: consumer.id,
      producerId,
      peerId: target.peerId,
      kind: consumer.kind,
      source: target.source,
      // mediasoup and mediasoup-client describe the same wire format with separate types.
      rtpParameters: consumer.rtpParameters as ConsumeData['rtpParameters'],
      type: consumer.type,
      producerPaused: consumer.producerPaused,
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw invalidState('peer left');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { transport } of [...this.#transports.values()]) transport.close();
    this.#transports.clear();
    this.#producers.clear();
    this.#consumers.clear();
    this.#placement.release();
    for (const fn of this.#onClose.splice(0)) fn();
  }
}
