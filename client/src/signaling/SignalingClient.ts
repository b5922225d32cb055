/**
 * Typed signaling over the shared protocol: requests resolve to the server's ack data or
 * reject with a RequestError; server events are validated with the protocol's zod schemas
 * before any listener sees them.
 */
import { io, type Socket } from 'socket.io-client';
import { Emitter } from '../lib/Emitter.js';
import {
  request,
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

export class SignalingClient extends Emitter<SignalingEvents> {
  readonly #socket: ProtocolSocket;
  #state: ConnectionState = 'connecting';

  constructor(url?: string) {
    super();
    const options = {
      // Every supported browser speaks WebSocket; skipping long-polling keeps the dev
      // proxy and reverse proxies simple.
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    };
    this.#socket = url ? io(url, options) : io(options);
    this.#socket.on('connect', () => this.#setState('connected'));
    this.#socket.on('disconnect', (reason) => {
      if (this.#state === 'closed') return;
      this.#setState('reconnecting');
      // Socket.IO retries by itself except when the server closed the socket on purpose
      // (e.g. while shutting down for a restart); a conferencing client should retry then too.
      if (reason === 'io server disconnect') this.#socket.connect();
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  request<E extends RequestName>(name: E, payload: RequestPayload<E>): Promise<ResponseData<E>> {
    return request(this.#socket, name, payload);
  }

  /** Listens to a server event; malformed payloads are reported and dropped. */
  listen<E extends ServerEventName>(event: E, handler: Handler<E>): () => void {
    const schema = SERVER_EVENT_SCHEMAS[event];
    const listener = (raw: unknown): void => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        console.warn(`dropping malformed "${event}" event`, parsed.error.issues);
        return;
      }
      handler(parsed.data as ServerEventPayload<E>);
    };
    // Socket.IO's typed `on` cannot be expressed generically over E; the schema map above
    // ties each event to its payload type.
    const socket = this.#socket as unknown as {
      on(ev: string, fn: (raw: unknown) => void): void;
      off(ev: string, fn: (raw: unknown) => void): void;
    };
    socket.on(event, listener);
    return () => socket.off(event, listener);
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#setState('closed');
    this.#socket.disconnect();
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }
}
