/**
 * A conference: its members, its chat history, its settings and its fan-out. The media
 * (routers, placement, pipes, active speaker) belong to its {@link RoomMedia}. Room events
 * go out through a {@link RoomFanout}, which addresses the room's Socket.IO room, so that
 * an adapter can carry them to sockets elsewhere. The room closes itself when it has been
 * empty for the grace period, or when its media is gone; a worker dying under some of its
 * peers sends only those peers away.
 *
 * In a cluster (a {@link RoomLink} is given) the room on this node is this node's share of
 * a room that spans nodes: admission is decided by the shared directory, this node writes
 * its own members, producers and chat there, and it keeps a view of the other nodes'
 * members and producers. The view starts from the directory's answer to the first join and
 * follows the events the other nodes relay; events that arrive while that first answer is
 * on its way are kept and applied on top of it, so none falls in between. A relayed event
 * that changes the view goes on to this node's sockets; one that changes nothing (a
 * repeat) does not.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  CHAT_HISTORY_SIZE,
  CHAT_MAX_LENGTH,
  type ChatMessage,
  type JoinData,
  type ProducerInfo,
  type ResumeData,
  type RoomView,
  type Role,
  type RoomSummary,
  type ServerEventName,
  type ServerEventPayload,
} from '../../../protocol/index.js';
import { AppError, notFound, roomFull, roomLocked, unavailable } from '../errors.js';
import { samePassword } from '../limits/samePassword.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { distinctName, nameKey } from './names.js';
import { RoomMedia } from '../media/RoomMedia.js';
import { Peer, type PeerLimits, type ProduceOptions, type Source } from './Peer.js';
import type { LobbyNews, ModeratedSettings, RemoteMember, RemoteProducer, RoomLink, SharedRoom } from './RoomLink.js';
import { RoomModeration } from './moderation/RoomModeration.js';

export interface RoomOptions {
  id: string;
  password?: string;
  isPublic: boolean;
  maxPeers: number;
  graceMs: number;
  peersPerRouter: number;
  dynacastHoldMs: number;
  /** Cluster: the room's link to the shared directory and the other nodes. */
  link?: RoomLink;
}

/** Delivery of room events to members, wherever their sockets are. */
export interface RoomFanout {
  /** To every member of the room but `exceptPeerId`. */
  toRoom<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>, exceptPeerId?: string): void;
  /** To one member. */
  toPeer<E extends ServerEventName>(peerId: string, event: E, payload: ServerEventPayload<E>): void;
  /** To the members whose sockets are on this node (news another node relayed). */
  toLocal<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>, exceptPeerId?: string): void;
}

/** A room event relayed by another node, as the room applies it. */
export interface RelayedEvent {
  event: ServerEventName;
  payload: unknown;
  exceptPeerId: string | undefined;
  fromNode: string;
}

/** What the room knows of the other nodes' share of it; the directory's view, for a re-sync. */
export interface RemoteState {
  peers: ReadonlyMap<string, RemoteMember>;
  producers: ReadonlyMap<string, RemoteProducer>;
}

/** A join admitted by the room's rules (and, in a cluster, recorded); `admit` completes it. */
export class JoinTicket {
  #open = true;
  readonly #end: (admitted: boolean) => void;

  constructor(
    readonly peerId: string,
    readonly displayName: string,
    end: (admitted: boolean) => void,
  ) {
    this.#end = end;
  }

  /** The join became a membership. */
  admitted(): void {
    this.#close(true);
  }

  /** Gives the place back when the join is not completed (the socket went meanwhile, or it failed). */
  cancel(): void {
    this.#close(false);
  }

  #close(admitted: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    this.#end(admitted);
  }
}

/** Relayed events kept while the view waits for its first directory answer; beyond, the room is stale anyway. */
const MAX_BUFFERED = 10_000;

/**
 * The text a chat message will carry: trimmed, non-empty and within the length limit.
 * Control characters other than newline and tab are dropped: they render as nothing or as
 * terminal escapes in someone's log viewer.
 */
export function chatText(raw: string): string {
  // eslint-disable-next-line no-control-regex
  const text = raw.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '').trim();
  if (!text) throw new AppError('INVALID_REQUEST', 'empty message');
  if (text.length > CHAT_MAX_LENGTH) throw new AppError('INVALID_REQUEST', `message longer than ${CHAT_MAX_LENGTH} characters`);
  return text;
}

export type RoomEvents = {
  /** Peer count changed. */
  peers: [];
  close: [reason: 'empty' | 'workerclose' | 'shutdown' | 'ended'];
  /** Cluster: a producer appeared on another node (a recording pipes it in). */
  remoteProducer: [producerId: string];
};

export interface Admission {
  password: string | undefined;
  limits: PeerLimits;
  /** The role a join token gives; absent on an open server (the room's first peer is its host). */
  role?: Role;
  /** Who the peer is, for keeping a removed identity out for a while. */
  identity: string;
}

export class Room extends EventEmitter<RoomEvents> {
  readonly id: string;
  readonly media: RoomMedia;
  readonly moderation: RoomModeration;
  #isPublic: boolean;
  #password: string | undefined;
  /** Cluster: the room's password as the directory keeps it ('' when open). */
  #sharedPasswordHash = '';
  /** Cluster: when the lock or the waiting room last changed here (a re-sync reads older news). */
  #moderatedAt = -Infinity;
  #maxPeers: number;
  readonly #link: RoomLink | undefined;
  readonly #remotePeers = new Map<string, RemoteMember>();
  readonly #remoteProducers = new Map<string, RemoteProducer>();
  /** Remote entries the last re-sync did not find in the directory: gone if the next one agrees. */
  #missing = new Set<string>();
  /** When a relayed event last changed each remote member or producer: a re-sync read from before must not undo it. */
  readonly #touched = new Map<string, number>();
  #seeded: boolean;
  #buffer: RelayedEvent[] = [];
  readonly #graceMs: number;
  readonly #fanout: RoomFanout;
  readonly #peers = new Map<string, Peer>();
  /** When each local member joined (ms since the epoch). */
  readonly #joinedAt = new Map<string, number>();
  readonly #chat: ChatMessage[] = [];
  readonly #log: Logger;
  #graceTimer: NodeJS.Timeout | undefined;
  /** Joins under way (admitted by the rules, not yet members): they keep an empty room open. */
  #joining = 0;
  /** Names of the joins under way, so that two at once with one name are told apart too. */
  readonly #joiningNames = new Set<string>();
  #speakerPeerId: string | null = null;
  #closed = false;
  /** When this node's recording of the room started (ms since the epoch); undefined while it records none. */
  #recordingSince: number | undefined;
  /** Cluster: the node recording the room, when another one is (learnt from its relayed `recording:started`). */
  #recordedOn: string | undefined;

  private constructor(o: RoomOptions, media: RoomMedia, fanout: RoomFanout, log: Logger) {
    super();
    this.id = o.id;
    this.#isPublic = o.isPublic;
    this.#link = o.link;
    this.#seeded = o.link === undefined;
    // In a cluster the directory keeps the password, set by whoever created the room on any node.
    this.#password = o.link ? undefined : o.password;
    this.#maxPeers = o.maxPeers;
    this.#graceMs = o.graceMs;
    this.media = media;
    this.#fanout = fanout;
    this.#log = log;
    this.moderation = new RoomModeration(
      {
        localPeers: () => this.#peers.values(),
        oldestMember: () => this.#oldestMember(),
        waitingEnded: () => this.#scheduleEmptyCheck(),
        remoteRoles: () => [...this.#remotePeers.values()].map((m) => m.role),
        memberCount: () => this.#peers.size + this.#remotePeers.size,
        notify: (peerId, event, payload) => this.#peers.get(peerId)?.notify(event, payload),
        broadcast: (event, payload) => this.broadcast(event, payload),
        ...(o.link
          ? {
              relayLobby: (news: LobbyNews) => o.link!.lobby(news),
              decideRemote: (nodeId: string, action: 'admit' | 'deny', peerId: string) => o.link!.moderate(nodeId, { action, peerId }),
            }
          : {}),
      },
      o.maxPeers,
    );
    media.on('close', () => this.close('workerclose'));
    media.on('routerclose', (peerIds) => this.#evict(peerIds));
    media.on('demand', (peerId, producerId, maxSpatialLayer) => {
      this.#peers.get(peerId)?.notify('producer:demand', { producerId, maxSpatialLayer });
    });
    media.on('dominantspeaker', (peerId) => {
      this.#speakerPeerId = peerId;
      // In a cluster every node hears the whole room's audio (its members consume it) and
      // tells its own members; two nodes telling everyone would contradict each other.
      if (o.link) this.#fanout.toLocal('activeSpeaker', { peerId });
      else this.broadcast('activeSpeaker', { peerId });
    });
    const link = o.link;
    if (link) {
      media.importer = {
        has: (producerId) => this.#remoteProducers.has(producerId),
        open: (producerId, router) => {
          const remote = this.#remoteProducers.get(producerId);
          if (!remote) return Promise.reject(notFound('producer', producerId));
          return link.importProducer(producerId, remote.nodeId, router);
        },
      };
    }
  }

  static async create(o: RoomOptions, pool: WorkerPool, fanout: RoomFanout, log: Logger): Promise<Room> {
    const roomLog = log.child({ room: o.id });
    const media = await RoomMedia.create(pool, { roomId: o.id, peersPerRouter: o.peersPerRouter, dynacastHoldMs: o.dynacastHoldMs }, roomLog);
    const room = new Room(o, media, fanout, roomLog);
    room.#scheduleEmptyCheck();
    return room;
  }

  get closed(): boolean {
    return this.#closed;
  }
  get isPublic(): boolean {
    return this.#isPublic;
  }
  get locked(): boolean {
    return this.#password !== undefined || this.#sharedPasswordHash !== '';
  }
  /** Members on this node. */
  get peerCount(): number {
    return this.#peers.size;
  }
  /** Members on other nodes, as far as this node knows. */
  get remote(): RemoteState {
    return { peers: this.#remotePeers, producers: this.#remoteProducers };
  }
  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  summary(): RoomSummary {
    return { id: this.id, name: this.id, peerCount: this.#peers.size, locked: this.locked, maxPeers: this.#maxPeers };
  }

  checkAdmission(password: string | undefined): void {
    // A room that ends as someone joins (its worker died): a join a moment later makes a new one.
    if (this.#closed) throw unavailable('the room is closing; retry in a moment');
    // In a cluster the directory decides, for every node at once.
    if (this.#link) return;
    if (this.#password !== undefined && !samePassword(password, this.#password)) throw roomLocked(password !== undefined);
    if (this.#peers.size >= this.#maxPeers) throw roomFull(this.#maxPeers);
  }

  /**
   * Before a newcomer waits in the lobby: a wrong password is refused before anyone is asked
   * to let it in. In a cluster the view's settings answer (the directory decides again when
   * the newcomer is admitted).
   */
  checkBeforeLobby(password: string | undefined): void {
    if (!this.#link) return this.checkAdmission(password);
    if (this.#closed) throw unavailable('the room is closing; retry in a moment');
    if (this.#sharedPasswordHash !== '' && this.#link.hashPassword(password) !== this.#sharedPasswordHash) throw roomLocked(password !== undefined);
  }

  /**
   * The part of a join that waits: admission (in a cluster, by the directory, which records
   * the member at once) and a router with room for one more peer.
   */
  async prepareJoin(displayName: string, password: string | undefined, peerId: string = randomUUID()): Promise<JoinTicket> {
    this.checkAdmission(password);
    /** Whether the directory may hold the member: not after a plain refusal. */
    let recorded = this.#link !== undefined;
    this.#joining++;
    const name = this.#distinctName(displayName);
    this.#joiningNames.add(name);
    const ticket = new JoinTicket(peerId, name, (admitted) => {
      this.#joining--;
      this.#joiningNames.delete(name);
      if (admitted) return;
      if (recorded) this.#link?.left(peerId);
      this.#scheduleEmptyCheck();
    });
    try {
      if (this.#link) this.#seed(await this.#link.join({ id: peerId, displayName: name }, password));
      await this.media.reserve();
    } catch (error) {
      // A refused join recorded nothing; one that failed otherwise (Redis slow or away) may
      // have, and the removal queued behind it on the same connection undoes it.
      if (error instanceof AppError && (error.code === 'FORBIDDEN' || error.code === 'ROOM_FULL')) recorded = false;
      ticket.cancel();
      throw error;
    }
    return ticket;
  }

  /**
   * Admits a peer at once (nothing here waits, so no room event can fall between the
   * snapshot it answers with and the peer's membership), and tells the others.
   */
  admit(ticket: JoinTicket, a: Admission): { peer: Peer; data: Omit<JoinData, 'iceServers' | 'resumeToken'> } {
    this.checkAdmission(a.password);
    const id = ticket.peerId;
    ticket.admitted();
    const role = this.moderation.admitted(id, a.role, a.identity);
    const data = {
      peerId: id,
      roomId: this.id,
      displayName: ticket.displayName,
      rtpCapabilities: this.media.rtpCapabilities as JoinData['rtpCapabilities'],
      ...this.#view(undefined, role),
    };
    const placement = this.media.place(id);
    const peer = new Peer({
      id,
      displayName: ticket.displayName,
      notify: (event, payload) => this.#fanout.toPeer(id, event, payload),
      limits: a.limits,
      placement,
      media: this.media,
    });
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#peers.set(peer.id, peer);
    this.#joinedAt.set(peer.id, Date.now());
    this.broadcast('peer:joined', { id: peer.id, displayName: peer.displayName, role }, peer.id);
    this.#log.info({ peer: peer.id, count: this.#peers.size, slot: placement.slotIndex }, 'peer joined');
    this.emit('peers');
    return { peer, data };
  }

  /**
   * The room as a member taking its session back after a signaling drop should see it now:
   * everyone else, their producers, and which of its own consumers still exist.
   */
  resumeView(peer: Peer): Omit<ResumeData, 'resumeToken'> {
    const role = this.moderation.roleOf(peer.id);
    return {
      peerId: peer.id,
      roomId: this.id,
      displayName: peer.displayName,
      ...this.#view(peer, role),
      consumers: [...peer.consumers.values()].map((c) => ({ consumerId: c.id, producerId: c.producerId })),
    };
  }

  /** The room as `self` (none yet: a newcomer) sees it: everyone else, their producers, chat and settings. */
  #view(self: Peer | undefined, role: Role): RoomView {
    return {
      peers: [
        ...[...this.#peers.values()]
          .filter((p) => p !== self)
          .map((p) => ({ id: p.id, displayName: p.displayName, role: this.moderation.roleOf(p.id) })),
        ...[...this.#remotePeers].map(([peerId, m]) => ({ id: peerId, displayName: m.displayName, ...(m.role ? { role: m.role } : {}) })),
      ],
      producers: this.producerInfos(self?.id),
      chat: [...this.#chat],
      locked: this.locked,
      public: this.isPublic,
      role,
      lobby: this.moderation.lobby,
      waiting: role === 'moderator' ? this.moderation.waitingList() : [],
      recording: this.#recordingSince !== undefined || this.#recordedOn !== undefined,
    };
  }

  /** What a member missed while its connection was away and no snapshot carries: the speaker, dynacast demands. */
  retell(peer: Peer): void {
    if (this.#speakerPeerId !== null) peer.notify('activeSpeaker', { peerId: this.#speakerPeerId });
    for (const producerId of peer.producers.keys()) {
      const told = this.media.demand.told(producerId);
      if (told !== undefined) peer.notify('producer:demand', { producerId, maxSpatialLayer: told });
    }
  }

  /** Who is speaking now, for a newcomer: the observer speaks only on change. */
  get activeSpeaker(): string | null {
    return this.#speakerPeerId;
  }

  /** Closes the peer and everything it owns, and tells the others. */
  removePeer(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    peer.close();
    this.#peers.delete(peer.id);
    this.#joinedAt.delete(peer.id);
    // The directory first: a node that hears of the departure then reads a count without it.
    this.#link?.left(peer.id);
    this.broadcast('peer:left', { peerId: peer.id });
    this.moderation.removed(peer.id);
    this.#speakerGone(peer.id);
    this.#log.info({ peer: peer.id, count: this.#peers.size }, 'peer left');
    this.emit('peers');
    this.#scheduleEmptyCheck();
  }

  /** Peers whose router died: they are told to rejoin, and the others see them leave. */
  #evict(peerIds: string[]): void {
    for (const id of peerIds) {
      const peer = this.#peers.get(id);
      if (!peer) continue;
      peer.notify('room:closed', { reason: 'workerclose' });
      this.removePeer(peer);
    }
  }

  #scheduleEmptyCheck(): void {
    const inUse = () => this.#peers.size > 0 || this.#joining > 0 || this.moderation.waitingHere > 0;
    if (inUse() || this.#closed) return;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => {
      if (!inUse()) this.close('empty');
    }, this.#graceMs);
  }

  broadcast<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>, exceptPeerId?: string): void {
    // In a cluster the others may have members this node has not heard of yet: always relay.
    if (!this.#link && this.#peers.size === 0) return;
    this.#fanout.toRoom(event, payload, exceptPeerId);
  }

  /** Every producer in the room but the given peer's own. */
  producerInfos(exceptPeerId?: string): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const peer of this.#peers.values()) {
      if (peer.id === exceptPeerId) continue;
      for (const p of peer.producers.values()) out.push(peer.producerInfo(p));
    }
    for (const { nodeId: _node, ...info } of this.#remoteProducers.values()) if (info.peerId !== exceptPeerId) out.push(info);
    return out;
  }

  /** Takes the directory's answer to a join as the start of the view (the first answer only). */
  #seed(shared: SharedRoom): void {
    this.#isPublic = shared.isPublic;
    this.#maxPeers = shared.maxPeers;
    this.applyModerated(shared);
    if (this.#seeded) return;
    this.#seeded = true;
    const self = this.#link?.nodeId;
    const now = Date.now();
    for (const [id, m] of shared.peers) if (m.nodeId !== self) this.#remotePeers.set(id, { ...m, seenAt: now });
    for (const [id, p] of shared.producers) if (p.nodeId !== self) this.#remoteProducers.set(id, p);
    this.#chat.splice(0, this.#chat.length, ...shared.chat);
    if (shared.recordedOn !== undefined) this.#recordedOn = shared.recordedOn;
    const buffered = this.#buffer;
    this.#buffer = [];
    // Nobody of this node is in the room yet: what the buffer changes needs telling no one.
    for (const e of buffered) this.#applyToView(e);
  }

  /** An event another node sent to the room: into the view, and on to this node's members if it is news. */
  applyRelayed(e: RelayedEvent): void {
    if (this.#closed) return;
    if (!this.#seeded) {
      if (this.#buffer.length < MAX_BUFFERED) this.#buffer.push(e);
      return;
    }
    if (this.#applyToView(e)) {
      (this.#fanout.toLocal as (ev: ServerEventName, p: unknown, except?: string) => void)(e.event, e.payload, e.exceptPeerId);
    }
  }

  /** Applies a relayed event (already parsed against its schema) to the view; false when it is a repeat. */
  #applyToView({ event, payload, fromNode }: RelayedEvent): boolean {
    const ref = payload as { id?: unknown; peerId?: unknown; producerId?: unknown };
    const touched = event === 'peer:joined' ? ref.id : event === 'peer:left' ? ref.peerId : ref.producerId;
    if (typeof touched === 'string') this.#touched.set(touched, performance.now());
    switch (event) {
      case 'peer:joined': {
        const p = payload as ServerEventPayload<'peer:joined'>;
        if (this.#peers.has(p.id) || this.#remotePeers.has(p.id)) return false;
        this.#remotePeers.set(p.id, { displayName: p.displayName, nodeId: fromNode, seenAt: Date.now(), ...(p.role ? { role: p.role } : {}) });
        this.#missing.delete(p.id);
        this.emit('peers');
        return true;
      }
      case 'peer:left': {
        const { peerId } = payload as ServerEventPayload<'peer:left'>;
        if (!this.#remotePeers.delete(peerId)) return false;
        // After the departure itself: the new host is told after the others hear who left.
        queueMicrotask(() => this.moderation.remoteLeft());
        for (const [id, p] of this.#remoteProducers) {
          if (p.peerId !== peerId) continue;
          this.#remoteProducers.delete(id);
          this.media.dropImport(id);
        }
        this.emit('peers');
        // After the departure itself, which the caller passes on.
        queueMicrotask(() => this.#speakerGone(peerId));
        return true;
      }
      case 'peer:updated': {
        const { peerId, displayName, role } = payload as ServerEventPayload<'peer:updated'>;
        const m = this.#remotePeers.get(peerId);
        if (!m || (m.displayName === displayName && (role === undefined || m.role === role))) return false;
        m.displayName = displayName;
        if (role) m.role = role;
        return true;
      }
      case 'producer:new': {
        const p = payload as ServerEventPayload<'producer:new'>;
        if (this.#remoteProducers.has(p.producerId) || this.media.producers.has(p.producerId)) return false;
        this.#remoteProducers.set(p.producerId, { ...p, nodeId: fromNode });
        this.#missing.delete(p.producerId);
        queueMicrotask(() => this.emit('remoteProducer', p.producerId));
        return true;
      }
      case 'producer:closed': {
        const { producerId } = payload as ServerEventPayload<'producer:closed'>;
        // The pipe's own close message may be lost: the view's word is enough to drop the import.
        this.media.dropImport(producerId);
        return this.#remoteProducers.delete(producerId);
      }
      case 'producer:paused':
      case 'producer:resumed': {
        const p = this.#remoteProducers.get((payload as ServerEventPayload<'producer:paused'>).producerId);
        const paused = event === 'producer:paused';
        if (!p || p.paused === paused) return false;
        p.paused = paused;
        return true;
      }
      case 'chat:message': {
        const m = payload as ChatMessage;
        if (this.#chat.some((c) => c.id === m.id)) return false;
        this.#remember(m);
        return true;
      }
      case 'recording:started':
        this.#recordedOn = fromNode;
        return true;
      case 'recording:stopped':
        if (this.#recordedOn !== fromNode) return false;
        this.#recordedOn = undefined;
        return true;
      case 'room:closed': {
        // A moderator on another node ended the meeting: it ends here too, after this node's members are told.
        if ((payload as ServerEventPayload<'room:closed'>).reason === 'ended') queueMicrotask(() => this.close('ended', true));
        return true;
      }
      default:
        return true;
    }
  }

  /** A node is gone: its members and producers leave the view, and this node's members hear of it. */
  dropNode(nodeId: string): void {
    this.moderation.dropNode(nodeId);
    if (this.#recordedOn === nodeId) {
      this.applyRelayed({ event: 'recording:stopped', payload: { reason: 'error', message: 'the node that recorded the room is gone' }, exceptPeerId: undefined, fromNode: nodeId });
    }
    for (const [id, p] of [...this.#remoteProducers]) {
      if (p.nodeId === nodeId) this.applyRelayed({ event: 'producer:closed', payload: { producerId: id, peerId: p.peerId }, exceptPeerId: undefined, fromNode: nodeId });
    }
    for (const [id, m] of [...this.#remotePeers]) {
      if (m.nodeId === nodeId) this.applyRelayed({ event: 'peer:left', payload: { peerId: id }, exceptPeerId: undefined, fromNode: nodeId });
    }
  }

  /** The speaker left: nobody speaks until the observer says otherwise (each node tells its own, in a cluster). */
  #speakerGone(peerId: string): void {
    if (this.#speakerPeerId !== peerId || this.#closed) return;
    this.#speakerPeerId = null;
    if (this.#link) this.#fanout.toLocal('activeSpeaker', { peerId: null });
    else this.broadcast('activeSpeaker', { peerId: null });
  }

  /**
   * Brings the view in line with the directory (after an outage, or as a periodic check):
   * what the directory has and the view lacks is added at once; what the view has and the
   * directory lacks goes when two re-syncs in a row agree, or at once when its node is dead
   * (after a Redis restart, live nodes need a moment to write their entries back).
   */
  resync(directory: RemoteState, isAlive: (nodeId: string) => boolean, readStartedAt: number): void {
    if (this.#closed || !this.#seeded) return;
    for (const [id, at] of this.#touched) if (at < readStartedAt - 60_000) this.#touched.delete(id);
    const settled = (id: string) => (this.#touched.get(id) ?? -Infinity) < readStartedAt;
    const self = this.#link?.nodeId;
    const relay = (event: ServerEventName, payload: unknown, fromNode: string) =>
      this.applyRelayed({ event, payload, exceptPeerId: undefined, fromNode });
    // A dead node's entries wait for their removal, not for a comeback.
    for (const [id, m] of directory.peers) {
      if (m.nodeId === self || !isAlive(m.nodeId) || !settled(id)) continue;
      const known = this.#remotePeers.get(id);
      if (!known) relay('peer:joined', { id, displayName: m.displayName }, m.nodeId);
      else if (known.displayName !== m.displayName) relay('peer:updated', { peerId: id, displayName: m.displayName }, m.nodeId);
    }
    for (const [id, p] of directory.producers) {
      if (p.nodeId === self || !isAlive(p.nodeId) || !settled(id)) continue;
      const known = this.#remoteProducers.get(id);
      const { nodeId, ...info } = p;
      if (!known) relay('producer:new', info, nodeId);
      else if (known.paused !== p.paused) relay(p.paused ? 'producer:paused' : 'producer:resumed', { producerId: id, peerId: p.peerId }, nodeId);
    }
    const missing = new Set<string>();
    const goes = (id: string, nodeId: string) => {
      if (!settled(id)) return false;
      if (!isAlive(nodeId) || this.#missing.has(id)) return true;
      missing.add(id);
      return false;
    };
    for (const [id, p] of [...this.#remoteProducers]) {
      if (!directory.producers.has(id) && goes(id, p.nodeId)) relay('producer:closed', { producerId: id, peerId: p.peerId }, p.nodeId);
    }
    for (const [id, m] of [...this.#remotePeers]) {
      if (!directory.peers.has(id) && goes(id, m.nodeId)) relay('peer:left', { peerId: id }, m.nodeId);
    }
    this.#missing = missing;
    // The pipe's own pause mirror is a message that an outage can lose: where the view and
    // the directory agree, the piped-in end follows them.
    for (const [id, p] of this.#remoteProducers) {
      if (directory.producers.get(id)?.paused === p.paused) this.media.alignImport(id, p.paused);
    }
  }

  /** This node's own share, as the directory should have it (for a re-sync after an outage). */
  ownShare(): { isPublic: boolean; passwordHash: string; lobby: boolean; maxPeers: number; members: Map<string, string>; producers: ProducerInfo[] } {
    return {
      isPublic: this.#isPublic,
      passwordHash: this.#sharedPasswordHash,
      lobby: this.moderation.lobby,
      maxPeers: this.#maxPeers,
      members: new Map([...this.#peers.values()].map((p) => [p.id, p.displayName])),
      producers: this.producerInfos().filter((p) => this.#peers.has(p.peerId)),
    };
  }

  async produce(peer: Peer, transportId: string, o: ProduceOptions): Promise<string> {
    const entry = await peer.produce(transportId, o);
    const { producer } = entry;
    const ref = { producerId: producer.id, peerId: peer.id };
    const link = this.#link;
    producer.observer.on('pause', () => {
      link?.producer(peer.producerInfo(entry));
      this.broadcast('producer:paused', ref, peer.id);
    });
    producer.observer.on('resume', () => {
      link?.producer(peer.producerInfo(entry));
      this.broadcast('producer:resumed', ref, peer.id);
    });
    // However it ends (request, transport closed, peer gone), the others hear of it once.
    producer.observer.once('close', () => {
      link?.producerClosed(producer.id);
      this.broadcast('producer:closed', ref, peer.id);
    });
    // The publisher's own uplink, for every viewer on every router: a piped producer's
    // score only describes the pipe.
    producer.on('score', (scores) => {
      this.broadcast('producer:score', { ...ref, score: Math.max(0, ...scores.map((x) => x.score)) }, peer.id);
    });
    link?.producer(peer.producerInfo(entry));
    this.broadcast('producer:new', peer.producerInfo(entry), peer.id);
    return producer.id;
  }

  /**
   * Posts `text`, which chatText() has already cleaned and checked. In a cluster the message
   * comes back to this node from the directory, in the cluster's one order, like everyone's.
   */
  async chat(peer: Peer, text: string): Promise<ChatMessage> {
    const message: ChatMessage = { id: randomUUID(), peerId: peer.id, displayName: peer.displayName, text, ts: Date.now() };
    if (this.#link) {
      await this.#link.chat(message);
      return message;
    }
    this.#remember(message);
    this.broadcast('chat:message', message);
    return message;
  }

  /** Keeps a message in the history that joins are answered with (the last CHAT_HISTORY_SIZE). */
  #remember(message: ChatMessage): void {
    this.#chat.push(message);
    if (this.#chat.length > CHAT_HISTORY_SIZE) this.#chat.splice(0, this.#chat.length - CHAT_HISTORY_SIZE);
  }

  get chatHistory(): ChatMessage[] {
    return [...this.#chat];
  }

  rename(peer: Peer, displayName: string): void {
    const name = this.#distinctName(displayName, peer.id);
    peer.displayName = name;
    this.#link?.renamed(peer.id, name);
    // A name told apart from someone else's is news to its bearer too.
    this.broadcast('peer:updated', { peerId: peer.id, displayName: name }, name === displayName ? peer.id : undefined);
  }

  /** `displayName`, or with a number if someone else here (or joining) goes by it. */
  #distinctName(displayName: string, self?: string): string {
    const taken = new Set<string>([...this.#joiningNames].map(nameKey));
    for (const p of this.#peers.values()) if (p.id !== self) taken.add(nameKey(p.displayName));
    for (const [id, m] of this.#remotePeers) if (id !== self) taken.add(nameKey(m.displayName));
    return distinctName(displayName, (key) => taken.has(key));
  }

  // ---------------------------------------------------------------- moderation
  /**
   * Pauses the member's producers of that source (the others see `producer:paused` as for
   * any pause) and tells the member. A member on another node is muted by its node.
   */
  async mute(peerId: string, source: Source): Promise<void> {
    const remote = this.#remoteMember(peerId);
    if (remote) return this.#link!.moderate(remote.nodeId, { action: 'mute', peerId, source });
    const target = this.#localMember(peerId);
    await Promise.all(
      [...target.producers.values()].filter((p) => p.source === source).map((p) => target.pauseProducer(p.producer.id)),
    );
    target.notify('peer:muted', { source });
  }

  /**
   * Sends a member of this node out: it hears `room:kicked`, the others `peer:left`.
   * Answers who it was (for keeping it out a while).
   */
  kick(peerId: string, retryAfterS: number): string | undefined {
    const target = this.#localMember(peerId);
    const identity = this.moderation.identityOf(peerId);
    target.notify('room:kicked', { retryAfterS });
    this.removePeer(target);
    return identity;
  }

  #oldestMember(): { id: string; displayName: string; local: boolean } | undefined {
    let best: { id: string; displayName: string; local: boolean; at: number } | undefined;
    const consider = (id: string, displayName: string, local: boolean, at: number) => {
      if (!best || at < best.at || (at === best.at && id < best.id)) best = { id, displayName, local, at };
    };
    for (const p of this.#peers.values()) consider(p.id, p.displayName, true, this.#joinedAt.get(p.id) ?? Date.now());
    for (const [id, m] of this.#remotePeers) consider(id, m.displayName, false, m.seenAt ?? Date.now());
    return best;
  }

  /** Before a recording starts here: in a cluster, claims it, so that one node records the room; false when another does. */
  async claimRecording(): Promise<boolean> {
    return this.#link ? this.#link.claimRecording() : true;
  }

  /** This node's recording of the room started (a time) or ended (undefined; in a cluster its claim goes). */
  setRecording(since: number | undefined): void {
    this.#recordingSince = since;
    if (since === undefined) this.#link?.releaseRecording();
  }

  /** Cluster: the node recording the room, when it is another one. */
  get recordedOn(): string | undefined {
    return this.#recordedOn;
  }

  /** Cluster: has the node recording the room stop its recording. */
  async stopRemoteRecording(): Promise<boolean> {
    if (!this.#link || this.#recordedOn === undefined) return false;
    await this.#link.moderate(this.#recordedOn, { action: 'stop-recording' });
    return true;
  }

  /** The node where a member's socket is, when it is not this one. */
  #remoteMember(peerId: string): RemoteMember | undefined {
    return this.#peers.has(peerId) ? undefined : this.#remotePeers.get(peerId);
  }

  /** Has the node of a member elsewhere remove it (that node keeps it out a while). */
  async kickRemote(peerId: string): Promise<boolean> {
    const remote = this.#remoteMember(peerId);
    if (!remote) return false;
    await this.#link!.moderate(remote.nodeId, { action: 'kick', peerId });
    return true;
  }

  #localMember(peerId: string): Peer {
    const peer = this.#peers.get(peerId);
    if (peer) return peer;
    throw notFound('peer', peerId);
  }

  /** Sets or clears the password that joins need from now on; members stay. */
  async setPassword(password: string | undefined): Promise<void> {
    if (this.#link) return this.applyModerated(await this.#link.setModerated({ password: password ?? null }));
    this.#password = password;
    this.#settingsChanged();
  }

  async setLobby(enabled: boolean): Promise<void> {
    if (this.#link) return this.applyModerated(await this.#link.setModerated({ lobby: enabled }));
    this.moderation.setLobby(enabled);
    this.#settingsChanged();
  }

  /**
   * Cluster: the lock and the waiting room as the directory has them now (a moderator here
   * or on another node changed them, or a re-sync read them); this node's members hear of a change.
   */
  applyModerated(settings: ModeratedSettings, readStartedAt?: number): void {
    if (this.#closed) return;
    // A re-sync's read from before the last change must not undo it.
    if (readStartedAt !== undefined && readStartedAt < this.#moderatedAt) return;
    if (readStartedAt === undefined) this.#moderatedAt = performance.now();
    const changed = settings.passwordHash !== this.#sharedPasswordHash || settings.lobby !== this.moderation.lobby;
    this.#sharedPasswordHash = settings.passwordHash;
    if (settings.lobby !== this.moderation.lobby) this.moderation.setLobby(settings.lobby);
    if (!changed || !this.#seeded) return;
    this.#fanout.toLocal('room:updated', { locked: this.locked, lobby: this.moderation.lobby });
    this.emit('peers');
  }

  /**
   * Before a newcomer is checked against the waiting room: a cluster share that has no
   * member yet learns the room's settings from the directory.
   */
  async refreshModerated(): Promise<void> {
    if (!this.#link || this.#seeded) return;
    const settings = await this.#link.readModerated();
    if (settings) this.applyModerated(settings);
  }

  #settingsChanged(): void {
    this.broadcast('room:updated', { locked: this.locked, lobby: this.moderation.lobby });
    this.emit('peers');
  }

  /** Ends the meeting for everyone: each member gets `room:closed { reason: 'ended' }`. */
  end(): void {
    // Other nodes' members hear it relayed and their share of the room ends too.
    if (!this.#link) return this.close('ended');
    this.#fanout.toRoom('room:closed', { reason: 'ended' });
    this.close('ended', true);
  }

  /** `told`: the members have already heard `room:closed` (a relayed end). */
  close(reason: RoomEvents['close'][0] = 'shutdown', told = false): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    this.moderation.close();
    for (const peer of [...this.#peers.values()]) {
      if (!told) peer.notify('room:closed', { reason });
      peer.close();
      // Members on other nodes hear of each departure; on shutdown they hear of the node's instead.
      if (this.#link && reason !== 'shutdown') {
        this.#link.left(peer.id);
        this.#fanout.toRoom('peer:left', { peerId: peer.id }, peer.id);
      }
    }
    this.#peers.clear();
    this.#remotePeers.clear();
    this.#remoteProducers.clear();
    this.#buffer = [];
    this.media.close();
    this.#log.info({ reason }, 'room closed');
    this.emit('close', reason);
    this.removeAllListeners();
  }
}

