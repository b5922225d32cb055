/**
 * Rooms across the cluster, on this node: the {@link RoomLink} each room share uses (the
 * shared directory, media pipes to other nodes), the relay that carries room events to the
 * other nodes' shares, and the repairs that keep every share's view true:
 * - a node that dies: its members and producers leave every view here at once (this node's
 *   sockets hear `producer:closed` / `peer:left`), its pipes close, and its entries leave the
 *   directory (every survivor tries; the script makes that idempotent);
 * - Redis back after an outage: this node writes its own share back (a restarted Redis has
 *   lost it), then compares each view with the directory;
 * - every few seconds, the same comparison, which heals an event lost on the way.
 * The public list is read from the directory whenever a room of the cluster changes.
 *
 * Moderation spans the nodes too: the lock and the waiting room are settings in the
 * directory, told to the other nodes when a moderator changes them; waiting-room news
 * reaches the moderators on every node; and an action on a member or a newcomer whose
 * socket is on another node (mute, remove, admit, deny) is a broker request to that node.
 */
import { z } from 'zod';
import { SERVER_EVENT_SCHEMAS, type ServerEventName } from '../../../protocol/index.js';
import { AppError, roomFull, roomLocked } from '../errors.js';
import type { Logger } from '../logger.js';
import { kickAndBan, type KickBans } from '../rooms/moderation/KickBans.js';
import type { Recordings } from '../recording/Recordings.js';
import type { Room } from '../rooms/Room.js';
import type { LobbyNews, RemoteModeration, RemoteProducer, RoomLink } from '../rooms/RoomLink.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { NoomIo } from '../signaling/fanout.js';
import type { ClusterNode } from './ClusterNode.js';
import { NodeId } from './Liveness.js';
import { MediaLinks } from './MediaLinks.js';
import { withDeadline } from './redis.js';
import { keys } from './keys.js';
import { parseJson } from './json.js';
import { JoinRefusedError, passwordHash, RoomDirectory, StoredChat, type DirectoryMember, type DirectoryProducer } from './RoomDirectory.js';
import { BrokerError } from './Broker.js';

/** The Socket.IO server-side event that carries room events between nodes. */
const RELAY_EVENT = 'noom:room';
/** Room events worth relaying: what members on other nodes must hear. */
const RELAYED = [
  'peer:joined',
  'peer:left',
  'peer:updated',
  'producer:new',
  'producer:closed',
  'producer:paused',
  'producer:resumed',
  'producer:score',
  // A moderator ended the meeting.
  'room:closed',
  // The room's recording, wherever it runs, is shown on every node.
  'recording:started',
  'recording:stopped',
] as const satisfies readonly ServerEventName[];
const RelayEnvelope = z.object({
  roomId: z.string().min(1).max(128),
  event: z.enum(RELAYED),
  payload: z.unknown(),
  except: z.string().max(128).optional(),
  from: NodeId,
});
const ChatEnvelope = z.object({ roomId: z.string().min(1).max(128), message: StoredChat });
/** The Socket.IO server-side event that carries moderation news (settings, waiting room) between nodes. */
const MODERATION_EVENT = 'noom:moderation';
const ModerationEnvelope = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('settings'),
    roomId: z.string().min(1).max(128),
    from: NodeId,
    passwordHash: z.string().max(128),
    lobby: z.boolean(),
  }),
  z.object({
    kind: z.literal('lobby'),
    roomId: z.string().min(1).max(128),
    from: NodeId,
    event: z.enum(['lobby:waiting', 'lobby:left']),
    payload: z.unknown(),
  }),
]);
/** The broker request that has a member's or a newcomer's node carry out a moderator's action. */
const MODERATE = 'room:moderate';
const PeerRef = z.string().min(1).max(128);
const ModerateRequest = z.object({
  roomId: z.string().min(1).max(128),
  action: z.discriminatedUnion('action', [
    z.object({ action: z.literal('mute'), peerId: PeerRef, source: z.enum(['mic', 'camera', 'screen']) }),
    z.object({ action: z.literal('kick'), peerId: PeerRef }),
    z.object({ action: z.literal('admit'), peerId: PeerRef }),
    z.object({ action: z.literal('deny'), peerId: PeerRef }),
    z.object({ action: z.literal('stop-recording') }),
  ]),
});
const Done = z.object({ done: z.literal(true) });
const RESYNC_MS = 5000;
const DIRECTORY_DEADLINE_MS = 3000;

export interface ClusterRoomsOptions {
  graceMs: number;
  pipeListenIp: string;
  pipeAnnouncedIp: string;
  portRange: { min: number; max: number };
}

export class ClusterRooms {
  readonly directory: RoomDirectory;
  readonly #node: ClusterNode;
  readonly #io: NoomIo;
  readonly #options: ClusterRoomsOptions;
  readonly #log: Logger;
  #rooms: RoomRegistry | undefined;
  #links: MediaLinks | undefined;
  #timer: NodeJS.Timeout | undefined;
  #resyncing = false;
  /** Nodes reported down and not back since (bounded: an id leaves when it comes back or after an hour). */
  readonly #deadNodes = new Map<string, number>();
  #closed = false;
  readonly #onRelay = (envelope: unknown) => this.#receive(envelope);
  readonly #onChat = (text: string) => this.#receiveChat(text);
  readonly #onModeration = (envelope: unknown) => this.#receiveModeration(envelope);
  readonly #onNodeDown = (nodeId: string) => void this.#nodeDown(nodeId);
  readonly #onReconnected = () => void this.#reassert();
  readonly #onNodeUp = (node: { nodeId: string }) => this.#deadNodes.delete(node.nodeId);

  constructor(node: ClusterNode, io: NoomIo, options: ClusterRoomsOptions, log: Logger) {
    this.#node = node;
    this.#io = io;
    this.#options = options;
    this.#log = log;
    this.directory = new RoomDirectory(node.redis, { nodeId: node.nodeId, graceMs: options.graceMs });
  }

  get nodeId(): string {
    return this.#node.nodeId;
  }

  /** Pipes to and from other nodes, once started. */
  get links(): MediaLinks | undefined {
    return this.#links;
  }

  /** Carries a room event to the other nodes. */
  relay(roomId: string, event: ServerEventName, payload: unknown, exceptPeerId: string | undefined): void {
    if (this.#closed || !(RELAYED as readonly string[]).includes(event)) return;
    const envelope = { roomId, event, payload, from: this.nodeId, ...(exceptPeerId ? { except: exceptPeerId } : {}) };
    void Promise.resolve(this.#io.serverSideEmit(RELAY_EVENT, envelope)).catch((error: unknown) => {
      this.#log.debug({ err: error, event }, 'could not relay a room event');
    });
  }

  /** Whether this node takes joins yet (see {@link start}). */
  get started(): boolean {
    return this.#links !== undefined;
  }

  /**
   * Starts serving: needs the node joined (the broker) and the room registry. What an
   * earlier run under this node id left in the directory goes first; after a quick restart
   * this waits until the others have seen that run die, or their clean-up of it would take
   * this run's members with it.
   */
  async start(rooms: RoomRegistry, bans: KickBans, recordings?: Pick<Recordings, 'stop'>): Promise<void> {
    const liveness = this.#node.liveness;
    if (liveness.replacedEarlierRun) await new Promise((resolve) => setTimeout(resolve, 2 * liveness.pollMs + 500));
    await this.directory.removeNode(this.nodeId);
    this.#rooms = rooms;
    this.#links = new MediaLinks(
      this.#node.broker,
      {
        listenIp: this.#options.pipeListenIp,
        announcedIp: this.#options.pipeAnnouncedIp,
        portRange: this.#options.portRange,
        resolve: (roomId, producerId) => {
          const room = rooms.get(roomId);
          const p = room?.media.producers.get(producerId);
          if (!room || !p || p.imported) return undefined;
          return { producer: p.producer, router: p.router, peerId: p.peerId, source: p.source, demand: room.media.demand };
        },
      },
      this.#log.child({ component: 'pipes' }),
    );
    this.#io.on(RELAY_EVENT, this.#onRelay);
    this.#io.on(MODERATION_EVENT, this.#onModeration);
    this.#node.broker.handle(MODERATE, ModerateRequest, async ({ roomId, action }) => {
      const room = rooms.get(roomId);
      if (!room || room.closed) throw new AppError('NOT_FOUND', `room ${roomId} is not on node ${this.nodeId}`);
      // Only members and newcomers of this node: an action is never passed on a second time.
      if (action.action === 'mute') {
        if (!room.peers.has(action.peerId)) throw new AppError('NOT_FOUND', `peer ${action.peerId} not found`);
        await room.mute(action.peerId, action.source);
      } else if (action.action === 'kick') {
        if (!room.peers.has(action.peerId)) throw new AppError('NOT_FOUND', `peer ${action.peerId} not found`);
        await kickAndBan(room, action.peerId, bans);
      } else if (action.action === 'stop-recording') {
        if (!recordings) throw new AppError('INVALID_STATE', 'this node does not record');
        await recordings.stop(room);
      } else {
        room.moderation.decideHere(action.action, action.peerId);
      }
      return { done: true };
    });
    void this.#node.redis.subscriber.subscribe(keys.chat, this.#onChat).catch((error: unknown) => {
      this.#log.error({ err: error }, 'could not subscribe to chat');
    });
    this.#node.liveness.on('nodedown', this.#onNodeDown);
    this.#node.liveness.on('nodeup', this.#onNodeUp);
    this.#node.liveness.on('reconnected', this.#onReconnected);
    this.#timer = setInterval(() => void this.#resyncAll(), RESYNC_MS);
    rooms.scheduleUpdate();
  }

  /** The link of this node's share of `roomId`. */
  link(roomId: string, settings: { isPublic: boolean; maxPeers: number }): RoomLink {
    const directory = this.directory;
    const log = this.#log.child({ room: roomId });
    const write = (what: string, op: () => Promise<unknown>) => {
      // A write lost to an outage is put back by the re-sync once Redis is back.
      op().catch((error: unknown) => log.debug({ err: error, what }, 'directory write failed'));
    };
    /** A directory call the request waits for: its answer within the deadline, or INTERNAL with `unavailable`. */
    const ask = async <T>(what: string, op: () => Promise<T>, unavailable = 'the room directory is unavailable; try again'): Promise<T> => {
      try {
        return await withDeadline(op(), DIRECTORY_DEADLINE_MS);
      } catch (error) {
        log.warn({ err: error, what }, 'room directory unavailable');
        throw new AppError('INTERNAL', unavailable);
      }
    };
    return {
      nodeId: this.nodeId,
      join: async (peer, password) => {
        if (!this.started) throw new AppError('INVALID_STATE', 'this node is joining the cluster; try again in a moment');
        try {
          const r = await withDeadline(
            directory.join(roomId, { ...settings, passwordHash: passwordHash(roomId, password) }, peer.id, peer.displayName),
            DIRECTORY_DEADLINE_MS,
          );
          const self = this.nodeId;
          return {
            isPublic: r.settings.isPublic,
            passwordHash: r.settings.passwordHash,
            lobby: r.settings.lobby,
            ...(r.settings.recordedOn && r.settings.recordedOn !== self && this.#isAlive(r.settings.recordedOn) ? { recordedOn: r.settings.recordedOn } : {}),
            maxPeers: r.settings.maxPeers,
            // A dead node's entries may still be there: its removal is on its way.
            peers: new Map([...r.peers].filter(([, m]) => m.nodeId !== self && this.#isAlive(m.nodeId))),
            producers: new Map([...remoteProducers(r.producers)].filter(([, p]) => p.nodeId !== self && this.#isAlive(p.nodeId))),
            chat: r.chat,
          };
        } catch (error) {
          if (error instanceof JoinRefusedError) {
            throw error.reason === 'FULL' ? roomFull(error.maxPeers) : roomLocked(error.reason === 'WRONG_PASSWORD');
          }
          log.warn({ err: error }, 'room directory unavailable for a join');
          throw new AppError('INTERNAL', 'the room directory is unavailable; try again');
        }
      },
      left: (peerId) => write('left', () => directory.leave(roomId, peerId)),
      renamed: (peerId, displayName) => write('renamed', () => directory.rename(roomId, peerId, displayName)),
      producer: (info) => write('producer', () => directory.putProducer(roomId, info)),
      producerClosed: (producerId) => write('producerClosed', () => directory.removeProducer(roomId, producerId)),
      chat: (message) => ask('chat', () => directory.chat(roomId, message), 'chat is unavailable for a moment; try again'),
      setModerated: async (change) => {
        const hash = change.password === undefined ? undefined : change.password === null ? '' : passwordHash(roomId, change.password);
        const now = await ask('settings', () =>
          directory.setModerated(roomId, { ...(hash !== undefined ? { passwordHash: hash } : {}), ...(change.lobby !== undefined ? { lobby: change.lobby } : {}) }),
        );
        if (!now) throw new AppError('INVALID_STATE', 'the room is closing');
        this.#emitModeration({ kind: 'settings', roomId, from: this.nodeId, ...now });
        return now;
      },
      readModerated: () => ask('settings', () => directory.moderated(roomId)),
      hashPassword: (password) => passwordHash(roomId, password),
      claimRecording: async () => {
        const holder = await ask('recording holder', () => directory.recordingHolder(roomId));
        const dead = holder !== '' && holder !== this.nodeId && !this.#isAlive(holder) ? holder : '';
        return ask('recording claim', () => directory.claimRecording(roomId, dead));
      },
      releaseRecording: () => write('releaseRecording', () => directory.releaseRecording(roomId)),
      lobby: (news: LobbyNews) => this.#emitModeration({ kind: 'lobby', roomId, from: this.nodeId, ...news }),
      moderate: (nodeId: string, action: RemoteModeration) => this.#moderate(nodeId, roomId, action),
      importProducer: (producerId, nodeId, router) => {
        if (!this.#links) return Promise.reject(new AppError('INVALID_STATE', 'this node is not serving yet'));
        return this.#links.import(roomId, producerId, nodeId, router);
      },
    };
  }

  #receive(raw: unknown): void {
    try {
      const envelope = RelayEnvelope.safeParse(raw);
      if (!envelope.success || envelope.data.from === this.nodeId) {
        if (!envelope.success) this.#log.warn('dropping a malformed relayed room event');
        return;
      }
      const { roomId, event, payload, except, from } = envelope.data;
      const parsed = SERVER_EVENT_SCHEMAS[event].safeParse(payload);
      if (!parsed.success) {
        this.#log.warn({ event, from }, 'dropping a relayed room event that does not match its schema');
        return;
      }
      this.#rooms?.get(roomId)?.applyRelayed({ event, payload: parsed.data, exceptPeerId: except, fromNode: from });
      if (event === 'peer:joined' || event === 'peer:left') this.#rooms?.scheduleUpdate();
    } catch (error) {
      this.#log.error({ err: error }, 'relayed room event handling failed');
    }
  }

  #emitModeration(envelope: z.input<typeof ModerationEnvelope>): void {
    if (this.#closed) return;
    void Promise.resolve(this.#io.serverSideEmit(MODERATION_EVENT, envelope)).catch((error: unknown) => {
      this.#log.debug({ err: error }, 'could not relay moderation news');
    });
  }

  #receiveModeration(raw: unknown): void {
    try {
      const parsed = ModerationEnvelope.safeParse(raw);
      if (!parsed.success) {
        this.#log.warn('dropping malformed moderation news');
        return;
      }
      const e = parsed.data;
      if (e.from === this.nodeId) return;
      const room = this.#rooms?.get(e.roomId);
      if (!room) return;
      if (e.kind === 'settings') {
        room.applyModerated({ passwordHash: e.passwordHash, lobby: e.lobby });
        this.#rooms?.scheduleUpdate();
        return;
      }
      const news = e.event === 'lobby:waiting'
        ? SERVER_EVENT_SCHEMAS['lobby:waiting'].safeParse(e.payload)
        : SERVER_EVENT_SCHEMAS['lobby:left'].safeParse(e.payload);
      if (!news.success) {
        this.#log.warn({ event: e.event, from: e.from }, 'dropping waiting-room news that does not match its schema');
        return;
      }
      room.moderation.applyRemote(e.from, { event: e.event, payload: news.data } as LobbyNews);
    } catch (error) {
      this.#log.error({ err: error }, 'moderation news handling failed');
    }
  }

  /** Has `nodeId` carry out a moderator's action; its refusal comes back with its code. */
  async #moderate(nodeId: string, roomId: string, action: RemoteModeration): Promise<void> {
    try {
      await this.#node.broker.request(nodeId, MODERATE, { roomId, action }, { result: Done });
    } catch (error) {
      const remote = error instanceof BrokerError && error.code === 'REMOTE_ERROR' ? error.details.remoteCode : undefined;
      if (remote === 'NOT_FOUND' || remote === 'INVALID_STATE') throw new AppError(remote, error instanceof Error ? error.message : String(error));
      this.#log.warn({ err: error, node: nodeId, action: action.action }, 'moderation action on another node failed');
      throw new AppError('UNAVAILABLE', 'the node of that participant did not answer; try again');
    }
  }

  /** A chat message as Redis ordered it: delivered here in that order, the sender's node included. */
  #receiveChat(text: string): void {
    // Runs inside the Redis client's reply parser: nothing may escape from here.
    try {
      const json = parseJson(text);
      const parsed = ChatEnvelope.safeParse(json);
      if (!parsed.success) {
        this.#log.warn('dropping a malformed chat message');
        return;
      }
      const { roomId, message } = parsed.data;
      this.#rooms?.get(roomId)?.applyRelayed({ event: 'chat:message', payload: message, exceptPeerId: undefined, fromNode: '' });
    } catch (error) {
      this.#log.error({ err: error }, 'chat delivery failed');
    }
  }

  /**
   * Not known to be dead. A node this one has not polled yet (it started a moment ago) is
   * alive: its entries are real, and treating them as a dead node's would delete them.
   */
  #isAlive(nodeId: string): boolean {
    return !this.#deadNodes.has(nodeId);
  }

  #localRooms(): Room[] {
    return [...(this.#rooms?.rooms.values() ?? [])].filter((r) => !r.closed);
  }

  async #nodeDown(nodeId: string): Promise<void> {
    if (this.#closed) return;
    this.#deadNodes.set(nodeId, Date.now());
    this.#links?.dropNode(nodeId);
    for (const room of this.#localRooms()) room.dropNode(nodeId);
    try {
      await this.directory.removeNode(nodeId);
    } catch (error) {
      this.#log.debug({ err: error, node: nodeId }, 'could not clear a dead node from the directory');
    }
    this.#rooms?.scheduleUpdate();
  }

  /** Redis is back: write this node's share again, then compare views once everyone has. */
  async #reassert(): Promise<void> {
    for (const room of this.#localRooms()) {
      const share = room.ownShare();
      const members = new Map<string, DirectoryMember>([...share.members].map(([id, displayName]) => [id, { displayName, nodeId: this.nodeId }]));
      const producers = new Map<string, DirectoryProducer>(
        share.producers.map((p) => [p.producerId, { peerId: p.peerId, kind: p.kind, source: p.source, paused: p.paused, nodeId: this.nodeId }]),
      );
      room.media.repeatImportDemand();
      try {
        await this.directory.assert(
          room.id,
          { isPublic: share.isPublic, passwordHash: share.passwordHash, maxPeers: share.maxPeers, lobby: share.lobby },
          members,
          producers,
        );
      } catch (error) {
        this.#log.warn({ err: error, room: room.id }, 'could not write the room back after an outage');
      }
    }
    this.#rooms?.scheduleUpdate();
    await this.#resyncAll();
  }

  async #resyncAll(): Promise<void> {
    if (this.#closed || this.#resyncing || !this.#node.redis.ready) return;
    this.#resyncing = true;
    const isAlive = (nodeId: string) => this.#isAlive(nodeId);
    const dead = new Set<string>();
    for (const [nodeId, at] of this.#deadNodes) if (Date.now() - at > 3_600_000) this.#deadNodes.delete(nodeId);
    try {
      for (const room of this.#localRooms()) {
        const readStartedAt = performance.now();
        const state = await this.directory.state(room.id);
        for (const e of [...state.peers.values(), ...state.producers.values()]) if (!isAlive(e.nodeId)) dead.add(e.nodeId);
        room.resync({ peers: state.peers, producers: remoteProducers(state.producers) }, isAlive, readStartedAt);
        if (state.moderated) room.applyModerated(state.moderated, readStartedAt);
      }
      // Entries of a node that is gone outlived its removal (every survivor failed it): again.
      for (const nodeId of dead) if (nodeId !== this.nodeId) await this.directory.removeNode(nodeId);
    } catch (error) {
      this.#log.debug({ err: error }, 'room re-sync failed');
    } finally {
      this.#resyncing = false;
    }
  }

  /** Leaving the cluster: this node's entries go now, so the others need not wait for its heartbeat. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#io.off(RELAY_EVENT, this.#onRelay);
    this.#io.off(MODERATION_EVENT, this.#onModeration);
    await withDeadline(this.#node.redis.subscriber.unsubscribe(keys.chat, this.#onChat), 1000).catch(() => undefined);
    if (this.#rooms) {
      this.#node.liveness.off('nodedown', this.#onNodeDown);
      this.#node.liveness.off('nodeup', this.#onNodeUp);
      this.#node.liveness.off('reconnected', this.#onReconnected);
    }
    this.#links?.close();
    await withDeadline(this.directory.removeNode(this.nodeId), 1000).catch((error: unknown) => {
      this.#log.warn({ err: error }, 'could not clear this node from the directory');
    });
  }
}

function remoteProducers(entries: Map<string, DirectoryProducer>): Map<string, RemoteProducer> {
  return new Map([...entries].map(([producerId, p]) => [producerId, { producerId, peerId: p.peerId, kind: p.kind, source: p.source, paused: p.paused, nodeId: p.nodeId }]));
}
