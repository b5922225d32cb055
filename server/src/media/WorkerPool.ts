/**
 * One mediasoup Worker per slot, each with a WebRtcServer so that all WebRTC transports of a
 * worker share one UDP (and TCP) port. The pool keeps the load of each slot: whoever places
 * a peer on a worker takes a lease and releases it when the peer goes, and new routers go
 * to the least-loaded slot. A worker that dies is logged and replaced in the same slot (same
 * port); the routers it carried are gone with it, and their owners learn it from mediasoup's
 * own `workerclose` events.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.js';
import { unavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import { MEDIA_CODECS } from './codecs.js';
import { createWorker } from './workerProcess.js';

export type WorkerPoolOptions = Config['mediasoup'] & {
  /** Delay before a dead worker is replaced; grows while workers keep dying. */
  respawnDelayMs?: number;
};

export interface WorkerSlot {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  /** Peers placed on this worker's routers (open leases): the measure used for placement. */
  readonly load: number;
  readonly routers: ReadonlySet<types.Router>;
}

/** A peer's place on a worker; `release()` gives it back (once, however often it is called). */
export interface WorkerLease {
  readonly slot: WorkerSlot;
  release(): void;
}

interface MutableSlot extends WorkerSlot {
  load: number;
  routers: Set<types.Router>;
}

export type WorkerPoolEvents = {
  workerdied: [slot: number, pid: number, error: Error];
  workerreplaced: [slot: number, pid: number];
  closed: [];
};

/** Least load first; among equals the one with fewer routers, then the lowest index. */
export function pickLeastLoaded<T extends { index: number; load: number; routers: { size: number } }>(
  slots: readonly T[],
): T | undefined {
  let best: T | undefined;
  for (const s of slots) {
    if (
      !best ||
      s.load < best.load ||
      (s.load === best.load && s.routers.size < best.routers.size)
    ) {
      best = s;
    }
  }
  return best;
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #slots: (MutableSlot | undefined)[];
  readonly #options: WorkerPoolOptions;
  readonly #log: Logger;
  #closed = false;
  #stopped: Promise<void> = Promise.resolve();

  private constructor(options: WorkerPoolOptions, log: Logger) {
    super();
    this.#options = options;
    this.#log = log;
    this.#slots = new Array<MutableSlot | undefined>(options.workers).fill(undefined);
  }

  static async create(options: WorkerPoolOptions, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(options, log);
    try {
      await Promise.all(pool.#slots.map((_, i) => pool.#start(i)));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Live slots, in index order. */
  get slots(): WorkerSlot[] {
    return this.#slots.filter((s): s is MutableSlot => s !== undefined);
  }

  /** The least-loaded live slot, leaving out the given slot indexes. */
  pick(exclude: ReadonlySet<number> = new Set()): WorkerSlot | undefined {
    return pickLeastLoaded(this.slots.filter((s) => !exclude.has(s.index)));
  }

  /**
   * Resolves true once at least one worker is live (at once if one is), false if none is
   * within `timeoutMs` or the pool closes: a join that arrives while the only worker is
   * being replaced waits for its replacement rather than being refused.
   */
  whenAvailable(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.slots.length > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (available: boolean) => {
        clearTimeout(timer);
        this.off('workerreplaced', onReplaced);
        this.off('closed', onClosed);
        resolve(available);
      };
      const onReplaced = () => done(true);
      const onClosed = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.on('workerreplaced', onReplaced);
      this.once('closed', onClosed);
    });
  }

  /** Counts one peer against the slot's load until the lease is released. */
  lease(slot: WorkerSlot): WorkerLease {
    const s = slot as MutableSlot;
    s.load++;
    let released = false;
    return {
      slot,
      release: () => {
        if (released) return;
        released = true;
        s.load--;
      },
    };
  }

  async #start(index: number): Promise<void> {
    const o = this.#options;
    const worker = await createWorker({
      logLevel: o.workerLogLevel,
      logTags: ['ice', 'dtls', 'srtp'],
      rtcMinPort: o.minPort,
      rtcMaxPort: o.maxPort,
      appData: { slot: index },
    });
    let webRtcServer: types.WebRtcServer;
    try {
      const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
        protocol,
        ip: o.listenIp,
        announcedAddress: o.announcedAddress,
        ...(o.portBase ? { port: o.portBase + index } : { portRange: { min: o.minPort, max: o.maxPort } }),
        // Every peer of the worker sends to this one socket: the system default (208 KiB on
        // Debian) overflows in a burst or a short stall of the worker, and each datagram
        // dropped there is lost for every consumer of its stream.
        ...(protocol === 'udp' && o.udpBufferBytes > 0 ? { recvBufferSize: o.udpBufferBytes, sendBufferSize: o.udpBufferBytes } : {}),
      });
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: o.enableTcp ? [listen('udp'), listen('tcp')] : [listen('udp')],
      });
    } catch (error) {
      worker.close();
      throw error;
    }
    if (this.#closed) {
      // Closed while this worker was starting (a replacement): it has no place any more.
      worker.close();
      return;
    }
    const slot: MutableSlot = { index, worker, webRtcServer, load: 0, routers: new Set() };
    this.#slots[index] = slot;
    worker.on('died', (error) => this.#onDied(slot, error));
    this.#log.info({ slot: index, pid: worker.pid }, 'mediasoup worker started');
  }

  #onDied(slot: MutableSlot, error: Error): void {
    if (this.#slots[slot.index] === slot) this.#slots[slot.index] = undefined;
    this.#log.error({ slot: slot.index, pid: slot.worker.pid, err: error }, 'mediasoup worker died; replacing it');
    this.emit('workerdied', slot.index, slot.worker.pid, error);
    void this.#respawn(slot.index, this.#options.respawnDelayMs ?? 500);
  }

  async #respawn(index: number, delayMs: number): Promise<void> {
    await new Promise((r) => setTimeout(r, delayMs));
    if (this.#closed) return;
    try {
      await this.#start(index);
      const slot = this.#slots[index];
      if (slot) this.emit('workerreplaced', index, slot.worker.pid);
    } catch (error) {
      // The port may still be held by the dying process for a moment: retry with back-off.
      this.#log.error({ slot: index, err: error }, 'worker replacement failed; retrying');
      void this.#respawn(index, Math.min(delayMs * 2, 10_000));
    }
  }

  /**
   * A new router on the given slot, or on the least-loaded one. The caller owns (and
   * closes) it.
   */
  async createRouter(
    appData: types.AppData = {},
    on?: WorkerSlot,
  ): Promise<{ router: types.Router; slot: WorkerSlot }> {
    if (this.#closed) throw new Error('worker pool is closed');
    const slot = (on ?? this.pick()) as MutableSlot | undefined;
    if (!slot || this.#slots[slot.index] !== slot) throw unavailable('no mediasoup worker is available');
    let router: types.Router;
    try {
      router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData });
    } catch (error) {
      // The worker died under the request (its death may not have been reported yet).
      if (slot.worker.died || slot.worker.closed || this.#slots[slot.index] !== slot) {
        throw unavailable('the media worker went away; retry in a moment');
      }
      throw error;
    }
    slot.routers.add(router);
    router.observer.once('close', () => slot.routers.delete(router));
    return { router, slot };
  }

  /**
   * Closes every worker. Resolves once their processes have exited; one that has not after
   * `graceMs` is killed, so that nothing of the pool outlives it.
   */
  close(graceMs = 3000): Promise<void> {
    if (this.#closed) return this.#stopped;
    this.#closed = true;
    const workers = this.slots.map((slot) => slot.worker);
    for (const worker of workers) worker.close();
    this.#slots.fill(undefined);
    // Joins waiting for a worker are answered now rather than at their timeout.
    this.emit('closed');
    this.removeAllListeners();
    this.#stopped = Promise.all(workers.map((worker) => exited(worker, graceMs))).then(() => undefined);
    return this.#stopped;
  }
}

function exited(worker: types.Worker, graceMs: number): Promise<void> {
  if (worker.subprocessClosed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(worker.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    worker.once('subprocessclose', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
