/**
 * Memberships that can be taken back after a signaling drop. Each member's connection holds
 * its peer under a secret token (sent in the join answer). When the connection drops
 * without the client leaving, the peer is kept, media and all, for the resume window; a new
 * connection that shows the token within it takes the peer over (`room:resume`) instead of
 * joining again. A token is spent by its use, and a new one is handed out with each resume.
 *
 * A resume may also arrive while the old connection still holds the peer: the server may
 * not have noticed yet that it died (a dropped network path is only seen at the next missed
 * ping). The old connection is then told to let go.
 *
 * Sessions live on the node that holds the peer's media: in a cluster a resume that lands on
 * another node is NOT_FOUND there, and the client joins again.
 */
import { randomBytes } from 'node:crypto';
import { notFound } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Peer } from './Peer.js';
import type { Room } from './Room.js';

/** What holds a member now: a connection, which lets go of the peer when another takes it. */
export interface SessionHolder {
  /** The peer moves to another connection: stop serving it, without closing it. */
  release(): void;
}

/** What the connection serving a member needs to know of it beyond the peer. */
export interface SessionAttributes {
  /** The display name came from a join token and cannot be changed. */
  nameFromToken: boolean;
}

interface Session {
  /** The one token that takes this session now. */
  token: string;
  peer: Peer;
  room: Room;
  attributes: SessionAttributes;
  holder: SessionHolder | undefined;
  /** Set while no connection holds the peer: when it fires, the peer leaves. */
  expiry: NodeJS.Timeout | undefined;
}

export class Sessions {
  readonly #byToken = new Map<string, Session>();
  readonly #windowMs: number;
  readonly #log: Logger;

  constructor(windowMs: number, log: Logger) {
    this.#windowMs = windowMs;
    this.#log = log;
  }

  /** Whether a dropped connection's peer is kept at all (a window of 0 turns resuming off). */
  get enabled(): boolean {
    return this.#windowMs > 0;
  }

  /** Peers kept for a resume with no connection now. */
  get detachedCount(): number {
    let n = 0;
    for (const s of this.#byToken.values()) if (!s.holder) n++;
    return n;
  }

  /** A new membership, held by `holder`; returns its token. The session ends with the peer. */
  open(peer: Peer, room: Room, holder: SessionHolder, attributes: SessionAttributes): string {
    const session: Session = { token: '', peer, room, attributes, holder, expiry: undefined };
    const token = this.#issue(session);
    peer.onClose(() => this.#end(session));
    return token;
  }

  /**
   * The holder's connection dropped without the client leaving: the peer stays in its room
   * for the resume window, then leaves.
   */
  detach(token: string, holder: SessionHolder): void {
    const session = this.#byToken.get(token);
    if (!session || session.holder !== holder) return;
    session.holder = undefined;
    session.expiry = setTimeout(() => {
      session.expiry = undefined;
      this.#log.info({ peer: session.peer.id, room: session.room.id }, 'resume window over; peer leaves');
      session.room.removePeer(session.peer);
    }, this.#windowMs);
  }

  /**
   * Hands the session to `holder` (its previous holder, if any, lets go) and returns the
   * peer, its room, what else its connection must know, and the token for the next resume. NOT_FOUND for an unknown, spent or
   * expired token.
   */
  take(token: string, holder: SessionHolder): { peer: Peer; room: Room; token: string; attributes: SessionAttributes } {
    const session = this.#byToken.get(token);
    if (!session || session.peer.closed || session.room.closed) throw notFound('session', 'for this token');
    clearTimeout(session.expiry);
    session.expiry = undefined;
    const previous = session.holder;
    session.holder = holder;
    if (previous && previous !== holder) previous.release();
    return { peer: session.peer, room: session.room, token: this.#issue(session), attributes: session.attributes };
  }

  #issue(session: Session): string {
    this.#byToken.delete(session.token);
    session.token = randomBytes(24).toString('base64url');
    this.#byToken.set(session.token, session);
    return session.token;
  }

  #end(session: Session): void {
    clearTimeout(session.expiry);
    session.expiry = undefined;
    this.#byToken.delete(session.token);
  }

  close(): void {
    for (const s of this.#byToken.values()) clearTimeout(s.expiry);
    this.#byToken.clear();
  }
}
