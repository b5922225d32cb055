/**
 * All rooms of this server, by id. Room creation is serialized per id (two peers joining a
 * new room at once get the same room), closed rooms are pruned, and changes of the public
 * list are reported once per coalescing window so a burst of joins is one `rooms:update`.
 */
import { EventEmitter } from 'node:events';
import type { RoomSummary } from '../../../protocol/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { Room, type RoomFanout } from './Room.js';

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
}

export type RoomRegistryEvents = {
  roomsupdate: [rooms: RoomSummary[]];
};

export class RoomRegistry extends EventEmitter<RoomRegistryEvents> {
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #pool: WorkerPool;
  readonly #options: RoomRegistryOptions;
  readonly #log: Logger;
  #updateTimer: NodeJS.Timeout | undefined;
  #lastSent = '';
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

  get(id: string): Room | undefined {
    const room = this.#rooms.get(id);
    return room && !room.closed ? room : undefined;
  }

  /** The public rooms that have someone in them, busiest first. */
  publicList(): RoomSummary[] {
    return [...this.#rooms.values()]
      .filter((r) => r.isPublic && !r.closed && r.peerCount > 0)
      .map((r) => r.summary())
      .sort((a, b) => b.peerCount - a.peerCount || a.id.localeCompare(b.id));
  }

  /** The room with this id, created with these settings if it does not exist. */
  async getOrCreate(id: string, settings: { password?: string; isPublic: boolean }): Promise<Room> {
    if (this.#closed) throw new AppError('INVALID_STATE', 'server is shutting down');
    const existing = this.get(id);
    if (existing) return existing;
    const pending = this.#creating.get(id);
    if (pending) return pending;
    if (this.#rooms.size >= this.#options.maxRooms) {
      throw new AppError('FORBIDDEN', `this server hosts at most ${this.#options.maxRooms} rooms`);
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
    this.#updateTimer = setTimeout(() => {
      this.#updateTimer = undefined;
      const rooms = this.publicList();
      const serialized = JSON.stringify(rooms);
      if (serialized === this.#lastSent) return;
      this.#lastSent = serialized;
      this.emit('roomsupdate', rooms);
    }, this.#options.updateMs);
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
