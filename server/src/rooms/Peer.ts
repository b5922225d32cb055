/**
 * A participant: owns its WebRTC transports, producers and consumers. Closing the peer
 * closes its transports, which closes every producer and consumer on them; each child
 * reports its own close so the maps never hold a closed object.
 */
import type { types } from 'mediasoup';
import type { ProducerInfo, ServerEventName, ServerEventPayload } from '../../../protocol/index.js';
import { forbidden, invalidState, notFound } from '../errors.js';
import { WEBRTC_TRANSPORT_OPTIONS } from '../media/transportOptions.js';

export type Notify = <E extends ServerEventName>(event: E, payload: ServerEventPayload<E>) => void;

export type Source = ProducerInfo['source'];
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

export class Peer {
  readonly id: string;
  displayName: string;
  readonly joinedAt = Date.now();
  readonly #notify: Notify;
  readonly #limits: PeerLimits;
  readonly #transports = new Map<string, { transport: types.WebRtcTransport; direction: Direction }>();
  readonly #producers = new Map<string, PeerProducer>();
  readonly #consumers = new Map<string, types.Consumer>();
  #closed = false;
  /** Events held back until the peer's own join answer has been sent. */
  #held: (() => void)[] | undefined = [];

  constructor(id: string, displayName: string, notify: Notify, limits: PeerLimits) {
    this.id = id;
    this.displayName = displayName;
    this.#notify = notify;
    this.#limits = limits;
  }

  get closed(): boolean {
    return this.#closed;
  }

  notify: Notify = (event, payload) => {
    if (this.#closed) return;
    if (this.#held) this.#held.push(() => this.#notify(event, payload));
    else this.#notify(event, payload);
  };

  /** Sends the events held since the peer was created; later ones go out at once. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const send of held) if (!this.#closed) send();
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

  producerInfo(p: PeerProducer): ProducerInfo {
    return { producerId: p.producer.id, peerId: this.id, kind: p.producer.kind, source: p.source, paused: p.producer.paused };
  }

  async createTransport(
    router: types.Router,
    webRtcServer: types.WebRtcServer,
    direction: Direction,
  ): Promise<types.WebRtcTransport> {
    this.#assertOpen();
    if (this.#transports.size >= this.#limits.maxTransports) {
      throw forbidden(`at most ${this.#limits.maxTransports} transports per peer`);
    }
    const transport = await router.createWebRtcTransport({
      webRtcServer,
      ...WEBRTC_TRANSPORT_OPTIONS,
      appData: { peerId: this.id, direction },
    });
    // The peer may have closed while the worker was creating the transport.
    if (this.#closed) {
      transport.close();
      throw invalidState('peer left');
    }
    this.#transports.set(transport.id, { transport, direction });
    transport.observer.once('close', () => this.#transports.delete(transport.id));
    return transport;
  }

  transport(id: string, direction?: Direction): types.WebRtcTransport {
    const entry = this.#transports.get(id);
    if (!entry) throw notFound('transport', id);
    if (direction && entry.direction !== direction) {
      throw invalidState(`transport ${id} is a ${entry.direction} transport`);
    }
    return entry.transport;
  }

  closeTransport(id: string): void {
    this.transport(id).close();
  }

  producer(id: string): PeerProducer {
    const p = this.#producers.get(id);
    if (!p) throw notFound('producer', id);
    return p;
  }

  consumer(id: string): types.Consumer {
    const c = this.#consumers.get(id);
    if (!c) throw notFound('consumer', id);
    return c;
  }

  async produce(
    transportId: string,
    options: { kind: types.MediaKind; rtpParameters: types.RtpParameters; source: Source; paused: boolean },
  ): Promise<PeerProducer> {
    const transport = this.transport(transportId, 'send');
    if (this.#producers.size >= this.#limits.maxProducers) {
      throw forbidden(`at most ${this.#limits.maxProducers} producers per peer`);
    }
    for (const p of this.#producers.values()) {
      if (p.source === options.source && p.producer.kind === options.kind) {
        throw invalidState(`a ${options.source} ${options.kind} producer already exists`);
      }
    }
    const producer = await transport.produce({
      kind: options.kind,
      rtpParameters: options.rtpParameters,
      paused: options.paused,
      ...(options.kind === 'video' ? { keyFrameRequestDelay: this.#limits.keyFrameRequestDelayMs } : {}),
      appData: { peerId: this.id, source: options.source },
    });
    if (this.#closed) {
      producer.close();
      throw invalidState('peer left');
    }
    const entry = { producer, source: options.source };
    this.#producers.set(producer.id, entry);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    return entry;
  }

  async consume(
    transportId: string,
    producer: types.Producer,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer> {
    const transport = this.transport(transportId, 'recv');
    if (this.#consumers.size >= this.#limits.maxConsumers) {
      throw forbidden(`at most ${this.#limits.maxConsumers} consumers per peer`);
    }
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      appData: { peerId: this.id },
    });
    if (this.#closed) {
      consumer.close();
      throw invalidState('peer left');
    }
    this.#consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => this.#consumers.delete(consumer.id));
    // The consumer went away without the client asking (its producer or its transport
    // closed): tell the client, which still holds its side of it.
    const closed = () => this.notify('consumer:closed', { consumerId: consumer.id, producerId: producer.id });
    consumer.on('producerclose', closed);
    consumer.on('transportclose', closed);
    return consumer;
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
  }
}
