/**
 * Room events over Socket.IO rooms: every member's socket is in its room's channel and in
 * a channel of its own peer id, so that an event addresses members by id and an adapter
 * can carry it to sockets on other nodes.
 */
import type { Server } from 'socket.io';
import type { ClientToServerEvents, ServerEventName, ServerToClientEvents } from '../../../protocol/index.js';
import type { RoomFanout } from '../rooms/Room.js';

export type NoomIo = Server<ClientToServerEvents, ServerToClientEvents>;

export const roomChannel = (roomId: string) => `room:${roomId}`;
/** Every socket that is in some room: lobby pushes skip them. */
export const IN_ROOM_CHANNEL = 'in-room';
export const peerChannel = (peerId: string) => `peer:${peerId}`;

/** Carries a room event to the other nodes (cluster), which hand it to their own members. */
export type Relay = (roomId: string, event: ServerEventName, payload: unknown, exceptPeerId: string | undefined) => void;

/**
 * A room's fan-out. On one node, `io.to(channel)`. In a cluster the room's event goes to this
 * node's sockets and, through `relay`, to the other nodes, whose share of the room applies it
 * to its view before its sockets hear it (so that a join answered there agrees with what
 * its sockets are told). A peer's own socket is always on the node of its peer.
 */
export function ioFanout(io: NoomIo, roomId: string, relay?: Relay): RoomFanout {
  const emitTo = (target: ReturnType<NoomIo['to']>, event: string, payload: unknown) =>
    // The typed emit cannot be expressed generically over the event name; RoomFanout keeps callers honest.
    (target.emit as (ev: string, p: unknown) => boolean)(event, payload);
  const here = relay ? io.local : io;
  const toLocal = (event: ServerEventName, payload: unknown, exceptPeerId?: string) => {
    const room = here.to(roomChannel(roomId));
    emitTo(exceptPeerId ? room.except(peerChannel(exceptPeerId)) : room, event, payload);
  };
  return {
    toRoom(event, payload, exceptPeerId) {
      toLocal(event, payload, exceptPeerId);
      relay?.(roomId, event, payload, exceptPeerId);
    },
    toPeer(peerId, event, payload) {
      emitTo(here.to(peerChannel(peerId)), event, payload);
    },
    toLocal,
  };
}
