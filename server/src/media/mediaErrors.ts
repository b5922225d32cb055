/**
 * mediasoup's refusals, turned into protocol errors at the place mediasoup is called. A call
 * that carries a client's parameters can fail because the parameters are wrong (mediasoup's
 * TypeErrors and UnsupportedErrors, or the worker rejecting them), because the object is
 * in the wrong state, or because the worker is gone; each has its own code. Anything else
 * is left as it is and becomes INTERNAL where the request is answered.
 */
import { errors } from 'mediasoup';
import { AppError } from '../errors.js';

/** mediasoup's local refusals name the request, e.g. "request too big [method:…]". */
const METHOD_SUFFIX = /\s*\[method:[^\]]*\]\s*$/;

export function classifyMediaError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  if (error instanceof errors.WorkerClosedError) return new AppError('INVALID_STATE', 'media worker is gone');
  if (error instanceof errors.NotFoundError) return new AppError('NOT_FOUND', error.message);
  if (error instanceof errors.UnsupportedError) return new AppError('INVALID_REQUEST', error.message);
  if (error instanceof TypeError) return new AppError('INVALID_REQUEST', error.message.replace(METHOD_SUFFIX, ''));
  // A plain Error out of a mediasoup call is the worker rejecting the request (its reason
  // is the message), e.g. a second DTLS connect.
  if (error instanceof Error && error.constructor === Error) {
    const message = error.message.replace(METHOD_SUFFIX, '');
    return new AppError(/already|closed/i.test(message) ? 'INVALID_STATE' : 'INVALID_REQUEST', message);
  }
  return error;
}

/** Runs one mediasoup call on a client's behalf; its refusals come out as protocol errors. */
export async function mediaCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw classifyMediaError(error);
  }
}
