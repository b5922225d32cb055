/**
 * Errors that travel to clients. Each carries a stable protocol code; the message is meant
 * for people and never includes a stack trace.
 */
import type { ErrorCode, Refusal } from '../../protocol/index.js';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { retryAfterMs?: number; refusal?: Refusal } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, id: string) => new AppError('NOT_FOUND', `${what} ${id} not found`);
export const invalidState = (message: string) => new AppError('INVALID_STATE', message);
export const forbidden = (message: string, refusal: Refusal, retryAfterMs?: number) =>
  new AppError('FORBIDDEN', message, { refusal, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
/** A locked room refusing a join: no password given, or the wrong one. */
export const roomLocked = (passwordGiven: boolean) =>
  passwordGiven ? new WrongPasswordError() : forbidden('room is locked: password required', 'password-required');
/** A join with a password that is not the room's: counted against the client's address. */
export class WrongPasswordError extends AppError {
  constructor() {
    super('FORBIDDEN', 'wrong password', { refusal: 'wrong-password' });
  }
}
export const roomFull = (maxPeers: number) => new AppError('ROOM_FULL', `room is full (${maxPeers} peers)`);
/** Nothing is wrong with the request; the server cannot serve it for a moment (a media worker is being replaced). */
export const unavailable = (message: string) => new AppError('UNAVAILABLE', message);
