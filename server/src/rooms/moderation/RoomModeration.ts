/**
 * A room's roles and its waiting room. Roles come from join tokens; on an open server (no
 * AUTH_SECRET) the room's first peer is its host, a moderator, and when the last moderator
 * leaves the host role passes to the member who has been in the room longest (the room is
 * told with `peer:updated { role }`). The lobby holds newcomers until a moderator admits or
 * denies them; moderators hear of each one (`lobby:waiting`, `lobby:left`).
 *
 * In a cluster a newcomer waits on the node of its socket; that node tells the others, so
 * that moderators everywhere see the whole waiting room, and a decision about a newcomer
 * waiting elsewhere is carried out by its node.
 */
import { randomUUID } from 'node:crypto';
import type { Role, ServerEventName, ServerEventPayload, WaitingPeer } from '../../../../protocol/index.js';
import { AppError, forbidden, invalidState, notFound } from '../../errors.js';
import type { LobbyNews } from '../RoomLink.js';

export interface ModerationHost {
  /** Local members, oldest first. */
  localPeers(): Iterable<{ id: string; displayName: string }>;
  /**
   * The member present longest, here or (cluster) on another node, as far as this node
   * knows; `local`: its socket is on this node.
   */
  oldestMember(): { id: string; displayName: string; local: boolean } | undefined;
  /** Roles of members on other nodes, as far as this node knows them. */
  remoteRoles(): Iterable<Role | undefined>;
  /** How many members the room has here and elsewhere. */
  memberCount(): number;
  notify<E extends ServerEventName>(peerId: string, event: E, payload: ServerEventPayload<E>): void;
  broadcast<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>): void;
  /** Someone stopped waiting here (admitted, denied or gone): an empty room may close now. */
  waitingEnded(): void;
  /** Cluster: tells the other nodes' moderators. */
  relayLobby?(news: LobbyNews): void;
  /** Cluster: has the node where a newcomer waits admit or deny it. */
  decideRemote?(nodeId: string, action: 'admit' | 'deny', peerId: string): Promise<void>;
}

interface Waiter {
  displayName: string;
  admit: () => void;
  deny: (error: AppError) => void;
}

/** A newcomer's place in the lobby: resolves when admitted, rejects when denied or the room goes. */
export interface LobbyPlace {
  readonly peerId: string;
  readonly admitted: Promise<void>;
  /** The newcomer went (socket closed): moderators are told. */
  leave(): void;
}

export class RoomModeration {
  readonly #host: ModerationHost;
  readonly #lobbyMax: number;
  readonly #roles = new Map<string, Role>();
  readonly #identities = new Map<string, string>();
  readonly #waiting = new Map<string, Waiter>();
  /** Cluster: who waits on other nodes, and where. */
  readonly #remoteWaiting = new Map<string, { displayName: string; nodeId: string }>();
  /** Open server: roles are not given by tokens, and the host role passes on. */
  #hosted = false;
  #lobby = false;

  constructor(host: ModerationHost, lobbyMax: number) {
    this.#host = host;
    this.#lobbyMax = lobbyMax;
  }

  get lobby(): boolean {
    return this.#lobby;
  }

  roleOf(peerId: string): Role {
    return this.#roles.get(peerId) ?? 'participant';
  }

  identityOf(peerId: string): string | undefined {
    return this.#identities.get(peerId);
  }

  /** Throws FORBIDDEN unless the peer moderates the room. */
  assertModerator(peerId: string): void {
    if (this.roleOf(peerId) !== 'moderator') throw forbidden('only moderators may do that', 'not-moderator');
  }

  /** Throws FORBIDDEN unless the peer may send media. */
  assertMayPublish(peerId: string): void {
    if (this.roleOf(peerId) === 'viewer') throw forbidden('viewers cannot publish', 'viewer');
  }

  #hasModerator(): boolean {
    for (const role of this.#roles.values()) if (role === 'moderator') return true;
    for (const role of this.#host.remoteRoles()) if (role === 'moderator') return true;
    return false;
  }

  /**
   * The role a peer joins with: the token's, or (open server) moderator for the room's
   * first peer and participant for the others. Called synchronously with the admission.
   */
  admitted(peerId: string, granted: Role | undefined, identity: string): Role {
    if (granted === undefined) this.#hosted = true;
    const role = granted ?? (this.#host.memberCount() === 0 && !this.#hasModerator() ? 'moderator' : 'participant');
    this.#roles.set(peerId, role);
    this.#identities.set(peerId, identity);
    return role;
  }

  /** A member of this node left: on an open server the host role passes on if no moderator remains. */
  removed(peerId: string): void {
    this.#roles.delete(peerId);
    this.#identities.delete(peerId);
    this.#passHost();
  }

  /**
   * A member of another node left. In a cluster every node runs the same choice on its own
   * view: the member present longest becomes host, and only its node says so. A node knows
   * its own members' join times and learns of the others' no earlier than they joined, so
   * the node of the truly oldest member always picks it: the room is never left without a
   * host (two nodes whose views differ for a moment may name one each).
   */
  remoteLeft(): void {
    this.#passHost();
  }

  #passHost(): void {
    if (!this.#hosted || this.#hasModerator()) return;
    const next = this.#host.oldestMember();
    if (!next?.local) return;
    this.#roles.set(next.id, 'moderator');
    this.#host.broadcast('peer:updated', { peerId: next.id, displayName: next.displayName, role: 'moderator' });
    // A new host hears of whoever is already waiting.
    for (const w of this.waitingList()) this.#host.notify(next.id, 'lobby:waiting', w);
  }

  /** Newcomers waiting on this node: they keep the room open (in a cluster, a node's share may have no member yet). */
  get waitingHere(): number {
    return this.#waiting.size;
  }

  /** Who waits in the lobby now (here first, then on other nodes), oldest first. */
  waitingList(): WaitingPeer[] {
    return [
      ...[...this.#waiting].map(([peerId, w]) => ({ peerId, displayName: w.displayName })),
      ...[...this.#remoteWaiting].map(([peerId, w]) => ({ peerId, displayName: w.displayName })),
    ];
  }

  #toModerators<E extends ServerEventName>(event: E, payload: ServerEventPayload<E>): void {
    for (const p of this.#host.localPeers()) if (this.roleOf(p.id) === 'moderator') this.#host.notify(p.id, event, payload);
  }

  /** News of this node's waiting room: to the moderators here and on the other nodes. */
  #tell(news: LobbyNews): void {
    this.#toModerators(news.event, news.payload);
    this.#host.relayLobby?.(news);
  }

  setLobby(enabled: boolean): void {
    this.#lobby = enabled;
    // Turned off: whoever waits here comes in (each node lets in its own).
    if (!enabled) for (const id of [...this.#waiting.keys()]) this.#admitHere(id);
  }

  /** Waiting-room news from another node: its moderators-to-be-told are this node's moderators. */
  applyRemote(nodeId: string, news: LobbyNews): void {
    if (news.event === 'lobby:waiting') {
      if (this.#waiting.has(news.payload.peerId) || this.#remoteWaiting.has(news.payload.peerId)) return;
      this.#remoteWaiting.set(news.payload.peerId, { displayName: news.payload.displayName, nodeId });
    } else if (!this.#remoteWaiting.delete(news.payload.peerId)) {
      return;
    }
    this.#toModerators(news.event, news.payload);
  }

  /** A node is gone: whoever waited there is gone too. */
  dropNode(nodeId: string): void {
    for (const [peerId, w] of [...this.#remoteWaiting]) {
      if (w.nodeId !== nodeId) continue;
      this.#remoteWaiting.delete(peerId);
      this.#toModerators('lobby:left', { peerId, outcome: 'gone' });
    }
  }

  /** Puts a newcomer in the lobby. */
  enterLobby(displayName: string): LobbyPlace {
    if (this.#waiting.size >= this.#lobbyMax) throw new AppError('ROOM_FULL', `the lobby is full (${this.#lobbyMax} waiting)`);
    const peerId = randomUUID();
    let settle: { admit: () => void; deny: (e: AppError) => void } | undefined;
    const admitted = new Promise<void>((resolve, reject) => {
      settle = { admit: resolve, deny: reject };
    });
    // Nobody may be listening yet when the room closes under the newcomer: no unhandled rejection.
    admitted.catch(() => undefined);
    this.#waiting.set(peerId, { displayName, ...settle! });
    this.#tell({ event: 'lobby:waiting', payload: { peerId, displayName } });
    return {
      peerId,
      admitted,
      leave: () => {
        const w = this.#waiting.get(peerId);
        if (!w) return;
        this.#waiting.delete(peerId);
        this.#tell({ event: 'lobby:left', payload: { peerId, outcome: 'gone' } });
        w.deny(invalidState('left the lobby'));
        this.#host.waitingEnded();
      },
    };
  }

  /** Lets a newcomer in, wherever it waits. */
  async admit(peerId: string): Promise<void> {
    const remote = this.#remoteWaiting.get(peerId);
    if (remote && this.#host.decideRemote) return this.#host.decideRemote(remote.nodeId, 'admit', peerId);
    this.#admitHere(peerId);
  }

  /** Sends a newcomer away, wherever it waits. */
  async deny(peerId: string): Promise<void> {
    const remote = this.#remoteWaiting.get(peerId);
    if (remote && this.#host.decideRemote) return this.#host.decideRemote(remote.nodeId, 'deny', peerId);
    this.#denyHere(peerId);
  }

  #admitHere(peerId: string): void {
    const w = this.#take(peerId);
    this.#tell({ event: 'lobby:left', payload: { peerId, outcome: 'admitted' } });
    w.admit();
  }

  /** A decision another node's moderator took about a newcomer waiting on this node. */
  decideHere(action: 'admit' | 'deny', peerId: string): void {
    if (action === 'admit') this.#admitHere(peerId);
    else this.#denyHere(peerId);
  }

  #denyHere(peerId: string): void {
    const w = this.#take(peerId);
    this.#tell({ event: 'lobby:left', payload: { peerId, outcome: 'denied' } });
    w.deny(forbidden('a moderator denied entry to the room', 'denied'));
  }

  #take(peerId: string): Waiter {
    const w = this.#waiting.get(peerId);
    if (!w) throw notFound('waiting peer', peerId);
    this.#waiting.delete(peerId);
    // After the caller settles the newcomer: an admitted one is joining by then.
    queueMicrotask(() => this.#host.waitingEnded());
    return w;
  }

  /** The room closed: whoever waits is sent away. */
  close(): void {
    for (const w of this.#waiting.values()) w.deny(invalidState('the room closed'));
    this.#waiting.clear();
    this.#remoteWaiting.clear();
  }
}
