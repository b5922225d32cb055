/**
 * The join token of an invitation link: `/r/<room>#token=<JWT>` (kept out of server logs and
 * Referer headers, as a fragment is never sent) or `/r/<room>?token=<JWT>`. It is taken out
 * of the address bar at once, so that it is not copied along with the page's address, and
 * kept for this tab (sessionStorage) so that a reload still joins.
 */
const KEY = 'noom.token:';

export function takeJoinToken(roomId: string): string | undefined {
  const fromUrl = readParam(location.hash.replace(/^#/, '')) ?? readParam(location.search.replace(/^\?/, ''));
  if (fromUrl) {
    try {
      sessionStorage.setItem(KEY + roomId, fromUrl);
    } catch {
      // Storage may be unavailable (private mode): the token still serves this visit.
    }
    history.replaceState(history.state, '', location.pathname);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(KEY + roomId) ?? undefined;
  } catch {
    return undefined;
  }
}

function readParam(query: string): string | undefined {
  const value = new URLSearchParams(query).get('token')?.trim();
  return value ? value : undefined;
}
