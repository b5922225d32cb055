/**
 * Typed signaling over the shared protocol: requests resolve to the server's ack data or
 * reject with a RequestError; server events are validated with the protocol's zod schemas
 * before any listener sees them.
 *
 * When the server says it is draining (`server:draining`) and other nodes of its cluster are
 * up, the client moves: it opens a second connection to the same address (a load balancer
 * sends it to a node that is not draining), and only if that one reaches such a node does it
 * switch to it, closing the old one. Listeners see that as `reconnecting` then `connected`,
 * as after a lost connection, so the room session rejoins there.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { Emitter } from '../lib/Emitter.js';
import {
  request,
  RequestError,
  SERVER_EVENT_SCHEMAS,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type RequestName,
  type RequestPayload,
  type ResponseData,
  type ServerEventName,
  type ServerEventPayload,
} from '../protocol.js';

type ProtocolSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * `connecting`: first connection not yet made; `connected`; `reconnecting`: the
 * connection was lost and Socket.IO is retrying; `closed`: closed by us.
 */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

type SignalingEvents = {
  state: [ConnectionState];
};

type Handler<E extends ServerEventName> = (payload: ServerEventPayload<E>) => void;
type RawListener = (raw: unknown) => void;
/** Socket.IO's typed `on` cannot be expressed generically over the event name. */
type UntypedSocket = { on(ev: string, fn: RawListener): void; off(ev: string, fn: RawListener): void };

/** How long a connection to another node may take to open and answer before it is given up. */
const MOVE_PROBE_MS = 5000;
/** Attempts to move are this far apart (each drawn up to twice this), so a roomful does not move in step. */
const MOVE_RETRY_MS = 1500;
/** No attempt to move this close to the deadline: the rooms close then, and the reconnect follows. */
const MOVE_CUTOFF_MS = 1000;

export class SignalingClient extends Emitter<SignalingEvents> {
  readonly #url: string | undefined;
  #socket: ProtocolSocket;
  #state: ConnectionState = 'connecting';
  /** Every `listen()`er by event, so that a move can attach them to the new connection. */
  readonly #listeners = new Map<string, Set<RawListener>>();
  #moving = false;
  #moveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(url?: string) {
    super();
    this.#url = url;
    this.#socket = this.#open();
    this.#attach(this.#socket);
    this.#listenInternal();
    // Leaving the page says goodbye, so the server lets our place go at once instead of
    // keeping it for a resume after what looks like a dropped connection.
    window.addEventListener('pagehide', () => this.close());
    // A page brought back from the back-forward cache has no connection any more.
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) location.reload();
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** True while the connection is being switched to another server (during `reconnecting`). */
  get moving(): boolean {
    return this.#moving;
  }

  /**
   * Resolves once connected (at once if connected now); rejects with `TIMEOUT` after
   * `timeoutMs`, or `DISCONNECTED` if the client is closed meanwhile.
   */
  whenConnected(timeoutMs = 10_000): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new RequestError('DISCONNECTED', 'closed', 'connect'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new RequestError('TIMEOUT', `not connected within ${timeoutMs} ms`, 'connect'));
      }, timeoutMs);
      const off = this.on('state', (state) => {
        if (state !== 'connected' && state !== 'closed') return;
        clearTimeout(timer);
        off();
        if (state === 'connected') resolve();
        else reject(new RequestError('DISCONNECTED', 'closed', 'connect'));
      });
    });
  }

  /**
   * Sends a request; `timeoutMs`: how long to wait for the answer (protocol/request.ts's
   * default otherwise). While the connection is being re-established it fails at once
   * (`DISCONNECTED`) rather than being queued: the first request on a new connection must be
   * the one that resumes the session.
   */
  request<E extends RequestName>(name: E, payload: RequestPayload<E>, timeoutMs?: number): Promise<ResponseData<E>> {
    if (this.#state === 'reconnecting' || this.#state === 'closed') {
      return Promise.reject(new RequestError('DISCONNECTED', 'not connected to the server', name));
    }
    return request(this.#socket, name, payload, timeoutMs);
  }

  /** Listens to a server event; malformed payloads are reported and dropped. */
  listen<E extends ServerEventName>(event: E, handler: Handler<E>): () => void {
    const schema = SERVER_EVENT_SCHEMAS[event];
    const listener: RawListener = (raw) => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        console.warn(`dropping malformed "${event}" event`, parsed.error.issues);
        return;
      }
      handler(parsed.data as ServerEventPayload<E>);
    };
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    (this.#socket as unknown as UntypedSocket).on(event, listener);
    return () => {
      set.delete(listener);
      (this.#socket as unknown as UntypedSocket).off(event, listener);
    };
  }

  close(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#moveTimer);
    this.#setState('closed');
    this.#socket.disconnect();
  }

  #open(extra: Partial<ManagerOptions & SocketOptions> = {}): ProtocolSocket {
    const options = {
      // Every supported browser speaks WebSocket; skipping long-polling keeps the dev
      // proxy and reverse proxies simple.
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      ...extra,
    };
    return this.#url ? io(this.#url, options) : io(options);
  }

  /** The connection's own handlers: its state, and the listeners of `listen()`. */
  #attach(socket: ProtocolSocket): void {
    socket.on('connect', () => this.#setState('connected'));
    socket.on('disconnect', (reason) => {
      if (this.#state === 'closed' || socket !== this.#socket) return;
      this.#setState('reconnecting');
      // Socket.IO retries by itself except when the server closed the socket on purpose
      // (e.g. while shutting down for a restart); a conferencing client should retry then too.
      if (reason === 'io server disconnect') socket.connect();
    });
    for (const [event, set] of this.#listeners) {
      for (const listener of set) (socket as unknown as UntypedSocket).on(event, listener);
    }
  }

  #listenInternal(): void {
    this.listen('server:draining', ({ remainingMs, otherNodes }) => {
      if (otherNodes > 0) this.#scheduleMove(Date.now() + remainingMs, Math.random() * MOVE_RETRY_MS);
    });
  }

  #scheduleMove(deadline: number, delayMs: number): void {
    clearTimeout(this.#moveTimer);
    if (Date.now() + delayMs > deadline - MOVE_CUTOFF_MS || this.#state === 'closed') return;
    this.#moveTimer = setTimeout(() => {
      void this.#tryMove().then((moved) => {
        if (!moved) this.#scheduleMove(deadline, MOVE_RETRY_MS * (1 + Math.random()));
      });
    }, delayMs);
  }

  /**
   * Opens a connection to the same address and switches to it if it reached a server that is
   * not draining (one that is tells every socket so on connecting, before any answer).
   */
  async #tryMove(): Promise<boolean> {
    if (this.#state !== 'connected') return false;
    const probe = this.#open({ forceNew: true, reconnection: false, timeout: MOVE_PROBE_MS });
    let draining = false;
    probe.on('server:draining', () => (draining = true));
    try {
      await new Promise<void>((resolve, reject) => {
        probe.once('connect', () => resolve());
        probe.once('connect_error', reject);
      });
      await request(probe, 'rooms:list', {}, MOVE_PROBE_MS);
    } catch {
      probe.disconnect();
      return false;
    }
    if (draining || this.#state !== 'connected') {
      probe.disconnect();
      return false;
    }
    this.#switchTo(probe);
    return true;
  }

  #switchTo(next: ProtocolSocket): void {
    const previous = this.#socket;
    this.#moving = true;
    try {
      // The session drops its membership as after a lost connection; the old server sees the
      // old socket go, which takes our peer out of the room there.
      this.#setState('reconnecting');
      this.#socket = next;
      previous.removeAllListeners();
      previous.disconnect();
      next.off('server:draining');
      next.io.reconnection(true);
      this.#attach(next);
      this.#setState('connected');
    } finally {
      this.#moving = false;
    }
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }
}
