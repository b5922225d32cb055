/**
 * A conference: owns one router (on the least-loaded worker), its active-speaker observer,
 * its peers and its chat history. The room tells its peers about each other; it closes
 * itself when it has been empty for the grace period, or when its worker dies.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import {
  CHAT_HISTORY_SIZE,
  CHAT_MAX_LENGTH,
  type ChatMessage,
  type ProducerInfo,
  type RoomSummary,
  type ServerEventName,
  type ServerEventPayload,
} from '../../../protocol/index.js';
import { AppError, forbidden, invalidState, notFound } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool, WorkerSlot } from '../media/WorkerPool.js';
import { Peer, type Source } from './Peer.js';

export interface RoomOptions {
  id: string;
  password?: string;
  isPublic: boolean;
  maxPeers: number;
  graceMs: number;
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

export class Room extends EventEmitter<RoomEvents> {
  readonly id: string;
  readonly isPublic: boolean;
  readonly router: types.Router;
  readonly slot: WorkerSlot;
  readonly #password: string | undefined;
  readonly #maxPeers: number;
  readonly #graceMs: number;
  readonly #speaker: types.ActiveSpeakerObserver;
  readonly #peers = new Map<string, Peer>();
  readonly #chat: ChatMessage[] = [];
  readonly #log: Logger;
  #graceTimer: NodeJS.Timeout | undefined;
  #speakerPeerId: string | null = null;
  #closed = false;

  private constructor(
    o: RoomOptions,
    router: types.Router,
    slot: WorkerSlot,
    speaker: types.ActiveSpeakerObserver,
    log: Logger,
  ) {
    super();
    this.id = o.id;
    this.isPublic = o.isPublic;
    this.#password = o.password;
    this.#maxPeers = o.maxPeers;
    this.#graceMs = o.graceMs;
    this.router = router;
    this.slot = slot;
    this.#speaker = speaker;
    this.#log = log;
    router.observer.once('close', () => this.close('workerclose'));
    speaker.on('dominantspeaker', ({ producer }) => {
      const peerId = (producer.appData as { peerId?: string }).peerId ?? null;
      this.#speakerPeerId = peerId;
      this.broadcast('activeSpeaker', { peerId });
    });
  }

  static async create(o: RoomOptions, pool: WorkerPool, log: Logger): Promise<Room> {
    const { router, slot } = await pool.createRouter({ roomId: o.id });
    try {
      const speaker = await router.createActiveSpeakerObserver({ interval: 300 });
      const room = new Room(o, router, slot, speaker, log.child({ room: o.id }));
      room.#scheduleEmptyCheck();
      return room;
    } catch (error) {
      router.close();
      throw error;
    }
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

  addPeer(peer: Peer): void {
    if (this.#closed) throw invalidState('room is closing');
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#peers.set(peer.id, peer);
    this.slot.load++;
    this.broadcast('peer:joined', { id: peer.id, displayName: peer.displayName }, peer.id);
    // The observer speaks only on change: a newcomer would not learn who is talking now.
    if (this.#speakerPeerId !== null) peer.notify('activeSpeaker', { peerId: this.#speakerPeerId });
    this.#log.info({ peer: peer.id, count: this.#peers.size }, 'peer joined');
    this.emit('peers');
  }

  /** Closes the peer and everything it owns, and tells the others. */
  removePeer(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    peer.close();
    this.#peers.delete(peer.id);
    this.slot.load--;
    this.broadcast('peer:left', { peerId: peer.id });
    if (this.#speakerPeerId === peer.id) {
      this.#speakerPeerId = null;
      this.broadcast('activeSpeaker', { peerId: null });
    }
    this.#log.info({ peer: peer.id, count: this.#peers.size }, 'peer left');
    this.emit('peers');
    this.#scheduleEmptyCheck();
  }

  #scheduleEmptyCheck(): void {
    if (this.#peers.size > 0 || this.#closed) return;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => {
      if (this.#peers.size === 0) this.close('empty');
    }, this.#graceMs);
  }

  broadcast<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>, exceptPeerId?: string): void {
    for (const peer of this.#peers.values()) if (peer.id !== exceptPeerId) peer.notify(event, payload);
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

  findProducer(producerId: string): { peer: Peer; producer: types.Producer; source: Source } {
    for (const peer of this.#peers.values()) {
      const p = peer.producers.get(producerId);
      if (p) return { peer, producer: p.producer, source: p.source };
    }
    throw notFound('producer', producerId);
  }

  async produce(
    peer: Peer,
    transportId: string,
    o: { kind: types.MediaKind; rtpParameters: types.RtpParameters; source: Source; paused: boolean },
  ): Promise<string> {
    const entry = await peer.produce(transportId, o);
    const { producer } = entry;
    if (producer.kind === 'audio') {
      this.#speaker.addProducer({ producerId: producer.id }).catch((error: unknown) => {
        this.#log.warn({ err: error, producer: producer.id }, 'active speaker observer refused producer');
      });
    }
    const ref = { producerId: producer.id, peerId: peer.id };
    producer.observer.on('pause', () => this.broadcast('producer:paused', ref, peer.id));
    producer.observer.on('resume', () => this.broadcast('producer:resumed', ref, peer.id));
    // However it ends (request, transport closed, peer gone), the others hear of it once.
    producer.observer.once('close', () => this.broadcast('producer:closed', ref, peer.id));
    this.broadcast('producer:new', peer.producerInfo(entry), peer.id);
    return producer.id;
  }

  closeProducer(peer: Peer, producerId: string): void {
    peer.producer(producerId).producer.close();
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
      this.slot.load--;
    }
    this.#peers.clear();
    this.router.close();
    this.#log.info({ reason }, 'room closed');
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
