/**
 * The moderation requests: each one answers FORBIDDEN unless the asking peer is a moderator
 * of its room, then acts on the room (see Room's moderation section and RoomModeration).
 */
import type { z } from 'zod/mini';
import {
  Empty,
  LobbyDecisionRequest,
  PeerKickRequest,
  PeerMuteRequest,
  RoomLobbyRequest,
  RoomLockRequest,
  type EmptyData,
  type RequestName,
} from '../../../protocol/index.js';
import { AppError } from '../errors.js';
import { kickAndBan, type KickBans } from '../rooms/moderation/KickBans.js';
import type { Peer } from '../rooms/Peer.js';
import type { Room } from '../rooms/Room.js';
import type { Handler } from './handle.js';

export type On = <E extends RequestName, S extends z.ZodMiniType, T>(event: E, schema: S, handler: Handler<S, T>) => void;

const EMPTY: EmptyData = {};

export function registerModeration(on: On, member: () => { peer: Peer; room: Room }, bans: KickBans): void {
  /** The room of a moderator; FORBIDDEN for anyone else. */
  const moderated = () => {
    const { peer, room } = member();
    room.moderation.assertModerator(peer.id);
    return { peer, room };
  };

  on('peer:mute', PeerMuteRequest, async ({ peerId, source }) => {
    await moderated().room.mute(peerId, source);
    return EMPTY;
  });

  on('peer:kick', PeerKickRequest, async ({ peerId }) => {
    const { peer, room } = moderated();
    if (peerId === peer.id) throw new AppError('INVALID_REQUEST', 'leave the room instead of removing yourself');
    await kickAndBan(room, peerId, bans);
    return EMPTY;
  });

  on('room:lock', RoomLockRequest, async ({ password }) => {
    await moderated().room.setPassword(password);
    return EMPTY;
  });

  on('room:unlock', Empty, async () => {
    await moderated().room.setPassword(undefined);
    return EMPTY;
  });

  on('room:end', Empty, () => {
    moderated().room.end();
    return EMPTY;
  });

  on('room:lobby', RoomLobbyRequest, async ({ enabled }) => {
    await moderated().room.setLobby(enabled);
    return EMPTY;
  });

  on('lobby:admit', LobbyDecisionRequest, async ({ peerId }) => {
    await moderated().room.moderation.admit(peerId);
    return EMPTY;
  });

  on('lobby:deny', LobbyDecisionRequest, async ({ peerId }) => {
    await moderated().room.moderation.deny(peerId);
    return EMPTY;
  });
}
