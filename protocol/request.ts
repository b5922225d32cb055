/**
 * Promise wrapper around a protocol request, shared by the browser client, the load tester
 * and the tests. Rejects with a {@link RequestError} carrying the server's error code, or
 * with code `TIMEOUT` when no ack arrives in time.
 */
import { REFUSALS, type ErrorCode, type Refusal, type RequestName, type RequestPayload, type ResponseData } from './events.js';

/**
 * What `request` needs of a socket: Socket.IO's client `timeout(ms).emit(...)`. Described by
 * shape so that this module does not depend on a Socket.IO client build; any
 * `socket.io-client` Socket fits.
 */
export interface RequestSocket {
  timeout(ms: number): unknown;
}

type RawAck = { ok: boolean; data?: unknown; error?: { code: ErrorCode; message: string; retryAfterMs?: number; refusal?: unknown } };

export class RequestError extends Error {
  constructor(
    /** The server's code; `TIMEOUT`: no answer in time; `DISCONNECTED`: not sent, the connection is down. */
    readonly code: ErrorCode | 'TIMEOUT' | 'DISCONNECTED',
    /** The server's own words, for showing to people. */
    readonly reason: string,
    readonly request: string,
    /** RATE_LIMITED, and FORBIDDEN `removed`: how long to wait before asking again. */
    readonly retryAfterMs?: number,
    /** FORBIDDEN: why, as the server says it (absent from servers that do not say). */
    readonly refusal?: Refusal,
  ) {
    super(`${request}: ${code}: ${reason}`);
    this.name = 'RequestError';
  }
}

export function request<E extends RequestName>(
  socket: RequestSocket,
  name: E,
  payload: RequestPayload<E>,
  timeoutMs = 10_000,
): Promise<ResponseData<E>> {
  return new Promise((resolve, reject) => {
    // The typed emit cannot be expressed generically over E; the map above keeps callers honest.
    const timed = socket.timeout(timeoutMs) as unknown as {
      emit(ev: string, p: unknown, cb: (err: Error | null, res: RawAck) => void): void;
    };
    timed.emit(name, payload, (err, res) => {
      if (err) return reject(new RequestError('TIMEOUT', `no answer in ${timeoutMs} ms`, name));
      if (res.ok) return resolve(res.data as ResponseData<E>);
      const e = res.error ?? { code: 'INTERNAL' as const, message: 'malformed answer' };
      const retryAfterMs = 'retryAfterMs' in e && typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined;
      const refusal = 'refusal' in e ? REFUSALS.find((r) => r === e.refusal) : undefined;
      reject(new RequestError(e.code, e.message, name, retryAfterMs, refusal));
    });
  });
}

export interface RetryOptions {
  /** Tries in all, the first included. Default 6 (about 4 s of waiting). */
  attempts?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Checked before each retry: true gives up with the last error. */
  stop?: () => boolean;
}

/**
 * Calls `call` again while the server answers UNAVAILABLE (it cannot serve the request for a
 * moment, e.g. while a media worker is replaced), after delays that double from
 * `firstDelayMs` up to `maxDelayMs`. Any other outcome is returned or thrown as it is.
 */
export async function retryUnavailable<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 6, firstDelayMs = 250, maxDelayMs = 2000, stop } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const retryable = error instanceof RequestError && error.code === 'UNAVAILABLE';
      if (!retryable || attempt >= attempts || stop?.()) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(firstDelayMs * 2 ** (attempt - 1), maxDelayMs)));
      if (stop?.()) throw error;
    }
  }
}
