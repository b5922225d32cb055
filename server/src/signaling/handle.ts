/**
 * The one wrapper every request goes through: parse the payload with its schema, run the
 * action, and ack `{ ok: true, data }` or `{ ok: false, error: { code, message } }`.
 * Nothing thrown by an action escapes: an AppError (mediasoup's refusals are turned into
 * those where mediasoup is called) goes out with its code, anything else as INTERNAL
 * (logged, never sent with a stack).
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
 * An answer decided at the last moment: `run` is called synchronously right before the ack
 * is sent, so that nothing can happen between what it does and the answer going out (a
 * joining peer's snapshot of the room and its membership, for instance). `afterAck` runs
 * once the answer is on the wire.
 */
export class Commit<T> {
  constructor(readonly run: () => { data: T; afterAck?: () => void }) {}
}

export type Handler<S extends z.ZodMiniType, T> = (req: z.infer<S>) => Promise<T | Commit<T>> | T | Commit<T>;

export function toProtocolError(error: unknown, log: Logger, event: string): ProtocolError {
  if (error instanceof AppError) {
    const { retryAfterMs, refusal } = error.details;
    return {
      code: error.code,
      message: error.message,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(refusal !== undefined ? { refusal } : {}),
    };
  }
  log.error({ err: error, event }, 'request failed');
  return { code: 'INTERNAL', message: 'internal error' };
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
  /** A payload its schema refused (counted against floods). */
  onInvalid?: () => void,
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
      onInvalid?.();
      reply({ ok: false, error: { code: 'INVALID_REQUEST', message: describeZodError(parsed.error) } });
      return;
    }
    try {
      const result = await handler(parsed.data);
      if (result instanceof Commit) {
        const { data, afterAck } = result.run();
        reply({ ok: true, data });
        afterAck?.();
      } else {
        reply({ ok: true, data: result });
      }
    } catch (error) {
      reply({ ok: false, error: toProtocolError(error, log, event) });
    }
  };
}
