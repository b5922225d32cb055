/**
 * Room events over Socket.IO rooms: every member's socket is in its room's channel and in
 * a channel of its own peer id, so that an event addresses members by id and an adapter
 * can carry it to sockets on other nodes.
 */
import type { Server } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../protocol/index.js';
import type { RoomFanout } from '../rooms/Room.js';

export type NoomIo = Server<ClientToServerEvents, ServerToClientEvents>;

export const roomChannel = (roomId: string) => `room:${roomId}`;
export const peerChannel = (peerId: string) => `peer:${peerId}`;

export function ioFanout(io: NoomIo, roomId: string): RoomFanout {
  const emitTo = (target: ReturnType<NoomIo['to']>, event: string, payload: unknown) =>
    // The typed emit cannot be expressed generically over the event name; RoomFanout keeps callers honest.
    (target.emit as (ev: string, p: unknown) => boolean)(event, payload);
  return {
    toRoom(event, payload, exceptPeerId) {
      const room = io.to(roomChannel(roomId));
      emitTo(exceptPeerId ? room.except(peerChannel(exceptPeerId)) : room, event, payload);
    },
    toPeer(peerId, event, payload) {
      emitTo(io.to(peerChannel(peerId)), event, payload);
    },
  };
}
