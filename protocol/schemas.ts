/**
 * Zod schemas for every message of the public Socket.IO protocol. Types are derived from
 * the schemas so that what is validated and what is typed can never drift apart.
 *
 * mediasoup's own parameter objects (RTP parameters, DTLS parameters, capabilities) are
 * checked here for shape and bounds; mediasoup validates their semantics and its TypeErrors
 * become INVALID_REQUEST answers.
 *
 * Written against zod/mini: the browser client bundles these schemas, and the functional
 * API lets it carry only the checks it uses. Error messages come from the locale the server
 * configures; the client reads issue codes, never messages.
 */
import { z } from 'zod/mini';
import { ROOM_INPUT_MAX, canonicalRoomId, describeRoomIdProblem, roomIdProblem } from './roomId.js';

/** Ids are opaque strings chosen by the server (UUIDs) or by the user (room ids). */
const Id = z.string().check(z.minLength(1), z.maxLength(64));

/** Longest display name, in characters after trimming; the client sizes its inputs by it. */
export const DISPLAY_NAME_MAX = 40;

/** Room ids arrive in any form a person may type; they are used in their canonical form (roomId.ts). */
export const RoomId = z.string().check(
  z.maxLength(ROOM_INPUT_MAX),
  z.overwrite(canonicalRoomId),
  z.superRefine((id, ctx) => {
    const problem = roomIdProblem(id);
    if (problem) ctx.addIssue({ code: 'custom', message: describeRoomIdProblem(problem), input: id, params: { room: problem.code } });
  }),
);
/**
 * Display names in NFKC (full-width and other compatibility forms read as their plain
 * letters), with something visible in them and no direction overrides, embeddings or
 * isolates (U+202A–U+202E, U+2066–U+2069), which can make a name read as another.
 */
export const DisplayName = z
  .string()
  .check(
    z.maxLength(DISPLAY_NAME_MAX * 4),
    z.overwrite((s) => s.normalize('NFKC')),
    z.trim(),
    z.minLength(1),
    z.maxLength(DISPLAY_NAME_MAX),
    z.refine((s) => !/\p{Cc}/u.test(s), { message: 'no control characters', params: { name: 'control' } }),
    z.refine((s) => !/[\u202a-\u202e\u2066-\u2069]/u.test(s), { message: 'no direction overrides', params: { name: 'bidi' } }),
    z.refine((s) => /[\p{L}\p{N}\p{P}\p{S}]/u.test(s), { message: 'nothing visible', params: { name: 'invisible' } }),
  );
export const MediaKind = z.enum(['audio', 'video']);
export const ProducerSource = z.enum(['mic', 'camera', 'screen']);
export const TransportDirection = z.enum(['send', 'recv']);

// ---------------------------------------------------------------- mediasoup parameters
// Unknown keys are dropped and every number is bounded to the type the worker's wire format
// gives it: mediasoup serializes some fields without checking them (a fractional maxBitrate
// throws half-way through a message), so nothing unchecked may reach it.
const Uint32 = z.int().check(z.minimum(0), z.maximum(0xffff_ffff));
const PayloadType = z.int().check(z.minimum(0), z.maximum(127));
const ExtensionId = z.int().check(z.minimum(1), z.maximum(255));
const Int32OrDouble = z.number().check(z.minimum(-0x8000_0000), z.maximum(0x7fff_ffff));
const Channels = z.int().check(z.minimum(1), z.maximum(8));
/** Keys of a codec's or header extension's `parameters`: real ones have fewer than ten. */
export const PARAMETERS_MAX_KEYS = 32;
/**
 * Codec parameters are echoed to every consumer of a producer, so they are bounded in key
 * count (checked before any key is parsed) and in size: at most ~10 KB per codec.
 */
const SmallRecord = z.pipe(
  z.custom<object>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length <= PARAMETERS_MAX_KEYS,
    { message: `an object of at most ${PARAMETERS_MAX_KEYS} keys` },
  ),
  z.record(
    z.string().check(z.minLength(1), z.maxLength(64)),
    z.union([z.string().check(z.maxLength(256)), Int32OrDouble, z.boolean()]),
  ),
);

const RtcpFeedback = z.object({
  type: z.string().check(z.minLength(1), z.maxLength(32)),
  parameter: z.optional(z.string().check(z.maxLength(32))),
});

/** What a codec is, shared by the parameters a sender uses and the capabilities a receiver has. */
const codecFields = {
  mimeType: z.string().check(z.minLength(1), z.maxLength(64)),
  clockRate: Uint32.check(z.minimum(1)),
  channels: z.optional(Channels),
  parameters: z.optional(SmallRecord),
  rtcpFeedback: z.optional(z.array(RtcpFeedback).check(z.maxLength(32))),
};

const RtpCodecParameters = z.object({ ...codecFields, payloadType: PayloadType });

const RtpEncodingParameters = z.object({
  ssrc: z.optional(Uint32),
  rid: z.optional(z.string().check(z.minLength(1), z.maxLength(32))),
  codecPayloadType: z.optional(PayloadType),
  rtx: z.optional(z.object({ ssrc: Uint32 })),
  dtx: z.optional(z.boolean()),
  scalabilityMode: z.optional(z.string().check(z.minLength(1), z.maxLength(16))),
  maxBitrate: z.optional(Uint32),
});

const RtpHeaderExtensionParameters = z.object({
  uri: z.string().check(z.minLength(1), z.maxLength(256)),
  id: ExtensionId,
  encrypt: z.optional(z.boolean()),
  parameters: z.optional(SmallRecord),
});

export const RtpParameters = z.object({
  mid: z.optional(z.string().check(z.minLength(1), z.maxLength(32))),
  codecs: z.array(RtpCodecParameters).check(z.minLength(1), z.maxLength(32)),
  headerExtensions: z.optional(z.array(RtpHeaderExtensionParameters).check(z.maxLength(32))),
  encodings: z.optional(z.array(RtpEncodingParameters).check(z.minLength(1), z.maxLength(8))),
  rtcp: z.optional(
    z.object({ cname: z.optional(z.string().check(z.maxLength(256))), reducedSize: z.optional(z.boolean()) }),
  ),
  msid: z.optional(z.string().check(z.maxLength(256))),
});

const RtpCodecCapability = z.object({ kind: MediaKind, ...codecFields, preferredPayloadType: PayloadType });

export const RtpCapabilities = z.object({
  codecs: z.optional(z.array(RtpCodecCapability).check(z.maxLength(64))),
  headerExtensions: z.optional(
    z
      .array(
        z.object({
          kind: MediaKind,
          uri: z.string().check(z.minLength(1), z.maxLength(256)),
          preferredId: ExtensionId,
          preferredEncrypt: z.optional(z.boolean()),
          direction: z.optional(z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive'])),
        }),
      )
      .check(z.maxLength(64)),
  ),
});

export const DtlsParameters = z.object({
  role: z.optional(z.enum(['auto', 'client', 'server'])),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().check(z.minLength(1), z.maxLength(256)),
      }),
    )
    .check(z.minLength(1), z.maxLength(8)),
});

// ---------------------------------------------------------------- shared shapes
export const ChatMessage = z.object({
  id: z.string(),
  peerId: z.string(),
  displayName: z.string(),
  text: z.string(),
  ts: z.number(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

/**
 * What a member may do: `viewer` receives and chats, `participant` also publishes,
 * `moderator` also moderates (mute, remove, lock, lobby, end).
 */
export const Role = z.enum(['moderator', 'participant', 'viewer']);
export type Role = z.infer<typeof Role>;

/** `role` is absent only in messages from servers older than roles. */
export const PeerInfo = z.object({ id: z.string(), displayName: z.string(), role: z.optional(Role) });
export type PeerInfo = z.infer<typeof PeerInfo>;

export const ProducerInfo = z.object({
  producerId: z.string(),
  peerId: z.string(),
  kind: MediaKind,
  source: ProducerSource,
  paused: z.boolean(),
});
export type ProducerInfo = z.infer<typeof ProducerInfo>;

export const RoomSummary = z.object({
  id: z.string(),
  name: z.string(),
  peerCount: z.int(),
  locked: z.boolean(),
  /** The room's participant limit, so that a lobby can show a full room as full. */
  maxPeers: z.int(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;

// ---------------------------------------------------------------- requests
export const Empty = z.looseObject({});

/** Longest join token accepted, in characters: a JWT with the documented claims is a few hundred. */
export const JOIN_TOKEN_MAX = 4096;
/** Longest room password, in characters. */
export const PASSWORD_MAX = 128;

export const JoinRequest = z.object({
  roomId: RoomId,
  displayName: z.optional(DisplayName),
  password: z.optional(z.string().check(z.minLength(1), z.maxLength(PASSWORD_MAX))),
  /** Public rooms appear in `rooms:list`; set by the first joiner only. */
  public: z.optional(z.boolean()),
  /** A signed join token (JWT); required when the server is configured with AUTH_SECRET / AUTH_PUBLIC_KEY. */
  token: z.optional(z.string().check(z.minLength(1), z.maxLength(JOIN_TOKEN_MAX))),
});
/** A page of the public list; without arguments, the first page of the server's page size. */
export const RoomsListRequest = z.object({
  offset: z.optional(z.int().check(z.minimum(0), z.maximum(1_000_000))),
  limit: z.optional(z.int().check(z.minimum(1), z.maximum(500))),
});
/** Takes back a session after a signaling drop: the `resumeToken` of the last join or resume answer. */
export const ResumeRequest = z.object({ token: z.string().check(z.minLength(16), z.maxLength(128)) });
export const RenameRequest = z.object({ displayName: DisplayName });
export const CreateTransportRequest = z.object({ direction: TransportDirection });
export const ConnectTransportRequest = z.object({ transportId: Id, dtlsParameters: DtlsParameters });
export const RestartIceRequest = z.object({ transportId: Id });
const ProduceFields = z.object({
  transportId: Id,
  kind: MediaKind,
  rtpParameters: RtpParameters,
  source: ProducerSource,
  /** Start the producer paused (e.g. mic muted at join). */
  paused: z.optional(z.boolean()),
});
export const ProduceRequest = ProduceFields.check(
  // Otherwise a peer could offer others "video" that carries Opus, or a microphone that is a camera.
  z.refine((r) => r.rtpParameters.codecs.every((c) => c.mimeType.toLowerCase().startsWith(`${r.kind}/`)), {
    message: 'every codec must be of the producer kind',
    path: ['rtpParameters', 'codecs'],
  }),
  z.refine(
    (r) => (r.source === 'mic' ? r.kind === 'audio' : r.source === 'camera' ? r.kind === 'video' : true),
    { message: 'mic producers are audio, camera producers video', path: ['kind'] },
  ),
);
export const ProducerRequest = z.object({ producerId: Id });
export const ConsumeRequest = z.object({ transportId: Id, producerId: Id, rtpCapabilities: RtpCapabilities });
export const ConsumerRequest = z.object({ consumerId: Id });
const Layer = z.int().check(z.minimum(0), z.maximum(7));
export const PreferredLayersRequest = z.object({
  consumerId: Id,
  spatialLayer: Layer,
  temporalLayer: z.optional(Layer),
});
export const ChatSendRequest = z.object({ text: z.string().check(z.maxLength(100_000)) });

// Moderation (moderators only; anyone else is answered FORBIDDEN).
/** Pauses the target's producers of that source; the target is told with `peer:muted`. */
export const PeerMuteRequest = z.object({ peerId: Id, source: ProducerSource });
/** Sends the target out of the room; the same identity cannot rejoin it for a while. */
export const PeerKickRequest = z.object({ peerId: Id });
/** Sets (or changes) the password that joins need from now on; members stay. */
export const RoomLockRequest = z.object({ password: z.string().check(z.minLength(1), z.maxLength(PASSWORD_MAX)) });
/** Turns the waiting room on or off; turning it off admits whoever waits. */
export const RoomLobbyRequest = z.object({ enabled: z.boolean() });
/** Admits or denies one peer waiting in the lobby (its id from `lobby:waiting`). */
export const LobbyDecisionRequest = z.object({ peerId: Id });

export type JoinRequest = z.infer<typeof JoinRequest>;
export type ResumeRequest = z.infer<typeof ResumeRequest>;
export type RenameRequest = z.infer<typeof RenameRequest>;
export type RoomsListRequest = z.infer<typeof RoomsListRequest>;
export type CreateTransportRequest = z.infer<typeof CreateTransportRequest>;
export type ConnectTransportRequest = z.infer<typeof ConnectTransportRequest>;
export type RestartIceRequest = z.infer<typeof RestartIceRequest>;
export type ProduceRequest = z.infer<typeof ProduceRequest>;
export type ProducerRequest = z.infer<typeof ProducerRequest>;
export type ConsumeRequest = z.infer<typeof ConsumeRequest>;
export type ConsumerRequest = z.infer<typeof ConsumerRequest>;
export type PreferredLayersRequest = z.infer<typeof PreferredLayersRequest>;
export type ChatSendRequest = z.infer<typeof ChatSendRequest>;
export type PeerMuteRequest = z.infer<typeof PeerMuteRequest>;
export type PeerKickRequest = z.infer<typeof PeerKickRequest>;
export type RoomLockRequest = z.infer<typeof RoomLockRequest>;
export type RoomLobbyRequest = z.infer<typeof RoomLobbyRequest>;
export type LobbyDecisionRequest = z.infer<typeof LobbyDecisionRequest>;

/** Chat text limit (characters after trimming); longer messages are refused, not cut. */
export const CHAT_MAX_LENGTH = 1000;
/** Messages kept per room and sent to a joining peer. */
export const CHAT_HISTORY_SIZE = 50;
