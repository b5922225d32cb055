/**
 * The Socket.IO side shared by every load-test peer engine: connecting the way the browser
 * client does, and holding room events back until the peer is ready to act on them.
 */
import type { EventEmitter } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerEventName, ServerToClientEvents } from '../../../protocol/index.js';

/** A Socket.IO client socket typed with the protocol's event maps. */
export type ProtocolSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function connectSocket(url: string, timeoutMs: number): Promise<ProtocolSocket> {
  const socket: ProtocolSocket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`socket connect to ${url}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.off('connect', ok);
      socket.disconnect();
      reject(new Error(`socket connect to ${url} failed: ${error.message}`, { cause: error }));
    };
    const ok = () => {
      clearTimeout(timer);
      socket.off('connect_error', fail);
      resolve(socket);
    };
    socket.once('connect', ok);
    socket.once('connect_error', fail);
  });
}

/** Server events a peer acts on. */
export const ROOM_EVENTS = [
  'producer:new',
  'producer:closed',
  'consumer:closed',
  'room:closed',
  'room:kicked',
  'server:draining',
  'activeSpeaker',
  'producer:demand',
] as const satisfies readonly ServerEventName[];

export interface EarlyEvents {
  events: [(typeof ROOM_EVENTS)[number], unknown][];
  stop(): void;
}

export function bufferRoomEvents(socket: ProtocolSocket): EarlyEvents {
  const raw = socket as unknown as EventEmitter;
  const events: EarlyEvents['events'] = [];
  const listeners = ROOM_EVENTS.map((name) => {
    const fn = (payload: unknown) => events.push([name, payload]);
    raw.on(name, fn);
    return [name, fn] as const;
  });
  return {
    events,
    stop: () => {
      for (const [name, fn] of listeners) raw.off(name, fn);
    },
  };
}
