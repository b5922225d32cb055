/**
 * TURN credentials in coturn's REST API scheme (`use-auth-secret`), so that no long-lived
 * TURN password ever reaches a browser: the username is `<expiry>:<peer id>` (expiry in Unix
 * seconds) and the password is base64(HMAC-SHA1(shared secret, username)). coturn computes
 * the same HMAC from its `static-auth-secret` and refuses a username whose expiry has passed.
 */
import { createHmac } from 'node:crypto';
import type { Config, TurnConfig } from '../../../config/index.js';
import type { RTCIceServerLike } from '../../../protocol/index.js';

export interface TurnCredentials {
  username: string;
  credential: string;
}

/** Credentials for `userId` that coturn accepts until `expiresAtS` (Unix seconds). */
export function turnCredentials(secret: string, userId: string, expiresAtS: number): TurnCredentials {
  // coturn splits the username at its first ':' (its default rest-api-separator).
  if (userId.includes(':')) throw new TypeError('a TURN user id cannot contain ":"');
  const username = `${Math.floor(expiresAtS)}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The TURN entry of a join answer: every configured URL with this peer's fresh credentials. */
export function turnServer(turn: TurnConfig, peerId: string, nowMs = Date.now()): RTCIceServerLike {
  return { urls: turn.urls, ...turnCredentials(turn.secret, peerId, nowMs / 1000 + turn.ttlS) };
}

/** What a joining peer is told to use: the static ICE_SERVERS, then the TURN servers, if any. */
export function iceServersFor(config: Pick<Config, 'iceServers' | 'turn'>, peerId: string, nowMs = Date.now()): RTCIceServerLike[] {
  return config.turn ? [...config.iceServers, turnServer(config.turn, peerId, nowMs)] : config.iceServers;
}
