/**
 * Typed event maps of the public Socket.IO protocol, shared by the server, the browser
 * client, the load tester and the tests. Every client → server request is
 * `socket.emit(name, payload, ack)`; the ack receives an {@link AckResponse}.
 */
import { z } from 'zod/mini';
import type * as types from 'mediasoup-client/types';
import {
  ChatMessage,
  MediaKind,
  PeerInfo,
  ProducerInfo,
  ProducerSource,
  Role,
  RoomSummary,
  type ChatSendRequest,
  type LobbyDecisionRequest,
  type PeerKickRequest,
  type PeerMuteRequest,
  type RoomLobbyRequest,
  type RoomLockRequest,
  type ConnectTransportRequest,
  type ConsumeRequest,
  type ConsumerRequest,
  type CreateTransportRequest,
  type JoinRequest,
  type PreferredLayersRequest,
  type ProduceRequest,
  type ProducerRequest,
  type RenameRequest,
  type RestartIceRequest,
  type ResumeRequest,
  type RoomsListRequest,
} from './schemas.js';

export const ERROR_CODES = [
  'INVALID_REQUEST',
  'NOT_FOUND',
  'FORBIDDEN',
  /** A join without the token this server requires, or with one that is tampered, expired or for another room. */
  'UNAUTHORIZED',
  'ROOM_FULL',
  'RATE_LIMITED',
  'INVALID_STATE',
  'INTERNAL',
  /** This server is shutting down and takes no new joins: join again, on a new connection. */
  'DRAINING',
  /** The server cannot take this now but will soon (a media worker is being replaced): retry in a moment. */
  'UNAVAILABLE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Why a FORBIDDEN answer refuses, for programs (the message is for people):
 * - `password-required`, `wrong-password`: the room is locked;
 * - `removed`: a moderator removed this identity from the room a moment ago (`retryAfterMs` says until when);
 * - `denied`: a moderator did not admit this newcomer from the waiting room;
 * - `not-moderator`: the request is for moderators;
 * - `viewer`: viewers do not publish;
 * - `limit`: a per-peer limit (transports, producers, consumers) is reached;
 * - `max-rooms`: the server holds as many rooms as it may;
 * - `name-from-token`: the display name comes from the join token and cannot be changed.
 */
export const REFUSALS = [
  'password-required',
  'wrong-password',
  'removed',
  'denied',
  'not-moderator',
  'viewer',
  'limit',
  'max-rooms',
  'name-from-token',
] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface ProtocolError {
  code: ErrorCode;
  message: string;
  /** With RATE_LIMITED, and with FORBIDDEN `removed`: milliseconds until the same request may succeed. */
  retryAfterMs?: number;
  /** With FORBIDDEN: why, in a word a program can rely on. */
  refusal?: Refusal;
}
export type AckResponse<T> = { ok: true; data: T } | { ok: false; error: ProtocolError };
export type Ack<T> = (response: AckResponse<T>) => void;

// ---------------------------------------------------------------- response data
export interface RoomsListData {
  /** One page of the public rooms, busiest first. */
  rooms: RoomSummary[];
  /** How many public rooms there are in all. */
  total: number;
}
/**
 * The room as a member sees it on joining or resuming: everyone else, their producers, the
 * chat history and the room's settings and state now.
 */
export interface RoomView {
  /** Everyone else in the room now. */
  peers: PeerInfo[];
  /** Everyone else's producers now. */
  producers: ProducerInfo[];
  chat: ChatMessage[];
  /** The room asks a password of those who join. */
  locked: boolean;
  /**
   * The room is in the public list. With `locked`, the room's real settings: a join that
   * asked for a password or privacy on a room that already existed learns here whether it
   * got them (only a room's creator sets them).
   */
  public: boolean;
  /**
   * What this peer may do in the room (from its join token, or: the room's first peer is its
   * host, a moderator); on a resume, its role now (a moderator may have changed it meanwhile).
   */
  role: Role;
  /** Newcomers wait in the lobby until a moderator admits them. */
  lobby: boolean;
  /** Who waits in the lobby now: filled for moderators only. */
  waiting: WaitingPeer[];
  /** The room is being recorded now (`recording:started` / `recording:stopped` follow changes). */
  recording: boolean;
}
export interface JoinData extends RoomView {
  peerId: string;
  roomId: string;
  displayName: string;
  rtpCapabilities: types.RtpCapabilities;
  /** ICE servers (STUN/TURN) the server operator wants clients to use. */
  iceServers: RTCIceServerLike[];
  /**
   * Secret that lets this client take its membership back on a new connection after a
   * signaling drop (`room:resume`), while the server still holds it.
   */
  resumeToken: string;
}
export interface WaitingPeer {
  peerId: string;
  displayName: string;
}
/**
 * The answer to `room:resume`: the room as it is now, for a client whose connection dropped
 * for a moment while its media (transports, producers, consumers) stayed on the server. The
 * room events of the gap are not repeated: the client brings its view in line with this.
 */
export interface ResumeData extends RoomView {
  peerId: string;
  roomId: string;
  displayName: string;
  /** This peer's consumers that still exist (those of producers that closed meanwhile are gone). */
  consumers: { consumerId: string; producerId: string }[];
  /** The token for the next resume; the one just used is spent. */
  resumeToken: string;
}
export interface RTCIceServerLike {
  urls: string | string[];
  username?: string;
  credential?: string;
}
export interface TransportData {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
  sctpParameters?: types.SctpParameters;
}
export interface ProduceData {
  producerId: string;
}
export interface ConsumeData {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  source: z.infer<typeof ProducerSource>;
  rtpParameters: types.RtpParameters;
  type: 'simple' | 'simulcast' | 'svc' | 'pipe';
  producerPaused: boolean;
}
export interface RestartIceData {
  iceParameters: types.IceParameters;
}
export interface ChatSendData {
  message: ChatMessage;
}
export type EmptyData = Record<string, never>;
/** The answer to `recording:start`, for the moderator who started it. */
export interface RecordingStartData {
  /** Unguessable: with it (and, when the server requires join tokens, a moderator's token) the file can be downloaded. */
  recordingId: string;
  /** Milliseconds since the epoch (server clock). */
  startedAt: number;
  /** The file's name in RECORDINGS_DIR. */
  file: string;
  /** Where the file can be downloaded over HTTP once the recording has stopped (or while it runs). */
  downloadPath: string;
}

/**
 * What clients send for the requests that carry mediasoup parameter objects: typed with
 * mediasoup-client's own types so its objects can be passed as they are. The server still
 * parses them with the schemas in schemas.ts.
 */
export type ProducePayload = Omit<ProduceRequest, 'rtpParameters'> & { rtpParameters: types.RtpParameters };
export type ConsumePayload = Omit<ConsumeRequest, 'rtpCapabilities'> & { rtpCapabilities: types.RtpCapabilities };
export type ConnectTransportPayload = Omit<ConnectTransportRequest, 'dtlsParameters'> & {
  dtlsParameters: types.DtlsParameters;
};

export interface ClientToServerEvents {
  'rooms:list': (req: RoomsListRequest, ack: Ack<RoomsListData>) => void;
  'room:join': (req: JoinRequest, ack: Ack<JoinData>) => void;
  'room:leave': (req: unknown, ack: Ack<EmptyData>) => void;
  'room:resume': (req: ResumeRequest, ack: Ack<ResumeData>) => void;
  'peer:rename': (req: RenameRequest, ack: Ack<EmptyData>) => void;
  'transport:create': (req: CreateTransportRequest, ack: Ack<TransportData>) => void;
  'transport:connect': (req: ConnectTransportPayload, ack: Ack<EmptyData>) => void;
  'transport:restartIce': (req: RestartIceRequest, ack: Ack<RestartIceData>) => void;
  'producer:create': (req: ProducePayload, ack: Ack<ProduceData>) => void;
  'producer:pause': (req: ProducerRequest, ack: Ack<EmptyData>) => void;
  'producer:resume': (req: ProducerRequest, ack: Ack<EmptyData>) => void;
  'producer:close': (req: ProducerRequest, ack: Ack<EmptyData>) => void;
  'consumer:create': (req: ConsumePayload, ack: Ack<ConsumeData>) => void;
  'consumer:pause': (req: ConsumerRequest, ack: Ack<EmptyData>) => void;
  'consumer:resume': (req: ConsumerRequest, ack: Ack<EmptyData>) => void;
  /** Stops receiving a producer: the server closes the consumer (no `consumer:closed` follows). */
  'consumer:close': (req: ConsumerRequest, ack: Ack<EmptyData>) => void;
  'consumer:setPreferredLayers': (req: PreferredLayersRequest, ack: Ack<EmptyData>) => void;
  'chat:send': (req: ChatSendRequest, ack: Ack<ChatSendData>) => void;
  /** Closes one of the peer's own transports (and what runs on it), e.g. before recreating it. */
  'transport:close': (req: RestartIceRequest, ack: Ack<EmptyData>) => void;
  // Moderation: FORBIDDEN unless the peer is a moderator.
  'peer:mute': (req: PeerMuteRequest, ack: Ack<EmptyData>) => void;
  'peer:kick': (req: PeerKickRequest, ack: Ack<EmptyData>) => void;
  'room:lock': (req: RoomLockRequest, ack: Ack<EmptyData>) => void;
  'room:unlock': (req: unknown, ack: Ack<EmptyData>) => void;
  /** Ends the meeting: every member gets `room:closed { reason: 'ended' }`. */
  'room:end': (req: unknown, ack: Ack<EmptyData>) => void;
  'room:lobby': (req: RoomLobbyRequest, ack: Ack<EmptyData>) => void;
  'lobby:admit': (req: LobbyDecisionRequest, ack: Ack<EmptyData>) => void;
  'lobby:deny': (req: LobbyDecisionRequest, ack: Ack<EmptyData>) => void;
  /** Starts recording the room (one recording per room at a time: INVALID_STATE when one runs). */
  'recording:start': (req: unknown, ack: Ack<RecordingStartData>) => void;
  /** Stops the room's recording; the file is complete when the ack arrives. */
  'recording:stop': (req: unknown, ack: Ack<EmptyData>) => void;
}
export type RequestName = keyof ClientToServerEvents;
export type RequestPayload<E extends RequestName> = Parameters<ClientToServerEvents[E]>[0];
export type ResponseData<E extends RequestName> =
  Parameters<ClientToServerEvents[E]>[1] extends Ack<infer T> ? T : never;

// ---------------------------------------------------------------- server → client
/** The first page of the public rooms (ROOMS_PAGE_SIZE, busiest first) and how many there are. */
export const RoomsUpdateEvent = z.object({ rooms: z.array(RoomSummary), total: z.int() });
export const PeerJoinedEvent = PeerInfo;
export const PeerLeftEvent = z.object({ peerId: z.string() });
/** A rename, or a role change (the host role passing on when the host leaves). */
export const PeerUpdatedEvent = z.object({ peerId: z.string(), displayName: z.string(), role: z.optional(Role) });
export const ProducerNewEvent = ProducerInfo;
export const ProducerRefEvent = z.object({ producerId: z.string(), peerId: z.string() });
export const ConsumerClosedEvent = z.object({ consumerId: z.string(), producerId: z.string() });
export const ActiveSpeakerEvent = z.object({ peerId: z.nullable(z.string()) });
export const ChatMessageEvent = ChatMessage;
/**
 * Dynacast, to a publisher: the highest simulcast layer (encoding index) of its producer
 * that anyone in the room now watches; `null` when nobody watches it at all. The publisher
 * stops sending the layers above it (all of them for `null`) and sends them again when a
 * later event asks for more.
 */
export const ProducerDemandEvent = z.object({
  producerId: z.string(),
  maxSpatialLayer: z.nullable(z.int().check(z.minimum(0), z.maximum(15))),
});
/** A publisher's uplink quality, 0–10 (best of its streams), to the room when it changes. */
export const ProducerScoreEvent = z.object({
  producerId: z.string(),
  peerId: z.string(),
  score: z.int().check(z.minimum(0), z.maximum(10)),
});
/** The quality of what the server sends this viewer on a consumer, 0–10, when it changes. */
export const ConsumerScoreEvent = z.object({
  consumerId: z.string(),
  producerId: z.string(),
  score: z.int().check(z.minimum(0), z.maximum(10)),
});
/**
 * This server is shutting down (SIGTERM): it takes no new joins, and calls on it go on until
 * `deadline` (ms since the epoch, server clock; `remainingMs` from now, for clients whose
 * clock differs), when its rooms close with `room:closed` reason `shutdown`. `otherNodes`:
 * how many other nodes of the cluster are up (0 for a single server); when there are, a new
 * connection to the same address can reach one of them, and a client may move there at once.
 * Sent to every socket when draining begins and to every socket that connects while it lasts.
 */
export const ServerDrainingEvent = z.object({
  deadline: z.number(),
  remainingMs: z.int().check(z.minimum(0)),
  otherNodes: z.int().check(z.minimum(0)),
});
/** The room ended under the peer (its media worker died, the server is shutting down, or a moderator ended it). */
export const RoomClosedEvent = z.object({ reason: z.enum(['empty', 'workerclose', 'shutdown', 'ended']) });
/** To a peer a moderator muted: its producers of that source are paused. It may resume them itself. */
export const PeerMutedEvent = z.object({ source: ProducerSource });
/** To a peer a moderator removed: it is out of the room and cannot rejoin it for `retryAfterS` seconds. */
export const RoomKickedEvent = z.object({ retryAfterS: z.int().check(z.minimum(0)) });
/** To the room: its settings changed (a moderator locked or unlocked it, or turned the lobby on or off). */
export const RoomUpdatedEvent = z.object({ locked: z.boolean(), lobby: z.boolean() });
/** To a joining peer: it waits in the lobby; its `room:join` is answered once a moderator decides. */
export const RoomWaitingEvent = z.object({ roomId: z.string() });
/** To moderators: someone waits in the lobby. */
export const LobbyWaitingEvent = z.object({ peerId: z.string(), displayName: z.string() });
/** To moderators: someone left the lobby (admitted, denied, or gone). */
export const LobbyLeftEvent = z.object({ peerId: z.string(), outcome: z.enum(['admitted', 'denied', 'gone']) });

/** To the room (and in a join answer's `recording`): the room is being recorded from `startedAt` (ms since the epoch). */
export const RecordingStartedEvent = z.object({ startedAt: z.number() });
/**
 * To the room: its recording ended. `stopped`: a moderator stopped it; `room-ended`: the room
 * closed; `drain`: the server is shutting down; `disk-full`: the disk ran short of space;
 * `error`: the recorder failed (`message` says how). The file is finalised in every case.
 */
export const RecordingStoppedEvent = z.object({
  reason: z.enum(['stopped', 'room-ended', 'drain', 'disk-full', 'error']),
  message: z.optional(z.string()),
});

export interface ServerToClientEvents {
  'rooms:update': (ev: z.infer<typeof RoomsUpdateEvent>) => void;
  'peer:joined': (ev: z.infer<typeof PeerJoinedEvent>) => void;
  'peer:left': (ev: z.infer<typeof PeerLeftEvent>) => void;
  'peer:updated': (ev: z.infer<typeof PeerUpdatedEvent>) => void;
  'producer:new': (ev: z.infer<typeof ProducerNewEvent>) => void;
  'producer:closed': (ev: z.infer<typeof ProducerRefEvent>) => void;
  'producer:paused': (ev: z.infer<typeof ProducerRefEvent>) => void;
  'producer:resumed': (ev: z.infer<typeof ProducerRefEvent>) => void;
  'consumer:closed': (ev: z.infer<typeof ConsumerClosedEvent>) => void;
  'chat:message': (ev: ChatMessage) => void;
  activeSpeaker: (ev: z.infer<typeof ActiveSpeakerEvent>) => void;
  'room:closed': (ev: z.infer<typeof RoomClosedEvent>) => void;
  'server:draining': (ev: z.infer<typeof ServerDrainingEvent>) => void;
  'producer:demand': (ev: z.infer<typeof ProducerDemandEvent>) => void;
  'producer:score': (ev: z.infer<typeof ProducerScoreEvent>) => void;
  'consumer:score': (ev: z.infer<typeof ConsumerScoreEvent>) => void;
  'peer:muted': (ev: z.infer<typeof PeerMutedEvent>) => void;
  'room:kicked': (ev: z.infer<typeof RoomKickedEvent>) => void;
  'room:updated': (ev: z.infer<typeof RoomUpdatedEvent>) => void;
  'room:waiting': (ev: z.infer<typeof RoomWaitingEvent>) => void;
  'lobby:waiting': (ev: z.infer<typeof LobbyWaitingEvent>) => void;
  'lobby:left': (ev: z.infer<typeof LobbyLeftEvent>) => void;
  'recording:started': (ev: z.infer<typeof RecordingStartedEvent>) => void;
  'recording:stopped': (ev: z.infer<typeof RecordingStoppedEvent>) => void;
}
export type ServerEventName = keyof ServerToClientEvents;
export type ServerEventPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

/** Schemas of the server → client events, for clients that validate what they receive. */
export const SERVER_EVENT_SCHEMAS = {
  'rooms:update': RoomsUpdateEvent,
  'peer:joined': PeerJoinedEvent,
  'peer:left': PeerLeftEvent,
  'peer:updated': PeerUpdatedEvent,
  'producer:new': ProducerNewEvent,
  'producer:closed': ProducerRefEvent,
  'producer:paused': ProducerRefEvent,
  'producer:resumed': ProducerRefEvent,
  'consumer:closed': ConsumerClosedEvent,
  'chat:message': ChatMessageEvent,
  activeSpeaker: ActiveSpeakerEvent,
  'room:closed': RoomClosedEvent,
  'server:draining': ServerDrainingEvent,
  'producer:demand': ProducerDemandEvent,
  'producer:score': ProducerScoreEvent,
  'consumer:score': ConsumerScoreEvent,
  'peer:muted': PeerMutedEvent,
  'room:kicked': RoomKickedEvent,
  'room:updated': RoomUpdatedEvent,
  'room:waiting': RoomWaitingEvent,
  'lobby:waiting': LobbyWaitingEvent,
  'lobby:left': LobbyLeftEvent,
  'recording:started': RecordingStartedEvent,
  'recording:stopped': RecordingStoppedEvent,
} as const satisfies { [E in ServerEventName]: z.ZodMiniType<ServerEventPayload<E>> };

export { MediaKind };
