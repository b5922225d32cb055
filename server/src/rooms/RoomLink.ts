/**
 * What a room shares with the other nodes of a cluster, seen from the room: admission and
 * its own members and producers written to the shared directory, and producers of other
 * nodes piped in for local viewers. Absent on a single node, where the room alone decides.
 */
import type { types } from 'mediasoup';
import type { ChatMessage, ProducerInfo, Role, ServerEventPayload } from '../../../protocol/index.js';
import type { Source } from '../media/RoomMedia.js';

export interface RemoteMember {
  displayName: string;
  nodeId: string;
  /** Known from the member's relayed `peer:joined` / `peer:updated`; not kept by the directory. */
  role?: Role;  /** When this node learned of the member (ms since the epoch): no earlier than its join, for passing the host role on. */
  seenAt?: number;
}

export interface RemoteProducer extends ProducerInfo {
  nodeId: string;
}

/** The settings moderators change while the room runs, as the directory keeps them. */
export interface ModeratedSettings {
  /** How the directory keeps the password ('' when open): opaque here, written back after an outage. */
  passwordHash: string;
  lobby: boolean;
}

/** A moderator's action on a member or a waiting newcomer whose socket is on another node. */
export type RemoteModeration =
  | { action: 'mute'; peerId: string; source: Source }
  | { action: 'kick'; peerId: string }
  | { action: 'admit'; peerId: string }
  | { action: 'deny'; peerId: string }
  | { action: 'stop-recording' };

/** Waiting-room news for the moderators on the other nodes. */
export type LobbyNews =
  | { event: 'lobby:waiting'; payload: ServerEventPayload<'lobby:waiting'> }
  | { event: 'lobby:left'; payload: ServerEventPayload<'lobby:left'> };

/** The room as the cluster knows it when a peer is admitted. */
export interface SharedRoom extends ModeratedSettings {
  isPublic: boolean;
  maxPeers: number;
  /** The node recording the room, if another live one is. */
  recordedOn?: string;
  peers: Map<string, RemoteMember>;
  producers: Map<string, RemoteProducer>;
  chat: ChatMessage[];
}

/** A producer of another node, piped onto one of this node's routers. */
export interface ImportedProducer {
  readonly producer: types.Producer;
  readonly peerId: string;
  readonly source: Source;
  /** The highest layer this node's viewers watch (null: none), for the publisher's node. */
  setDemand(maxSpatialLayer: number | null): void;
  /** Closes this node's end of the pipe and tells the owner to close its end. */
  close(): void;
}

export interface RoomLink {
  readonly nodeId: string;
  /**
   * Admits a peer cluster-wide, creating the room with these settings if it does not exist
   * anywhere; throws an AppError (FORBIDDEN, ROOM_FULL) when the room says no.
   */
  join(peer: { id: string; displayName: string }, password: string | undefined): Promise<SharedRoom>;
  left(peerId: string): void;
  renamed(peerId: string, displayName: string): void;
  /** A producer of this node appeared or changed (paused state). */
  producer(info: ProducerInfo): void;
  producerClosed(producerId: string): void;
  /**
   * Posts a message cluster-wide; every node (this one too) delivers it to its members when
   * the directory publishes it, so that all see one order.
   */
  chat(message: ChatMessage): Promise<void>;
  /**
   * Locks (a password; null unlocks) and/or turns the waiting room on or off, for every node:
   * written to the directory, then told to the other nodes. Answers the settings as they are now.
   */
  setModerated(change: { password?: string | null; lobby?: boolean }): Promise<ModeratedSettings>;
  /** The settings in the directory, for a share that has no member yet; undefined when the room is new. */
  readModerated(): Promise<ModeratedSettings | undefined>;
  /** How the directory would keep `password` for this room (compare with {@link ModeratedSettings.passwordHash}). */
  hashPassword(password: string | undefined): string;
  /**
   * Claims the room's recording for this node (one per room across the nodes); false when
   * another live node records it. Newcomers elsewhere learn of it from the claim.
   */
  claimRecording(): Promise<boolean>;
  /** This node's recording of the room ended: the claim goes. */
  releaseRecording(): void;
  /** Tells the moderators on the other nodes who waits and who stopped waiting here. */
  lobby(news: LobbyNews): void;
  /** Runs a moderation action on `nodeId`, where its target's socket is. */
  moderate(nodeId: string, action: RemoteModeration): Promise<void>;
  /** Pipes a producer that lives on `nodeId` onto `router`. */
  importProducer(producerId: string, nodeId: string, router: types.Router): Promise<ImportedProducer>;
}
