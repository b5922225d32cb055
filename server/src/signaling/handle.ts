/**
 * The one wrapper every request goes through: parse the payload with its schema, run the
 * action, and ack `{ ok: true, data }` or `{ ok: false, error: { code, message } }`.
 * Nothing thrown by an action escapes: mediasoup's argument errors become INVALID_REQUEST,
 * its state errors INVALID_STATE, anything else INTERNAL (logged, never sent with a stack).
 */
import { z } from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import type { AckResponse, ProtocolError } from '../../../protocol/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

// The protocol schemas are zod/mini, which loads no locale; without one every issue reads
// "Invalid input". English is set here, on the server alone, so the client never bundles it.
z.config(en());

/**
 * An answer with work to do once the ack is on the wire: e.g. events for a joining peer
 * must not overtake its `room:join` answer.
 */
export class AfterAck<T> {
  constructor(
    readonly data: T,
    readonly afterAck: () => void,
  ) {}
}

export type Handler<S extends z.ZodMiniType, T> = (req: z.infer<S>) => Promise<T | AfterAck<T>> | T | AfterAck<T>;

export function toProtocolError(error: unknown, log: Logger, event: string): ProtocolError {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  // mediasoup rejects bad arguments with TypeErrors. A TypeError from anywhere else, or from
  // its message serializer, is a bug on this side and must not pass for the client's fault.
  if (error instanceof TypeError && isMediasoupValidation(error)) return { code: 'INVALID_REQUEST', message: error.message };
  if (error instanceof Error) {
    switch (error.name) {
      case 'UnsupportedError':
        return { code: 'INVALID_REQUEST', message: error.message };
      case 'NotFoundError':
        return { code: 'NOT_FOUND', message: error.message };
      case 'WorkerClosedError':
        return { code: 'INVALID_STATE', message: 'media worker is gone' };
    }
    // The worker itself rejected the request (e.g. a second DTLS connect).
    if (error.stack?.includes('Channel.processResponse')) {
      const message = error.message.replace(/\s*\[method:.*$/s, '');
      return { code: /already|closed/i.test(message) ? 'INVALID_STATE' : 'INVALID_REQUEST', message };
    }
  }
  log.error({ err: error, event }, 'request failed');
  return { code: 'INTERNAL', message: 'internal error' };
}

function isMediasoupValidation(error: TypeError): boolean {
  const stack = error.stack ?? '';
  return stack.includes('/mediasoup/node/lib/') && !stack.includes('/flatbuffers/');
}

export function describeZodError(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`)
    .join('; ');
}

type AckFn = (response: AckResponse<unknown>) => void;

/** The ack callback among a request's arguments: the last one, if it is a function. */
export function ackOf(args: unknown[]): AckFn | undefined {
  const last = args.at(-1);
  return typeof last === 'function' ? (last as AckFn) : undefined;
}

/** Answers a request; an ack that throws is logged and goes no further. */
export function sendAck(ack: AckFn | undefined, response: AckResponse<unknown>, log: Logger, event: string): void {
  try {
    ack?.(response);
  } catch (error) {
    log.warn({ err: error, event }, 'ack failed');
  }
}

/**
 * Turns `(payload, ack)` from the socket into a validated call. A missing or non-function
 * ack is tolerated: the request still runs and its answer is dropped.
 */
export function wrap<S extends z.ZodMiniType, T>(
  event: string,
  schema: S,
  handler: Handler<S, T>,
  log: Logger,
  observe?: (event: string, ok: boolean) => void,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const ack = ackOf(args);
    const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
    const reply = (response: AckResponse<T>) => {
      observe?.(event, response.ok);
      sendAck(ack, response, log, event);
    };
    const parsed = schema.safeParse(payload ?? {});
    if (!parsed.success) {
      reply({ ok: false, error: { code: 'INVALID_REQUEST', message: describeZodError(parsed.error) } });
      return;
    }
    try {
      const result = await handler(parsed.data);
      if (result instanceof AfterAck) {
        reply({ ok: true, data: result.data });
        result.afterAck();
      } else {
        reply({ ok: true, data: result });
      }
    } catch (error) {
      reply({ ok: false, error: toProtocolError(error, log, event) });
    }
  };
}
