/** A real Noom server in this process, on free ports, for tests. */
import { connectSocket, type ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { loadConfig } from '../../config/index.js';
import { startNoom, type NoomServer } from '../../server/src/app.js';
import type { Room } from '../../server/src/rooms/Room.js';
import type { types } from 'mediasoup';
import { createLogger } from '../../server/src/logger.js';
import { request } from '../../protocol/index.js';
import type { RequestName, RequestPayload, ResponseData, ServerEventName, ServerEventPayload } from '../../protocol/index.js';

export const TEST_ENV = {
  HOST: '127.0.0.1',
  PORT: '0',
  RTC_LISTEN_IP: '127.0.0.1',
  ANNOUNCED_IP: '127.0.0.1',
  RTC_PORT_BASE: '0',
  WORKERS: '1',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  ROOM_GRACE_MS: '200',
  ROOMS_UPDATE_MS: '50',
  // A test process stops at once when signalled; the drain tests set their own.
  DRAIN_TIMEOUT: '0',
  // Every test client comes from this machine; the abuse-limit tests set their own.
  RATE_LIMIT_EXEMPT: 'loopback',
} as const;

export async function startTestServer(env: Record<string, string> = {}): Promise<NoomServer> {
  const config = loadConfig({ ...TEST_ENV, ...env });
  return startNoom(config, createLogger(config.logLevel));
}

/** A Socket.IO client connected the way the browser client connects; fails after 5 s. */
export function connect(url: string): Promise<ProtocolSocket> {
  return connectSocket(url, 5000);
}

export function req<E extends RequestName>(
  socket: ProtocolSocket,
  name: E,
  payload: RequestPayload<E>,
): Promise<ResponseData<E>> {
  return request(socket, name, payload, 5000);
}

/** The raw ack of a request, for tests that send payloads the types would refuse. */
export function rawAck(socket: ProtocolSocket, name: string, ...args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no ack in 5 s`)), 5000);
    (socket.emit as (ev: string, ...a: unknown[]) => void)(name, ...args, (res: unknown) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}

/** The error code of a raw ack, undefined for a success. */
export function errorCode(res: unknown): string | undefined {
  return (res as { ok: boolean; error?: { code: string } }).error?.code;
}

/** A refusal's code and reason word, as `FORBIDDEN/removed` (`CODE/-` when it gives no reason). */
export function refusalOf(res: unknown): string | undefined {
  const error = (res as { ok: boolean; error?: { code: string; refusal?: string } }).error;
  return error && `${error.code}/${error.refusal ?? '-'}`;
}

/** Collects every server event of one name that reaches a socket. */
export function collect<E extends ServerEventName>(socket: ProtocolSocket, event: E): ServerEventPayload<E>[] {
  const seen: ServerEventPayload<E>[] = [];
  (socket.on as (ev: string, fn: (p: ServerEventPayload<E>) => void) => void)(event, (p) => seen.push(p));
  return seen;
}


/** The router of a room that lives on one worker (every test server with WORKERS=1). */
export function onlyRouter(room: Room): types.Router {
  const routers = room.media.routers;
  if (routers.length !== 1) throw new Error(`room ${room.id} has ${routers.length} routers, not one`);
  return routers[0]!.router;
}

/** The sockets a test file opens, to close together in its after hook. */
export function socketTracker(): { open(url: string): Promise<ProtocolSocket>; closeAll(): void } {
  const sockets: ProtocolSocket[] = [];
  return {
    async open(url) {
      const s = await connect(url);
      sockets.push(s);
      return s;
    },
    closeAll() {
      for (const s of sockets.splice(0)) s.close();
    },
  };
}
