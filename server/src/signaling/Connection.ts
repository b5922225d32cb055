/**
 * One Socket.IO connection: its place in a room (at most one peer at a time) and one
 * handler per protocol request. A disconnect by the client leaves the room, which closes the
 * peer and everything it owns; a connection that drops (network, proxy, server-side ping
 * timeout) leaves its peer to the session registry for the resume window instead, and
 * `room:resume` on a new connection takes it back.
 */
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
  ResumeRequest,
  RoomsListRequest,
  type ClientToServerEvents,
  type ConsumeData,
  type EmptyData,
  type JoinData,
  type RequestName,
  type ResumeData,
  type ServerToClientEvents,
} from '../../../protocol/index.js';
import type { JoinTokens } from '../auth/JoinTokens.js';
import { AppError, WrongPasswordError, forbidden, invalidState } from '../errors.js';
import type { ClientLimits } from '../limits/AbuseLimits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../http/metrics.js';
import { anonymousName } from '../rooms/names.js';
import type { Peer } from '../rooms/Peer.js';
import { iceServersFor } from '../turn/credentials.js';
import { chatText, type Room } from '../rooms/Room.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { SessionHolder, Sessions } from '../rooms/Sessions.js';
import type { KickBans } from '../rooms/moderation/KickBans.js';
import type { LobbyPlace } from '../rooms/moderation/RoomModeration.js';
import { registerModeration } from './moderationRequests.js';
import { registerRecording } from './recordingRequests.js';
import type { Recordings } from '../recording/Recordings.js';
import { Commit, ackOf, sendAck, wrap, type Handler } from './handle.js';
import { IN_ROOM_CHANNEL, peerChannel, roomChannel } from './fanout.js';

export type NoomSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface ConnectionDeps {
  rooms: RoomRegistry;
  sessions: Sessions;
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** The abuse limits of this connection's client address. */
  client: ClientLimits;
  /** Present when joins need a signed token (AUTH_SECRET / AUTH_PUBLIC_KEY). */
  tokens?: JoinTokens;
  bans: KickBans;
  /** Moderators' recordings of their rooms. */
  recordings?: Recordings;
}

const EMPTY: EmptyData = {};

/**
 * Disconnects after which the client may come back for its session: the connection broke
 * under it. A client that disconnects itself (`client namespace disconnect`) has left; one
 * that sent something unparseable is not waited for.
 */
/** An oversize frame counts as this many invalid requests. */
const OVERSIZE_WEIGHT = 5;
const RESUMABLE_REASONS: ReadonlySet<string> = new Set(['transport close', 'transport error', 'ping timeout']);

export class Connection implements SessionHolder {
  readonly #socket: NoomSocket;
  readonly #deps: ConnectionDeps;
  readonly #log: Logger;
  #room: Room | undefined;
  #peer: Peer | undefined;
  /** The session token of the current peer, while this connection holds it. */
  #token: string | undefined;
  /** Set while a join is in flight, so a second join or a disconnect can be told apart. */
  #joining = false;
  /** Set while a join waits in a room's lobby. */
  #lobbyPlace: LobbyPlace | undefined;
  /** The member's name comes from its join token and cannot be changed. */
  #nameFromToken = false;
  #closed = false;

  constructor(socket: NoomSocket, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.#log = deps.log.child({ socket: socket.id });
    this.#register();
    socket.onAny((event: unknown, ...args: unknown[]) => this.#answerUnknown(event, args));
    // Every message counts against the address's signaling allowance, valid or not.
    socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
      if (packet.type !== 'message') return;
      const bytes = typeof packet.data === 'string' ? packet.data.length : Buffer.isBuffer(packet.data) ? packet.data.length : 0;
      void deps.client.received(bytes).then((ok) => ok || this.#flooding('signaling bytes'));
    });
    socket.on('disconnect', (reason, description) => {
      this.#log.debug({ reason }, 'socket disconnected');
      // A frame over the size limit closes the connection in the WebSocket layer, before any
      // request is read: it counts as several invalid requests, so that reconnecting and
      // sending another one soon shuts the address out.
      if (reason === 'transport error' && /payload/i.test(String((description as { message?: unknown } | undefined)?.message ?? description))) {
        void deps.client.invalid(OVERSIZE_WEIGHT);
      }
      this.close(RESUMABLE_REASONS.has(reason));
    });
  }

  /** A client that asks for something this server does not know gets an answer, not a hang. */
  #answerUnknown(event: unknown, args: unknown[]): void {
    // Every request name has its handler on the socket; onAny sees those events too.
    if (typeof event === 'string' && this.#socket.listenerCount(event) > 0) return;
    this.#deps.metrics.requests.inc({ event: 'unknown', result: 'error' });
    this.#invalidRequest();
    const name = String(event).slice(0, 64);
    const message = `unknown request "${name}"`;
    sendAck(ackOf(args), { ok: false, error: { code: 'INVALID_REQUEST', message } }, this.#log, name);
  }

  #invalidRequest(): void {
    void this.#deps.client.invalid().then((ok) => ok || this.#flooding('invalid requests'));
  }

  /** Over a flood allowance: the connection goes at once (the address is shut out a while). */
  #flooding(what: string): void {
    if (!this.#socket.connected) return;
    this.#log.warn({ address: this.#deps.client.address, what }, 'flood: dropping the connection');
    this.#deps.metrics.floodDisconnects.inc({ reason: what === 'signaling bytes' ? 'bytes' : 'invalid' });
    this.#socket.disconnect(true);
  }

  #on<E extends RequestName, S extends z.ZodMiniType, T>(event: E, schema: S, handler: Handler<S, T>): void {
    const observe = (name: string, ok: boolean) =>
      this.#deps.metrics.requests.inc({ event: name, result: ok ? 'ok' : 'error' });
    // Socket.IO's typed `on` cannot take the generic wrapper; the event name is still checked by E.
    (this.#socket.on as (ev: string, fn: (...args: unknown[]) => void) => void)(
      event,
      wrap(event, schema, handler, this.#log, observe, () => this.#invalidRequest()),
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
    const { rooms, client } = this.#deps;

    this.#on('rooms:list', RoomsListRequest, (req) => rooms.publicPage(req.offset, req.limit));

    this.#on('room:join', JoinRequest, (req) => this.#join(req));

    this.#on('room:leave', Empty, () => {
      // A newcomer waiting in the lobby gives up: its join is answered INVALID_STATE.
      if (this.#lobbyPlace) {
        this.#lobbyPlace.leave();
        return EMPTY;
      }
      const { peer, room } = this.#member();
      room.removePeer(peer);
      this.#forget();
      return EMPTY;
    });

    this.#on('room:resume', ResumeRequest, async ({ token }) => {
      // Tokens cannot be guessed, but each try is a join's worth of work for the limits.
      await this.#deps.client.take('join');
      return this.#resume(token);
    });

    this.#on('peer:rename', RenameRequest, async ({ displayName }) => {
      const { peer, room } = this.#member();
      if (this.#nameFromToken) throw forbidden('the display name comes from the join token', 'name-from-token');
      await client.take('rename');
      room.rename(peer, displayName);
      return EMPTY;
    });

    this.#on('transport:create', CreateTransportRequest, async ({ direction }) => {
      const { peer, room } = this.#member();
      if (direction === 'send') room.moderation.assertMayPublish(peer.id);
      await client.take('transport');
      return peer.createTransport(direction);
    });

    this.#on('transport:connect', ConnectTransportRequest, async ({ transportId, dtlsParameters }) => {
      await this.#member().peer.connectTransport(transportId, dtlsParameters as types.DtlsParameters);
      return EMPTY;
    });

    this.#on('transport:restartIce', RestartIceRequest, async ({ transportId }) => ({
      iceParameters: await this.#member().peer.restartIce(transportId),
    }));

    this.#on('transport:close', RestartIceRequest, ({ transportId }) => {
      this.#member().peer.closeTransport(transportId);
      return EMPTY;
    });

    this.#on('producer:create', ProduceRequest, async (req) => {
      const { peer, room } = this.#member();
      room.moderation.assertMayPublish(peer.id);
      await client.take('producer');
      const producerId = await room.produce(peer, req.transportId, {
        kind: req.kind,
        rtpParameters: req.rtpParameters as types.RtpParameters,
        source: req.source,
        paused: req.paused ?? false,
      });
      return { producerId };
    });

    this.#on('producer:pause', ProducerRequest, async ({ producerId }) => {
      await this.#member().peer.pauseProducer(producerId);
      return EMPTY;
    });

    this.#on('producer:resume', ProducerRequest, async ({ producerId }) => {
      await this.#member().peer.resumeProducer(producerId);
      return EMPTY;
    });

    this.#on('producer:close', ProducerRequest, ({ producerId }) => {
      this.#member().peer.closeProducer(producerId);
      return EMPTY;
    });

    this.#on('consumer:create', ConsumeRequest, async (req): Promise<ConsumeData> => {
      const { peer } = this.#member();
      await client.take('consumer');
      return peer.consume(req.transportId, req.producerId, req.rtpCapabilities as types.RtpCapabilities);
    });

    this.#on('consumer:resume', ConsumerRequest, async ({ consumerId }) => {
      await this.#member().peer.resumeConsumer(consumerId);
      return EMPTY;
    });

    this.#on('consumer:close', ConsumerRequest, ({ consumerId }) => {
      this.#member().peer.closeConsumer(consumerId);
      return EMPTY;
    });

    this.#on('consumer:pause', ConsumerRequest, async ({ consumerId }) => {
      await this.#member().peer.pauseConsumer(consumerId);
      return EMPTY;
    });

    this.#on('consumer:setPreferredLayers', PreferredLayersRequest, async (req) => {
      await this.#member().peer.setPreferredLayers(req.consumerId, {
        spatialLayer: req.spatialLayer,
        ...(req.temporalLayer !== undefined ? { temporalLayer: req.temporalLayer } : {}),
      });
      return EMPTY;
    });

    this.#on('chat:send', ChatSendRequest, async ({ text }) => {
      const { peer, room } = this.#member();
      // Cleaned first, so that a bad message is refused before it costs a token.
      const clean = chatText(text);
      await client.takeChat(peer.displayName);
      const message = await room.chat(peer, clean);
      this.#deps.metrics.chatMessages.inc();
      return { message };
    });

    registerModeration((event, schema, handler) => this.#on(event, schema, handler), () => this.#member(), this.#deps.bans);
    if (this.#deps.recordings) registerRecording((event, schema, handler) => this.#on(event, schema, handler), () => this.#member(), this.#deps.recordings);
  }

  /** Who a joining client is, for keeping a removed one out: its token's subject, or its address and the name it asked for. */
  #identity(req: z.infer<typeof JoinRequest>): string {
    // An exempt address is told apart per connection ("<address>#<n>"): a removal holds for the address itself.
    const address = this.#deps.client.address.split('#')[0];
    return `addr:${address}|name:${(req.displayName ?? '').normalize('NFKC').toLowerCase()}`;
  }

  async #join(req: z.infer<typeof JoinRequest>): Promise<Commit<JoinData>> {
    const { rooms, config, metrics } = this.#deps;
    if (this.#joining || (this.#peer && !this.#peer.closed)) throw invalidState('already in a room: leave it first');
    this.#joining = true;
    const stopTimer = metrics.joinSeconds.startTimer();
    const count = (error: unknown) => metrics.joins.inc({ result: error instanceof AppError ? error.code : 'INTERNAL' });
    const { client } = this.#deps;
    try {
      await client.take('join');
      const grant = this.#deps.tokens ? await this.#deps.tokens.verify(req.token, req.roomId) : undefined;
      const identity = grant?.identity ?? this.#identity(req);
      const banned = await this.#deps.bans.retryAfterS(req.roomId, identity);
      if (banned > 0) throw forbidden(`a moderator removed you from this room: try again in ${banned} s`, 'removed', banned * 1000);
      const displayName = grant?.displayName ?? req.displayName ?? anonymousName();
      if (!rooms.get(req.roomId)) await client.take('roomCreation');
      if (req.password !== undefined) await client.checkPassword(req.roomId);
      const room = await rooms.getOrCreate(req.roomId, {
        isPublic: req.public ?? true,
        ...(req.password !== undefined ? { password: req.password } : {}),
      });
      await room.refreshModerated();
      const peerId = room.moderation.lobby && grant?.role !== 'moderator' ? await this.#waitInLobby(room, displayName, req.password) : undefined;
      const ticket = await room.prepareJoin(displayName, req.password, peerId);
      // The socket may have gone while the room was being prepared.
      if (this.#closed) {
        ticket.cancel();
        throw invalidState('connection closed');
      }
      return new Commit(() => {
        this.#joining = false;
        try {
          if (this.#closed) throw invalidState('connection closed');
          const { peer, data } = room.admit(ticket, {
            password: req.password,
            identity,
            ...(grant ? { role: grant.role } : {}),
            limits: {
              maxProducers: config.limits.maxProducersPerPeer,
              maxTransports: 4,
              maxConsumers: config.limits.maxPeersPerRoom * config.limits.maxProducersPerPeer,
              keyFrameRequestDelayMs: config.mediasoup.keyFrameRequestDelayMs,
            },
          });
          const nameFromToken = grant !== undefined;
          const token = this.#deps.sessions.open(peer, room, this, { nameFromToken });
          const resumeToken = this.#adopt(peer, room, token, nameFromToken);
          metrics.joins.inc({ result: 'ok' });
          const speaker = room.activeSpeaker;
          return {
            data: { ...data, iceServers: iceServersFor(config, peer.id), resumeToken },
            afterAck: () => {
              if (speaker !== null) peer.notify('activeSpeaker', { peerId: speaker });
            },
          };
        } catch (error) {
          ticket.cancel();
          count(error);
          throw error;
        }
      });
    } catch (error) {
      this.#joining = false;
      count(error);
      if (error instanceof WrongPasswordError) await client.passwordFailed(req.roomId);
      throw error;
    } finally {
      stopTimer();
    }
  }

  /**
   * Holds a join in the room's lobby until a moderator decides: the client hears
   * `room:waiting` now and its `room:join` answer later (FORBIDDEN if denied).
   * The peer id it waited under is the one it joins with.
   */
  async #waitInLobby(room: Room, displayName: string, password: string | undefined): Promise<string> {
    room.checkBeforeLobby(password);
    const place = room.moderation.enterLobby(displayName);
    this.#lobbyPlace = place;
    this.#socket.emit('room:waiting', { roomId: room.id });
    try {
      await place.admitted;
    } finally {
      this.#lobbyPlace = undefined;
    }
    if (this.#closed) throw invalidState('connection closed');
    return place.peerId;
  }

  /**
   * Takes a session back after a signaling drop. Nothing in it waits, so the snapshot it
   * answers with and the socket joining the room's channels happen in one step, as for a join.
   */
  #resume(token: string): Commit<ResumeData> {
    if (this.#joining || this.#lobbyPlace || (this.#peer && !this.#peer.closed)) throw invalidState('already in a room: leave it first');
    return new Commit(() => {
      if (this.#closed) throw invalidState('connection closed');
      const { peer, room, token: next, attributes } = this.#deps.sessions.take(token, this);
      const resumeToken = this.#adopt(peer, room, next, attributes.nameFromToken);
      this.#log.info({ peer: peer.id, room: room.id }, 'session resumed');
      return { data: { ...room.resumeView(peer), resumeToken }, afterAck: () => room.retell(peer) };
    });
  }

  /** This connection now serves `peer`: room events reach its socket from here on. Returns the token. */
  #adopt(peer: Peer, room: Room, token: string, nameFromToken: boolean): string {
    // Room events reach the socket from now on, after the answer that this ack carries.
    void this.#socket.join([roomChannel(room.id), peerChannel(peer.id), IN_ROOM_CHANNEL]);
    peer.onClose(() => {
      if (this.#peer !== peer) return;
      this.#leaveChannels(peer, room);
      this.#forget();
    });
    this.#peer = peer;
    this.#room = room;
    this.#token = token;
    this.#nameFromToken = nameFromToken;
    return token;
  }

  #leaveChannels(peer: Peer, room: Room): void {
    void this.#socket.leave(roomChannel(room.id));
    void this.#socket.leave(peerChannel(peer.id));
    void this.#socket.leave(IN_ROOM_CHANNEL);
  }

  #forget(): void {
    this.#peer = undefined;
    this.#room = undefined;
    this.#token = undefined;
  }

  /** Another connection resumed this one's session: stop serving the peer and drop this socket. */
  release(): void {
    if (this.#peer && this.#room) this.#leaveChannels(this.#peer, this.#room);
    this.#forget();
    this.#log.info('session taken over by another connection');
    this.#socket.disconnect(true);
  }

  /**
   * The connection is gone. With `resumable` (it broke rather than being closed by the
   * client) the peer waits for a resume; otherwise it leaves its room now.
   */
  close(resumable = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lobbyPlace?.leave();
    const peer = this.#peer;
    const room = this.#room;
    const token = this.#token;
    this.#forget();
    if (!peer || !room) return;
    if (resumable && token && this.#deps.sessions.enabled && !peer.closed) this.#deps.sessions.detach(token, this);
    else room.removePeer(peer);
  }
}
