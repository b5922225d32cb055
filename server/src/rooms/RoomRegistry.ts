/**
 * All rooms of this server, by id. Room creation is serialized per id (two peers joining a
 * new room at once get the same room), closed rooms are pruned, and changes of the public
 * list are reported once per coalescing window so a burst of joins is one `rooms:update`.
 */
import { EventEmitter } from 'node:events';
import type { RoomSummary } from '../../../protocol/index.js';
import { AppError, forbidden } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { Room, type RoomFanout } from './Room.js';
import type { RoomLink } from './RoomLink.js';

export interface RoomRegistryOptions {
  maxRooms: number;
  maxPeersPerRoom: number;
  graceMs: number;
  peersPerRouter: number;
  dynacastHoldMs: number;
  /** Delivers one room's events to its members' sockets. */
  fanout: (roomId: string) => RoomFanout;
  /** Coalescing window for `roomsupdate`. */
  updateMs: number;
  /** Rooms in a `rooms:update` push and in a `rooms:list` answer without a limit. */
  pageSize: number;
  /** Cluster: the link of a room this node takes a share of, with the settings it would create it with. */
  link?: (roomId: string, settings: { isPublic: boolean; maxPeers: number }) => RoomLink;
  /** Cluster: the whole cluster's public list (this node's rooms are only part of it). */
  publicRooms?: () => Promise<RoomSummary[]>;
}

export type RoomRegistryEvents = {
  roomsupdate: [page: { rooms: RoomSummary[]; total: number }];
};

export class RoomRegistry extends EventEmitter<RoomRegistryEvents> {
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #pool: WorkerPool;
  readonly #options: RoomRegistryOptions;
  readonly #log: Logger;
  #updateTimer: NodeJS.Timeout | undefined;
  #lastSent = '';
  /** Cluster: the last list read from the directory. */
  #clusterList: RoomSummary[] = [];
  #reading = false;
  #again = false;
  #draining = false;
  #closed = false;

  constructor(pool: WorkerPool, options: RoomRegistryOptions, log: Logger) {
    super();
    this.#pool = pool;
    this.#options = options;
    this.#log = log;
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  /** Members on this node, in every room. */
  get localPeerCount(): number {
    let n = 0;
    for (const room of this.#rooms.values()) if (!room.closed) n += room.peerCount;
    return n;
  }

  /** From now on joins are refused with DRAINING; the rooms and their calls go on. */
  drain(): void {
    this.#draining = true;
  }

  get(id: string): Room | undefined {
    const room = this.#rooms.get(id);
    return room && !room.closed ? room : undefined;
  }

  /** One page of publicList() and the length of the whole list. */
  publicPage(offset = 0, limit = this.#options.pageSize): { rooms: RoomSummary[]; total: number } {
    const all = this.publicList();
    return { rooms: all.slice(offset, offset + limit), total: all.length };
  }

  /** The public rooms that have someone in them, busiest first (cluster: on every node, as last read). */
  publicList(): RoomSummary[] {
    if (this.#options.publicRooms) return this.#clusterList;
    return [...this.#rooms.values()]
      .filter((r) => r.isPublic && !r.closed && r.peerCount > 0)
      .map((r) => r.summary())
      .sort((a, b) => b.peerCount - a.peerCount || a.id.localeCompare(b.id));
  }

  /** The room with this id, created with these settings if it does not exist. */
  async getOrCreate(id: string, settings: { password?: string; isPublic: boolean }): Promise<Room> {
    if (this.#closed) throw new AppError('INVALID_STATE', 'server is shutting down');
    if (this.#draining) throw new AppError('DRAINING', 'this server is shutting down; join again on a new connection');
    const existing = this.get(id);
    if (existing) return existing;
    const pending = this.#creating.get(id);
    if (pending) return pending;
    if (this.#rooms.size >= this.#options.maxRooms) {
      throw forbidden(`this server hosts at most ${this.#options.maxRooms} rooms`, 'max-rooms');
    }
    const creation = Room.create(
      {
        id,
        isPublic: settings.isPublic,
        maxPeers: this.#options.maxPeersPerRoom,
        graceMs: this.#options.graceMs,
        peersPerRouter: this.#options.peersPerRouter,
        dynacastHoldMs: this.#options.dynacastHoldMs,
        ...(settings.password !== undefined ? { password: settings.password } : {}),
        ...(this.#options.link ? { link: this.#options.link(id, { isPublic: settings.isPublic, maxPeers: this.#options.maxPeersPerRoom }) } : {}),
      },
      this.#pool,
      this.#options.fanout(id),
      this.#log,
    ).then((room) => {
      if (this.#closed) {
        room.close('shutdown');
        throw new AppError('INVALID_STATE', 'server is shutting down');
      }
      this.#rooms.set(id, room);
      room.on('peers', () => this.scheduleUpdate());
      room.once('close', () => {
        if (this.#rooms.get(id) === room) this.#rooms.delete(id);
        this.scheduleUpdate();
      });
      return room;
    });
    this.#creating.set(id, creation);
    try {
      return await creation;
    } finally {
      this.#creating.delete(id);
    }
  }

  scheduleUpdate(): void {
    if (this.#updateTimer || this.#closed) return;
    // A change while the list is being read gets a read of its own once that one is done.
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#updateTimer = setTimeout(() => void this.#update(), this.#options.updateMs);
  }

  async #update(): Promise<void> {
    this.#updateTimer = undefined;
    const read = this.#options.publicRooms;
    if (read) {
      this.#reading = true;
      try {
        this.#clusterList = await read();
      } catch (error) {
        // Redis away: the last list stands until it is back (the cluster re-syncs then).
        this.#log.debug({ err: error }, 'could not read the public room list');
      } finally {
        this.#reading = false;
      }
      if (this.#again) {
        this.#again = false;
        this.scheduleUpdate();
      }
    }
    if (this.#closed) return;
    // Only the first page goes out: churn further down the list changes the total at most.
    const page = this.publicPage();
    const serialized = JSON.stringify(page);
    if (serialized === this.#lastSent) return;
    this.#lastSent = serialized;
    this.emit('roomsupdate', page);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#updateTimer);
    for (const room of [...this.#rooms.values()]) room.close('shutdown');
    this.#rooms.clear();
    this.removeAllListeners();
  }
}
