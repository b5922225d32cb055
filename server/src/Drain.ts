/**
 * The drain before a shutdown: the node takes no new joins (RoomRegistry answers DRAINING and
 * /readyz turns 503), tells every socket `server:draining` (also those that connect while it
 * lasts), and lets the calls on it go on until none is left or the timeout passes. Closing
 * the rooms and the server afterwards is the caller's job.
 */
import type { ServerEventPayload } from '../../protocol/index.js';
import type { Logger } from './logger.js';
import type { RoomRegistry } from './rooms/RoomRegistry.js';
import type { NoomIo } from './signaling/fanout.js';

export interface DrainDeps {
  io: NoomIo;
  rooms: RoomRegistry;
  /** Live nodes of the cluster besides this one (0 for a single server). */
  otherNodes: () => number;
  log: Logger;
}

/** How the drain ended: nobody left on this node, the timeout, or cut short. */
export type DrainEnd = 'empty' | 'timeout' | 'stopped';

/** How often the node's member count is looked at while draining. */
const CHECK_MS = 200;

export class Drain {
  readonly #deps: DrainDeps;
  #deadline: number | undefined;
  #done: Promise<DrainEnd> | undefined;
  #finish: ((end: DrainEnd) => void) | undefined;

  constructor(deps: DrainDeps) {
    this.#deps = deps;
  }

  get active(): boolean {
    return this.#deadline !== undefined;
  }

  /** The event for a socket: one of the node's at the start, or one connecting meanwhile. */
  notice(): ServerEventPayload<'server:draining'> | undefined {
    if (this.#deadline === undefined) return undefined;
    return {
      deadline: this.#deadline,
      remainingMs: Math.max(0, this.#deadline - Date.now()),
      otherNodes: this.#deps.otherNodes(),
    };
  }

  /** Starts the drain (once); resolves when no member is left on this node or after `timeoutMs`. */
  start(timeoutMs: number): Promise<DrainEnd> {
    if (this.#done) return this.#done;
    const { io, rooms, log } = this.#deps;
    this.#deadline = Date.now() + timeoutMs;
    rooms.drain();
    const notice = this.notice()!;
    // This node's sockets only: in a cluster the other nodes are not going anywhere.
    io.local.emit('server:draining', notice);
    log.info({ members: rooms.localPeerCount, timeoutMs, otherNodes: notice.otherNodes }, 'draining');
    this.#done = new Promise<DrainEnd>((resolve) => {
      const timer = setTimeout(() => end('timeout'), timeoutMs);
      const check = setInterval(() => {
        if (rooms.localPeerCount === 0) end('empty');
      }, CHECK_MS);
      const end = (how: DrainEnd) => {
        clearTimeout(timer);
        clearInterval(check);
        this.#finish = undefined;
        log.info({ how, members: rooms.localPeerCount }, 'drain over');
        resolve(how);
      };
      this.#finish = end;
      if (rooms.localPeerCount === 0) end('empty');
    });
    return this.#done;
  }

  /** Ends a running drain now (a second signal, or the server closing). */
  stop(): void {
    this.#finish?.('stopped');
  }
}
