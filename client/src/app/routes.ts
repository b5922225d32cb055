import { parseRoomId, type RoomIdResult } from '../protocol.js';

/**
 * Paths the client answers: `/` is the lobby, `/r/<room>` a room. A room link is read with
 * the same rule as the lobby's room names and the server's room ids, so `/r/My%20Room`
 * is the room the lobby calls `my-room`. Null: not a room path.
 */
export function roomFromPath(pathname: string): RoomIdResult | null {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (!match) return null;
  let raw: string;
  try {
    raw = decodeURIComponent(match[1] ?? '');
  } catch {
    raw = match[1] ?? '';
  }
  return parseRoomId(raw);
}

export function roomPath(roomId: string): string {
  return `/r/${encodeURIComponent(roomId)}`;
}
