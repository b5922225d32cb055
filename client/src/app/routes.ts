/** Paths the client answers: `/` is the lobby, `/r/<room>` a room. */
export function roomFromPath(pathname: string): string | null {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

export function roomPath(roomId: string): string {
  return `/r/${encodeURIComponent(roomId)}`;
}
