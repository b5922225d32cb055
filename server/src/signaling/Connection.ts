/**
 * One Socket.IO connection: its place in a room (at most one peer at a time) and one
 * handler per protocol request. A disconnect leaves the room, which closes the peer and
 * everything it owns.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io';
import type { types } from 'mediasoup';
import type { z } from 'zod/mini';
import type { Config } from '../../../config/index.js';
import {
  ChatSendRequest,
  ConnectTransportRequest,
  ConsumeRequest,
  ConsumerRequest,
  CreateTransportRequest,
  Empty,
  JoinRequest,
  PreferredLayersRequest,
  ProduceRequest,
  ProducerRequest,
  RenameRequest,
  RestartIceRequest,
  type ClientToServerEvents,
  type ConsumeData,
  type EmptyData,
  type JoinData,
  type RequestName,
  type ServerToClientEvents,
  type TransportData,
} from '../../../protocol/index.js';
import { AppError, invalidState } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../http/metrics.js';
import { anonymousName } from '../rooms/names.js';
import { Peer } from '../rooms/Peer.js';
import { RateLimiter } from '../rooms/RateLimiter.js';
import { chatText, type Room } from '../rooms/Room.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { AfterAck, ackOf, sendAck, wrap, type Handler } from './handle.js';

export type NoomSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface ConnectionDeps {
  rooms: RoomRegistry;
  config: Config;
  metrics: Metrics;
  log: Logger;
}

const EMPTY: EmptyData = {};

export class Connection {
  readonly #socket: NoomSocket;
  readonly #deps: ConnectionDeps;
  readonly #log: Logger;
  readonly #chatLimiter: RateLimiter;
  #room: Room | undefined;
  #peer: Peer | undefined;
  /** Set while a join is in flight, so a second join or a disconnect can be told apart. */
  #joining = false;
  #closed = false;

  constructor(socket: NoomSocket, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.#log = deps.log.child({ socket: socket.id });
    this.#chatLimiter = new RateLimiter(deps.config.limits.chatPer10s, 10_000);
    this.#register();
    socket.onAny((event: unknown, ...args: unknown[]) => this.#answerUnknown(event, args));
    socket.on('disconnect', (reason) => {
      this.#log.debug({ reason }, 'socket disconnected');
      this.close();
    });
  }

  /** A client that asks for something this server does not know gets an answer, not a hang. */
  #answerUnknown(event: unknown, args: unknown[]): void {
    // Every request name has its handler on the socket; onAny sees those events too.
    if (typeof event === 'string' && this.#socket.listenerCount(event) > 0) return;
    this.#deps.metrics.requests.inc({ event: 'unknown', result: 'error' });
    const name = String(event).slice(0, 64);
    const message = `unknown request "${name}"`;
    sendAck(ackOf(args), { ok: false, error: { code: 'INVALID_REQUEST', message } }, this.#log, name);
  }

  #on<E extends RequestName, S extends z.ZodMiniType, T>(event: E, schema: S, handler: Handler<S, T>): void {
    const observe = (name: string, ok: boolean) =>
      this.#deps.metrics.requests.inc({ event: name, result: ok ? 'ok' : 'error' });
    // Socket.IO's typed `on` cannot take the generic wrapper; the event name is still checked by E.
    (this.#socket.on as (ev: string, fn: (...args: unknown[]) => void) => void)(
      event,
      wrap(event, schema, handler, this.#log, observe),
    );
  }

  /** The peer and room of this connection, or INVALID_STATE if it has not joined. */
  #member(): { peer: Peer; room: Room } {
    const peer = this.#peer;
    const room = this.#room;
    if (!peer || !room || peer.closed || room.closed) throw invalidState('join a room first');
    return { peer, room };
  }

  #register(): void {
    const { rooms, config } = this.#deps;

    this.#on('rooms:list', Empty, () => ({ rooms: rooms.publicList() }));

    this.#on('room:join', JoinRequest, (req) => this.#join(req));

    this.#on('room:leave', Empty, () => {
      const { peer, room } = this.#member();
      room.removePeer(peer);
      this.#peer = undefined;
      this.#room = undefined;
      return EMPTY;
    });

    this.#on('peer:rename', RenameRequest, ({ displayName }) => {
      const { peer, room } = this.#member();
      room.rename(peer, displayName);
      return EMPTY;
    });

    this.#on('transport:create', CreateTransportRequest, async ({ direction }): Promise<TransportData> => {
      const { peer, room } = this.#member();
      const t = await peer.createTransport(room.router, room.slot.webRtcServer, direction);
      return {
        id: t.id,
        iceParameters: t.iceParameters,
        iceCandidates: t.iceCandidates,
        dtlsParameters: t.dtlsParameters,
      };
    });

    this.#on('transport:connect', ConnectTransportRequest, async ({ transportId, dtlsParameters }) => {
      const { peer } = this.#member();
      await peer.transport(transportId).connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
      return EMPTY;
    });

    this.#on('transport:restartIce', RestartIceRequest, async ({ transportId }) => {
      const { peer } = this.#member();
      return { iceParameters: await peer.transport(transportId).restartIce() };
    });

    this.#on('transport:close', RestartIceRequest, ({ transportId }) => {
      this.#member().peer.closeTransport(transportId);
      return EMPTY;
    });

    this.#on('producer:create', ProduceRequest, async (req) => {
      const { peer, room } = this.#member();
      const producerId = await room.produce(peer, req.transportId, {
        kind: req.kind,
        rtpParameters: req.rtpParameters as types.RtpParameters,
        source: req.source,
        paused: req.paused ?? false,
      });
      return { producerId };
    });

    this.#on('producer:pause', ProducerRequest, async ({ producerId }) => {
      await this.#member().peer.producer(producerId).producer.pause();
      return EMPTY;
    });

    this.#on('producer:resume', ProducerRequest, async ({ producerId }) => {
      await this.#member().peer.producer(producerId).producer.resume();
      return EMPTY;
    });

    this.#on('producer:close', ProducerRequest, ({ producerId }) => {
      const { peer, room } = this.#member();
      room.closeProducer(peer, producerId);
      return EMPTY;
    });

    this.#on('consumer:create', ConsumeRequest, async (req): Promise<ConsumeData> => {
      const { peer, room } = this.#member();
      const target = room.findProducer(req.producerId);
      const caps = req.rtpCapabilities as types.RtpCapabilities;
      if (!room.router.canConsume({ producerId: req.producerId, rtpCapabilities: caps })) {
        throw new AppError('INVALID_REQUEST', 'rtpCapabilities cannot consume this producer');
      }
      const consumer = await peer.consume(req.transportId, target.producer, caps);
      return {
        consumerId: consumer.id,
        producerId: target.producer.id,
        peerId: target.peer.id,
        kind: consumer.kind,
        source: target.source,
        // mediasoup and mediasoup-client describe the same wire format with separate types.
        rtpParameters: consumer.rtpParameters as ConsumeData['rtpParameters'],
        type: consumer.type,
        producerPaused: consumer.producerPaused,
      };
    });

    this.#on('consumer:resume', ConsumerRequest, async ({ consumerId }) => {
      const consumer = this.#member().peer.consumer(consumerId);
      await consumer.resume();
      // A fresh keyframe lets the client show video at once instead of at the next periodic one.
      if (consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => undefined);
      return EMPTY;
    });

    this.#on('consumer:pause', ConsumerRequest, async ({ consumerId }) => {
      await this.#member().peer.consumer(consumerId).pause();
      return EMPTY;
    });

    this.#on('consumer:setPreferredLayers', PreferredLayersRequest, async (req) => {
      const consumer = this.#member().peer.consumer(req.consumerId);
      await consumer.setPreferredLayers({
        spatialLayer: req.spatialLayer,
        ...(req.temporalLayer !== undefined ? { temporalLayer: req.temporalLayer } : {}),
      });
      return EMPTY;
    });

    this.#on('chat:send', ChatSendRequest, ({ text }) => {
      const { peer, room } = this.#member();
      // Cleaned first, so that a bad message is refused before it costs a token.
      const clean = chatText(text);
      if (!this.#chatLimiter.tryTake()) {
        throw new AppError('RATE_LIMITED', `at most ${config.limits.chatPer10s} messages per 10 s`);
      }
      const message = room.chat(peer, clean);
      this.#deps.metrics.chatMessages.inc();
      return { message };
    });
  }

  async #join(req: z.infer<typeof JoinRequest>): Promise<AfterAck<JoinData>> {
    const { rooms, config, metrics } = this.#deps;
    if (this.#joining || (this.#peer && !this.#peer.closed)) throw invalidState('already in a room: leave it first');
    this.#joining = true;
    const stopTimer = metrics.joinSeconds.startTimer();
    try {
      const room = await rooms.getOrCreate(req.roomId, {
        isPublic: req.public ?? true,
        ...(req.password !== undefined ? { password: req.password } : {}),
      });
      room.checkAdmission(req.password);
      // The socket may have gone while the room was being created.
      if (this.#closed) throw invalidState('connection closed');
      const peer = new Peer(randomUUID(), req.displayName ?? anonymousName(), (event, payload) => {
        (this.#socket.emit as (ev: string, p: unknown) => void)(event, payload);
      }, {
        maxProducers: config.limits.maxProducersPerPeer,
        maxTransports: 4,
        maxConsumers: config.limits.maxPeersPerRoom * config.limits.maxProducersPerPeer,
        keyFrameRequestDelayMs: config.mediasoup.keyFrameRequestDelayMs,
      });
      const data: JoinData = {
        peerId: peer.id,
        roomId: room.id,
        displayName: peer.displayName,
        rtpCapabilities: room.router.rtpCapabilities as JoinData['rtpCapabilities'],
        peers: [...room.peers.values()].map((p) => ({ id: p.id, displayName: p.displayName })),
        producers: room.producerInfos(),
        chat: room.chatHistory,
        iceServers: config.iceServers,
        locked: room.locked,
      };
      room.addPeer(peer);
      this.#peer = peer;
      this.#room = room;
      metrics.joins.inc({ result: 'ok' });
      // Room events for this peer (others joining at the same moment) follow its answer.
      return new AfterAck(data, () => peer.release());
    } catch (error) {
      metrics.joins.inc({ result: error instanceof AppError ? error.code : 'INTERNAL' });
      throw error;
    } finally {
      stopTimer();
      this.#joining = false;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#peer && this.#room) this.#room.removePeer(this.#peer);
    this.#peer = undefined;
    this.#room = undefined;
  }
}
