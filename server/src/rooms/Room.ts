/**
 * A conference: its members, its chat history, its settings and its fan-out. The media
 * (routers, placement, pipes, active speaker) belong to its {@link RoomMedia}. Room events
 * go out through a {@link RoomFanout}, which addresses the room's Socket.IO room, so that
 * an adapter can carry them to sockets elsewhere. The room closes itself when it has been
 * empty for the grace period, or when its media is gone; a worker dying under some of its
 * peers sends only those peers away.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  CHAT_HISTORY_SIZE,
  CHAT_MAX_LENGTH,
  type ChatMessage,
  type JoinData,
  type ProducerInfo,
  type RoomSummary,
  type ServerEventName,
  type ServerEventPayload,
} from '../../../protocol/index.js';
import { AppError, forbidden, invalidState } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { RoomMedia } from '../media/RoomMedia.js';
import { Peer, type PeerLimits, type ProduceOptions } from './Peer.js';

export interface RoomOptions {
  id: string;
  password?: string;
  isPublic: boolean;
  maxPeers: number;
  graceMs: number;
  peersPerRouter: number;
  dynacastHoldMs: number;
}

/** Delivery of room events to members, wherever their sockets are. */
export interface RoomFanout {
  /** To every member of the room but `exceptPeerId`. */
  toRoom<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>, exceptPeerId?: string): void;
  /** To one member. */
  toPeer<E extends ServerEventName>(peerId: string, event: E, payload: ServerEventPayload<E>): void;
}

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
  close: [reason: 'empty' | 'workerclose' | 'shutdown'];
};

export interface Admission {
  displayName: string;
  password: string | undefined;
  limits: PeerLimits;
}

export class Room extends EventEmitter<RoomEvents> {
  readonly id: string;
  readonly isPublic: boolean;
  readonly media: RoomMedia;
  readonly #password: string | undefined;
  readonly #maxPeers: number;
  readonly #graceMs: number;
  readonly #fanout: RoomFanout;
  readonly #peers = new Map<string, Peer>();
  readonly #chat: ChatMessage[] = [];
  readonly #log: Logger;
  #graceTimer: NodeJS.Timeout | undefined;
  #speakerPeerId: string | null = null;
  #closed = false;

  private constructor(o: RoomOptions, media: RoomMedia, fanout: RoomFanout, log: Logger) {
    super();
    this.id = o.id;
    this.isPublic = o.isPublic;
    this.#password = o.password;
    this.#maxPeers = o.maxPeers;
    this.#graceMs = o.graceMs;
    this.media = media;
    this.#fanout = fanout;
    this.#log = log;
    media.on('close', () => this.close('workerclose'));
    media.on('routerclose', (peerIds) => this.#evict(peerIds));
    media.on('demand', (peerId, producerId, maxSpatialLayer) => {
      this.#peers.get(peerId)?.notify('producer:demand', { producerId, maxSpatialLayer });
    });
    media.on('dominantspeaker', (peerId) => {
      this.#speakerPeerId = peerId;
      this.broadcast('activeSpeaker', { peerId });
    });
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
  get locked(): boolean {
    return this.#password !== undefined;
  }
  get peerCount(): number {
    return this.#peers.size;
  }
  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  summary(): RoomSummary {
    return { id: this.id, name: this.id, peerCount: this.#peers.size, locked: this.locked, maxPeers: this.#maxPeers };
  }

  checkAdmission(password: string | undefined): void {
    if (this.#closed) throw invalidState('room is closing');
    if (this.#password !== undefined && password !== this.#password) {
      throw forbidden(password === undefined ? 'room is locked: password required' : 'wrong password');
    }
    if (this.#peers.size >= this.#maxPeers) throw new AppError('ROOM_FULL', `room is full (${this.#maxPeers} peers)`);
  }

  /** Makes sure a router has room for one more peer (the part of a join that waits). */
  async prepareJoin(password: string | undefined): Promise<void> {
    this.checkAdmission(password);
    await this.media.reserve();
  }

  /**
   * Admits a peer at once (nothing here waits, so no room event can fall between the
   * snapshot it answers with and the peer's membership), and tells the others.
   */
  admit(a: Admission): { peer: Peer; data: Omit<JoinData, 'iceServers'> } {
    this.checkAdmission(a.password);
    const id = randomUUID();
    const data = {
      peerId: id,
      roomId: this.id,
      displayName: a.displayName,
      rtpCapabilities: this.media.rtpCapabilities as JoinData['rtpCapabilities'],
      peers: [...this.#peers.values()].map((p) => ({ id: p.id, displayName: p.displayName })),
      producers: this.producerInfos(),
      chat: [...this.#chat],
      locked: this.locked,
    };
    const placement = this.media.place(id);
    const peer = new Peer({
      id,
      displayName: a.displayName,
      notify: (event, payload) => this.#fanout.toPeer(id, event, payload),
      limits: a.limits,
      placement,
      media: this.media,
    });
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#peers.set(peer.id, peer);
    this.broadcast('peer:joined', { id: peer.id, displayName: peer.displayName }, peer.id);
    this.#log.info({ peer: peer.id, count: this.#peers.size, slot: placement.slotIndex }, 'peer joined');
    this.emit('peers');
    return { peer, data };
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
    this.broadcast('peer:left', { peerId: peer.id });
    if (this.#speakerPeerId === peer.id) {
      this.#speakerPeerId = null;
      this.broadcast('activeSpeaker', { peerId: null });
    }
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
    if (this.#peers.size > 0 || this.#closed) return;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => {
      if (this.#peers.size === 0) this.close('empty');
    }, this.#graceMs);
  }

  broadcast<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>, exceptPeerId?: string): void {
    if (this.#peers.size === 0) return;
    this.#fanout.toRoom(event, payload, exceptPeerId);
  }

  /** Every producer in the room but the given peer's own. */
  producerInfos(exceptPeerId?: string): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const peer of this.#peers.values()) {
      if (peer.id === exceptPeerId) continue;
      for (const p of peer.producers.values()) out.push(peer.producerInfo(p));
    }
    return out;
  }

  async produce(peer: Peer, transportId: string, o: ProduceOptions): Promise<string> {
    const entry = await peer.produce(transportId, o);
    const { producer } = entry;
    const ref = { producerId: producer.id, peerId: peer.id };
    producer.observer.on('pause', () => this.broadcast('producer:paused', ref, peer.id));
    producer.observer.on('resume', () => this.broadcast('producer:resumed', ref, peer.id));
    // However it ends (request, transport closed, peer gone), the others hear of it once.
    producer.observer.once('close', () => this.broadcast('producer:closed', ref, peer.id));
    // The publisher's own uplink, for every viewer on every router: a piped producer's
    // score only describes the pipe.
    producer.on('score', (scores) => {
      this.broadcast('producer:score', { ...ref, score: Math.max(0, ...scores.map((x) => x.score)) }, peer.id);
    });
    this.broadcast('producer:new', peer.producerInfo(entry), peer.id);
    return producer.id;
  }

  /** Posts `text`, which chatText() has already cleaned and checked. */
  chat(peer: Peer, text: string): ChatMessage {
    const message: ChatMessage = { id: randomUUID(), peerId: peer.id, displayName: peer.displayName, text, ts: Date.now() };
    this.#chat.push(message);
    if (this.#chat.length > CHAT_HISTORY_SIZE) this.#chat.splice(0, this.#chat.length - CHAT_HISTORY_SIZE);
    this.broadcast('chat:message', message);
    return message;
  }

  get chatHistory(): ChatMessage[] {
    return [...this.#chat];
  }

  rename(peer: Peer, displayName: string): void {
    peer.displayName = displayName;
    this.broadcast('peer:updated', { peerId: peer.id, displayName }, peer.id);
  }

  close(reason: RoomEvents['close'][0] = 'shutdown'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    for (const peer of [...this.#peers.values()]) {
      peer.notify('room:closed', { reason });
      peer.close();
    }
    this.#peers.clear();
    this.media.close();
    this.#log.info({ reason }, 'room closed');
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
