/** A real Noom server in this process, on free ports, for tests. */
import { io } from 'socket.io-client';
import { loadConfig } from '../../config/index.js';
import { startNoom, type NoomServer } from '../../server/src/app.js';
import { createLogger } from '../../server/src/logger.js';
import { request, type ProtocolSocket } from '../../server/src/protocol/index.js';
import type { RequestName, RequestPayload, ResponseData, ServerEventName, ServerEventPayload } from '../../server/src/protocol/index.js';

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
} as const;

export async function startTestServer(env: Record<string, string> = {}): Promise<NoomServer> {
  const config = loadConfig({ ...TEST_ENV, ...env });
  return startNoom(config, createLogger(config.logLevel));
}

export async function connect(url: string): Promise<ProtocolSocket> {
  const socket: ProtocolSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
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

/** Collects every server event of one name that reaches a socket. */
export function collect<E extends ServerEventName>(socket: ProtocolSocket, event: E): ServerEventPayload<E>[] {
  const seen: ServerEventPayload<E>[] = [];
  (socket.on as (ev: string, fn: (p: ServerEventPayload<E>) => void) => void)(event, (p) => seen.push(p));
  return seen;
}

/** Resolves once `check` holds, polling; rejects with `what` after the timeout. */
