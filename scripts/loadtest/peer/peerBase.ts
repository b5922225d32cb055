/**
 * The part of a load-test participant that does not depend on the WebRTC engine under
 * mediasoup-client: the Socket.IO session, joining, room events, transports and the
 * consumer lifecycle. SyntheticPeer (werift, replayed RTP) and WrtcPeer (libwebrtc, real
 * encoders) add how media is published and how receive counters are read.
 *
 * Times are `performance.now()` values of the process the peer runs in.
 */
import { EventEmitter } from 'node:events';
import { Device } from 'mediasoup-client';
import type * as ms from 'mediasoup-client/types';
import {
  IceRestarter,
  RequestError,
  SERVER_EVENT_SCHEMAS,
  request,
  retryUnavailable,
  type IceRestartEvent,
  type JoinData,
  type ProducerInfo,
  type ResumeData,
} from '../../../protocol/index.js';
import { waitForConsumerMedia, type LoadPeer, type WaitForMediaOptions } from './loadPeer.js';
import { bufferRoomEvents, connectSocket, ROOM_EVENTS, type EarlyEvents, type ProtocolSocket } from './signaling.js';
import type { ReplayerStats } from './replayer.js';
import type { LayerReceiveStats, SimulcastSendStats } from './simulcast.js';
import type { LatencySummary } from './latency.js';

export interface SyntheticPeerOptions {
  url: string;
  roomId: string;
  displayName?: string;
  password?: string;
  /** A join token, for servers that require one (AUTH_SECRET). */
  token?: string;
  /** Default: publish nothing. */
  publish?: { audio?: boolean; video?: boolean; /** What the video is announced as; default `camera`. */ videoSource?: 'camera' | 'screen' };
  /** Default true: consume every existing and every new producer of the room. */
  consume?: boolean;
  /** Socket connect and per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * Default true: restart ICE on a transport that goes disconnected or failed, as the
   * browser client does (see protocol/iceRestart.ts), instead of reporting the peer failed.
   */
  iceRestart?: boolean;
  /**
   * How long after a signaling drop the peer keeps trying to reconnect and resume its
   * session (`room:resume`) before it reports itself failed. Default 15 s; 0: no resume.
   */
  resumeWithinMs?: number;
  /** Video is published as simulcast layers (see simulcast.ts); default one stream. */
  simulcast?: boolean;
  /**
   * Spatial layer (0 = lowest) asked of every simulcast video consumer with
   * consumer:setPreferredLayers; default none asked, so the server sends the best it can.
   */
  preferredLayer?: number;
}

export interface ConsumerStats {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  /** RTP packets and payload bytes received (after SRTP decryption) on this consumer. */
  packets: number;
  bytes: number;
  /** performance.now() of the first packet. */
  firstPacketAt?: number;
  /** performance.now() of the consumer:resume ack. */
  resumedAt?: number;
  /** Packets missing from the sequence-number range seen so far (never negative). */
  lost: number;
  /** NACKs and PLIs this receiver sent to the server. */
  nacksSent: number;
  plisSent: number;
  /**
   * End-to-end latency (send time carried in abs-capture-time → receive) and RFC 3550
   * interarrival jitter, in ms: set by engines that read the RTP (SyntheticPeer).
   */
  latencyMs?: LatencySummary;
  jitterMs?: number;
  /** Video frames decoded: set by engines that decode (WrtcPeer), not by replaying ones. */
  framesDecoded?: number;
  /** Simulcast video consumers: the layer asked for and the one that arrives. */
  layer?: LayerReceiveStats;
  closed: boolean;
}

export interface ProducerStats extends ReplayerStats {
  producerId: string;
  kind: 'audio' | 'video';
  /** Sequence numbers the server asked to retransmit, and its keyframe requests. */
  nacksReceived: number;
  plisReceived: number;
  firsReceived: number;
  /** Simulcast video producers: per-layer sending and dynacast figures. */
  simulcast?: SimulcastSendStats;
}

export type SyntheticPeerEvents = {
  /** The socket went away without close() being called, or a transport failed (without ICE restarts). */
  failed: [Error];
  /** An ICE restart of one of the peer's transports was made, failed, or brought it back. */
  iceRestart: [IceRestartEvent];
  /** The signaling connection dropped and the session was taken back on a new one, after `gapMs`. */
  resumed: [{ gapMs: number }];
  /**
   * The server ended the peer's membership: `room:closed` (with its reason) or `room:kicked`.
   * The peer stays open; what to do (leave, join again) is the owner's call.
   */
  ended: [{ event: 'room:closed' | 'room:kicked'; reason: string }];
  /**
   * The server is shutting down (`server:draining`): the session lasts `remainingMs` more;
   * `otherNodes` other nodes of its cluster are up. The owner may move the peer.
   */
  draining: [{ remainingMs: number; otherNodes: number }];
  /** A non-fatal problem, such as one consumer that could not be created. */
  warning: [Error];
  /**
   * A keyframe request (PLI or FIR) reached one of this peer's producers, as received,
   * before the publisher merges close requests into one keyframe. SyntheticPeer only.
   */
  keyFrameRequest: [KeyFrameEvent & { type: 'pli' | 'fir' }];
  /** The first packet of a keyframe went out on one of this peer's producers. SyntheticPeer only. */
  keyFrameSent: [KeyFrameEvent];
};

export interface KeyFrameEvent {
  producerId: string;
  /** performance.now() in the peer's process. */
  at: number;
}

/** The server named a new active speaker of the room (null: nobody), at epoch ms `at`. */
export interface SpeakerChange {
  at: number;
  peerId: string | null;
}

/** Enough for an hour of a change every 4 s; a longer run keeps its first hour. */
const MAX_SPEAKER_CHANGES = 900;

export interface ConsumerEntry {
  stats: ConsumerStats;
  consumer?: ms.Consumer;
}

export interface ProducerEntry {
  producer: ms.Producer;
  stats: ProducerStats;
}

/** What a subclass constructor passes on; built by PeerBase.joinRoom. */
export interface PeerInit {
  opts: SyntheticPeerOptions;
  socket: ProtocolSocket;
  joinData: JoinData;
  joinSentAt: number;
  joinedAt: number;
  device: ms.Device;
}

export interface PeerEngineSetup<T> {
  /** Called once the room is joined, so that a failing engine still leaves the room. */
  deviceOptions: () => ms.DeviceOptions;
  create: (init: PeerInit) => T;
}

export abstract class PeerBase<P extends ProducerEntry> implements LoadPeer {
  readonly peerId: string;
  readonly joinData: JoinData;
  /** performance.now() when the room:join ack arrived. */
  readonly joinedAt: number;
  /** performance.now() just before room:join was sent. */
  readonly joinSentAt: number;
  readonly events = new EventEmitter<SyntheticPeerEvents>();
  /** `activeSpeaker` events, as they came: the speaker simulation's detection figures. */
  readonly speakerChanges: SpeakerChange[] = [];

  protected readonly opts: SyntheticPeerOptions;
  protected readonly timeout: number;
  protected readonly device: ms.Device;
  protected readonly consumers = new Map<string, ConsumerEntry>();
  protected readonly producers = new Map<string, P>();
  /** Remote producers known to exist, so a close racing a consume is not missed. */
  readonly #remoteProducers = new Map<string, ProducerInfo>();
  /** Producers consumed or being consumed: the join list and producer:new may overlap. */
  readonly #consumedProducers = new Set<string>();
  #sendTransport?: ms.Transport;
  #recvTransport?: Promise<ms.Transport>;
  #recvConnectedAt?: number;
  #socket: ProtocolSocket;
  /** From the join answer, then from each resume answer. */
  #resumeToken: string;
  #resumes = 0;
  #closed = false;

  protected constructor(init: PeerInit) {
    this.opts = init.opts;
    this.timeout = init.opts.requestTimeoutMs ?? 10_000;
    this.#socket = init.socket;
    this.#resumeToken = init.joinData.resumeToken;
    this.joinData = init.joinData;
    this.peerId = init.joinData.peerId;
    this.joinSentAt = init.joinSentAt;
    this.joinedAt = init.joinedAt;
    this.device = init.device;
  }

  /**
   * Connects (WebSocket transport only), joins the room, starts the engine's media and
   * consumes. Resolves once publishing has started and every producer present at join
   * time is being consumed; media may still be on its way (see waitForMedia).
   */
  protected static async joinRoom<T extends PeerBase<ProducerEntry>>(
    opts: SyntheticPeerOptions,
    engine: PeerEngineSetup<T>,
  ): Promise<T> {
    const timeout = opts.requestTimeoutMs ?? 10_000;
    const socket = await connectSocket(opts.url, timeout);
    // Room events can follow the join ack before the peer is ready to act on them.
    const early = bufferRoomEvents(socket);
    let peer: T | undefined;
    try {
      const joinSentAt = performance.now();
      // A server replacing its media worker asks to retry in a moment.
      const joinData = await retryUnavailable(() =>
        request(
          socket,
          'room:join',
          {
            roomId: opts.roomId,
            ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
            ...(opts.password !== undefined ? { password: opts.password } : {}),
            ...(opts.token !== undefined ? { token: opts.token } : {}),
          },
          timeout,
        ),
      );
      const joinedAt = performance.now();
      const device = new Device(engine.deviceOptions());
      await device.load({ routerRtpCapabilities: joinData.rtpCapabilities });
      const created = engine.create({ opts, socket, joinData, joinSentAt, joinedAt, device });
      peer = created;
      const consuming = opts.consume ?? true;
      if (consuming) for (const p of joinData.producers) created.#remoteProducers.set(p.producerId, p);
      created.#listen(early);
      await created.startMedia();
      if (consuming) await Promise.all([...created.#remoteProducers.values()].map((p) => created.#consume(p)));
      return created;
    } catch (error) {
      early.stop();
      if (peer) await peer.close();
      else socket.disconnect();
      throw error;
    }
  }

  /** Publishes what `opts.publish` asks for; room events are already being handled. */
  protected abstract startMedia(): Promise<void>;

  /** Stops one of this peer's producers and whatever feeds it. */
  protected abstract stopProducer(entry: P): void;

  /** The consumer exists but is not resumed yet: the moment to hook its receive path. */
  protected consumerCreated(_entry: ConsumerEntry, _consumer: ms.Consumer): void {}

  /**
   * Dynacast: the server says which simulcast layers of one of this peer's producers anyone
   * watches (the highest index, null for none). The event may come before produce() resolves.
   */
  protected producerDemand(_producerId: string, _maxSpatialLayer: number | null): void {}

  /** consumer:resume was acknowledged: media is about to flow. */
  protected consumerResumed(_entry: ConsumerEntry): void {}

  protected iceServers(): RTCIceServer[] {
    return this.joinData.iceServers as RTCIceServer[];
  }

  protected get sendTransport(): ms.Transport | undefined {
    return this.#sendTransport;
  }

  protected get recvTransport(): Promise<ms.Transport> | undefined {
    return this.#recvTransport;
  }

  /** The signaling connection now; a resumed session is on a new one. */
  get socket(): ProtocolSocket {
    return this.#socket;
  }

  /** Times the session was resumed after a signaling drop. */
  get resumes(): number {
    return this.#resumes;
  }

  producerIds(): string[] {
    return [...this.producers.keys()];
  }

  consumerStats(): ConsumerStats[] {
    return [...this.consumers.values()].map((e) => ({ ...e.stats }));
  }

  producerStats(): ProducerStats[] {
    return [...this.producers.values()].map((e) => ({ ...e.stats }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * performance.now() when the receive transport first reported `connected`: the server's
   * video consumers can ask for a keyframe only from about then (and after their resume).
   */
  get recvConnectedAt(): number | undefined {
    return this.#recvConnectedAt;
  }

  /**
   * Resolves once at least `consumers` consumers have each received `minPackets` packets;
   * rejects after `timeoutMs` with what was received so far.
   */
  waitForMedia(opts: WaitForMediaOptions): Promise<void> {
    return waitForConsumerMedia(this, opts);
  }

  /** Stops media, closes producers, consumers, transports and the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.producers.values()) this.stopProducer(p);
    for (const c of this.consumers.values()) {
      c.consumer?.close();
      c.stats.closed = true;
    }
    this.#sendTransport?.close();
    const recv = await this.#recvTransport?.catch(() => undefined);
    recv?.close();
    this.#socket.disconnect();
  }

  /**
   * Produces `track` with the router's Opus or VP8 codec on the send transport, which is
   * created on first use.
   */
  protected async produce(
    kind: 'audio' | 'video',
    options: Omit<ms.ProducerOptions, 'codec'> & { track: MediaStreamTrack },
  ): Promise<ms.Producer> {
    this.#sendTransport ??= await this.#createTransport('send');
    const mime = kind === 'audio' ? 'audio/opus' : 'video/vp8';
    const codec = this.device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === mime);
    if (!codec || !this.device.canProduce(kind)) throw new Error(`cannot produce ${mime} with this router`);
    return this.#sendTransport.produce({ ...options, codec });
  }

  /**
   * Takes over the room events from the join-time buffer: those that arrived between the
   * room:join ack and now are handled first, in order, then live ones.
   */
  #listen(early: EarlyEvents): void {
    early.stop();
    this.#attach(this.#socket);
    for (const [name, payload] of early.events) this.#dispatch(name, payload);
  }

  /** Room events from `socket`, and what to do when it drops. */
  #attach(socket: ProtocolSocket): void {
    const raw = socket as unknown as EventEmitter;
    // Registered untyped: the payload is network input and is parsed before use.
    for (const name of ROOM_EVENTS) raw.on(name, (payload: unknown) => this.#dispatch(name, payload));
    socket.on('disconnect', (reason) => {
      if (this.#closed || socket !== this.#socket) return;
      const resumeWithinMs = this.opts.resumeWithinMs ?? 15_000;
      if (reason === 'io client disconnect' || resumeWithinMs <= 0) return this.#fail(`socket disconnected: ${reason}`);
      void this.#resumeAfterDrop(reason, resumeWithinMs);
    });
  }

  #dispatch(name: (typeof ROOM_EVENTS)[number], raw: unknown): void {
    const parsed = SERVER_EVENT_SCHEMAS[name].safeParse(raw);
    if (!parsed.success) {
      this.events.emit('warning', new Error(`malformed ${name} event: ${parsed.error.message}`));
      return;
    }
    const consuming = this.opts.consume ?? true;
    switch (name) {
      case 'producer:new': {
        const ev = parsed.data as ProducerInfo;
        if (!consuming || ev.peerId === this.peerId) return;
        this.#remoteProducers.set(ev.producerId, ev);
        void this.#consume(ev);
        return;
      }
      case 'producer:closed': {
        const { producerId } = parsed.data as { producerId: string };
        this.#remoteProducers.delete(producerId);
        for (const entry of this.consumers.values()) {
          if (entry.stats.producerId === producerId) this.#closeConsumer(entry);
        }
        return;
      }
      case 'consumer:closed': {
        const entry = this.consumers.get((parsed.data as { consumerId: string }).consumerId);
        if (entry) this.#closeConsumer(entry);
        return;
      }
      case 'room:closed':
        this.events.emit('ended', { event: name, reason: (parsed.data as { reason: string }).reason });
        return;
      case 'room:kicked':
        this.events.emit('ended', { event: name, reason: `may rejoin after ${(parsed.data as { retryAfterS: number }).retryAfterS} s` });
        return;
      case 'server:draining': {
        const { remainingMs, otherNodes } = parsed.data as { remainingMs: number; otherNodes: number };
        this.events.emit('draining', { remainingMs, otherNodes });
        return;
      }
      case 'producer:demand': {
        const { producerId, maxSpatialLayer } = parsed.data as { producerId: string; maxSpatialLayer: number | null };
        this.producerDemand(producerId, maxSpatialLayer);
        return;
      }
      case 'activeSpeaker':
        if (this.speakerChanges.length < MAX_SPEAKER_CHANGES) {
          this.speakerChanges.push({ at: Date.now(), peerId: (parsed.data as { peerId: string | null }).peerId });
        }
        return;
    }
  }

  #fail(reason: string): void {
    this.events.emit('failed', new Error(reason));
    void this.close();
  }

  /**
   * The signaling connection dropped: reconnect and take the session back, media and all
   * (it never went through this connection), for up to `withinMs`. A server that no longer
   * holds the session (it restarted, or the window passed) answers NOT_FOUND: failed then.
   */
  async #resumeAfterDrop(reason: string, withinMs: number): Promise<void> {
    const droppedAt = performance.now();
    const deadline = droppedAt + withinMs;
    let last = reason;
    while (!this.#closed && performance.now() < deadline) {
      let socket: ProtocolSocket;
      try {
        socket = await connectSocket(this.opts.url, Math.max(500, Math.min(this.timeout, deadline - performance.now())));
      } catch (error) {
        last = (error as Error).message;
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      const early = bufferRoomEvents(socket);
      try {
        const data = await request(socket, 'room:resume', { token: this.#resumeToken }, this.timeout);
        early.stop();
        if (this.#closed) {
          socket.disconnect();
          return;
        }
        this.#socket = socket;
        this.#resumeToken = data.resumeToken;
        this.#resumes++;
        this.#attach(socket);
        this.#reconcile(data);
        for (const [name, payload] of early.events) this.#dispatch(name, payload);
        this.events.emit('resumed', { gapMs: performance.now() - droppedAt });
        return;
      } catch (error) {
        early.stop();
        socket.disconnect();
        last = (error as Error).message;
        // Only a lost answer is worth another connection; the server's refusal is final.
        if (!(error instanceof RequestError && error.code === 'TIMEOUT')) break;
      }
    }
    if (!this.#closed) this.#fail(`socket disconnected: ${reason}; session not resumed: ${last}`);
  }

  /** After a resume: the room's producers and this peer's consumers as the server has them now. */
  #reconcile(data: ResumeData): void {
    const producers = new Map(data.producers.map((p) => [p.producerId, p]));
    const onServer = new Set(data.consumers.map((c) => c.consumerId));
    for (const id of [...this.#remoteProducers.keys()]) if (!producers.has(id)) this.#remoteProducers.delete(id);
    for (const entry of this.consumers.values()) {
      if (entry.stats.closed) continue;
      if (!onServer.has(entry.stats.consumerId) || !producers.has(entry.stats.producerId)) {
        this.#closeConsumer(entry);
        this.#consumedProducers.delete(entry.stats.producerId);
      }
    }
    // Consumers whose creation answer the drop swallowed: nobody here uses them.
    for (const { consumerId } of data.consumers) {
      const entry = this.consumers.get(consumerId);
      if (!entry || entry.stats.closed) void request(this.#socket, 'consumer:close', { consumerId }, this.timeout).catch(() => undefined);
    }
    if (!(this.opts.consume ?? true)) return;
    for (const p of data.producers) {
      if (p.peerId === this.peerId) continue;
      this.#remoteProducers.set(p.producerId, p);
      if (!this.#consumedProducers.has(p.producerId)) void this.#consume(p);
    }
  }

  /** Stops receiving one producer: the server closes the consumer. */
  async closeConsumer(consumerId: string): Promise<void> {
    const entry = this.consumers.get(consumerId);
    if (!entry) throw new Error(`no consumer ${consumerId}`);
    await request(this.socket, 'consumer:close', { consumerId }, this.timeout);
    this.#closeConsumer(entry);
    this.#consumedProducers.delete(entry.stats.producerId);
  }

  /** Receives a producer of the room that this peer is not consuming now (e.g. after closeConsumer). */
  async consume(producerId: string): Promise<void> {
    const info = this.#remoteProducers.get(producerId);
    if (!info) throw new Error(`no producer ${producerId} in the room`);
    await this.#consume(info);
  }

  #closeConsumer(entry: ConsumerEntry): void {
    entry.stats.closed = true;
    entry.consumer?.close();
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<ms.Transport> {
    const data = await request(this.socket, 'transport:create', { direction }, this.timeout);
    const options: ms.TransportOptions = {
      id: data.id,
      iceParameters: data.iceParameters,
      iceCandidates: data.iceCandidates,
      dtlsParameters: data.dtlsParameters,
      iceServers: this.iceServers(),
    };
    const transport =
      direction === 'send' ? this.device.createSendTransport(options) : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      request(this.socket, 'transport:connect', { transportId: transport.id, dtlsParameters }, this.timeout).then(
        () => callback(),
        errback,
      );
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
        request(
          this.socket,
          'producer:create',
          { transportId: transport.id, kind, rtpParameters, source: kind === 'audio' ? 'mic' : (this.opts.publish?.videoSource ?? 'camera') },
          this.timeout,
        ).then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    const restarting = this.opts.iceRestart ?? true;
    transport.on('connectionstatechange', (state) => {
      if (state === 'connected' && direction === 'recv') this.#recvConnectedAt ??= performance.now();
      if (state === 'failed' && !this.#closed && !restarting) {
        this.events.emit('failed', new Error(`${direction} transport ${transport.id}: connection failed`));
      }
    });
    if (restarting) {
      new IceRestarter(transport, {
        request: async (transportId) =>
          (await request(this.socket, 'transport:restartIce', { transportId }, this.timeout)).iceParameters,
        canSignal: () => this.socket.connected && !this.#closed,
        onEvent: (event) => {
          if (this.#closed) return;
          this.events.emit('iceRestart', event);
          if (event.type === 'restartfailed') {
            this.events.emit('warning', new Error(`${direction} transport ICE restart ${event.attempt} failed: ${String(event.error)}`));
          }
        },
      });
    }
    return transport;
  }

  #recv(): Promise<ms.Transport> {
    this.#recvTransport ??= this.#createTransport('recv');
    return this.#recvTransport;
  }

  async #consume(info: ProducerInfo): Promise<void> {
    if (this.#closed || info.peerId === this.peerId || this.#consumedProducers.has(info.producerId)) return;
    this.#consumedProducers.add(info.producerId);
    let entry: ConsumerEntry | undefined;
    try {
      const transport = await this.#recv();
      const data = await request(
        this.socket,
        'consumer:create',
        { transportId: transport.id, producerId: info.producerId, rtpCapabilities: this.device.rtpCapabilities },
        this.timeout,
      );
      entry = {
        stats: {
          consumerId: data.consumerId,
          producerId: data.producerId,
          peerId: data.peerId ?? info.peerId,
          kind: data.kind,
          packets: 0,
          bytes: 0,
          lost: 0,
          nacksSent: 0,
          plisSent: 0,
          closed: false,
        },
      };
      const created = entry;
      this.consumers.set(data.consumerId, created);
      const consumer = await transport.consume({
        id: data.consumerId,
        producerId: data.producerId,
        kind: data.kind,
        rtpParameters: data.rtpParameters,
      });
      created.consumer = consumer;
      this.consumerCreated(created, consumer);
      // The server may have closed it while mediasoup-client was setting it up.
      if (created.stats.closed || this.#closed || !this.#remoteProducers.has(info.producerId)) {
        this.#closeConsumer(created);
        return;
      }
      await request(this.socket, 'consumer:resume', { consumerId: data.consumerId }, this.timeout);
      created.stats.resumedAt = performance.now();
      this.consumerResumed(created);
    } catch (error) {
      if (this.#closed) return;
      // Half made (e.g. the connection dropped between two requests): gone here, and a
      // later producer:new or resume may consume the producer afresh.
      if (entry) this.#closeConsumer(entry);
      this.#consumedProducers.delete(info.producerId);
      this.events.emit('warning', new Error(`consume ${info.kind} of ${info.peerId}: ${(error as Error).message}`, { cause: error }));
    }
  }
}
