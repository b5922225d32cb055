/**
 * Zod schemas for every message of the public Socket.IO protocol. Types are derived from
 * the schemas so that what is validated and what is typed can never drift apart.
 *
 * mediasoup's own parameter objects (RTP parameters, DTLS parameters, capabilities) are
 * checked here for shape and bounds; mediasoup validates their semantics and its TypeErrors
 * become INVALID_REQUEST answers.
 */
import { z } from 'zod';

/** Ids are opaque strings chosen by the server (UUIDs) or by the user (room ids). */
const Id = z.string().min(1).max(64);

export const RoomId = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}_.~-]+$/u, 'room ids use letters, digits and _ . ~ -');
export const DisplayName = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .refine((s) => !/\p{Cc}/u.test(s), 'no control characters');
export const MediaKind = z.enum(['audio', 'video']);
export const ProducerSource = z.enum(['mic', 'camera', 'screen']);
export const TransportDirection = z.enum(['send', 'recv']);

// ---------------------------------------------------------------- mediasoup parameters
// Unknown keys are dropped and every number is bounded to the type the worker's wire format
// gives it: mediasoup serializes some fields without checking them (a fractional maxBitrate
// throws half-way through a message), so nothing unchecked may reach it.
const Uint32 = z.number().int().min(0).max(0xffff_ffff);
const PayloadType = z.number().int().min(0).max(127);
const ExtensionId = z.number().int().min(1).max(255);
const Int32OrDouble = z.number().min(-0x8000_0000).max(0x7fff_ffff);
const SmallRecord = z.record(z.string().min(1).max(64), z.union([z.string().max(1024), Int32OrDouble, z.boolean()]));

const RtcpFeedback = z.object({ type: z.string().min(1).max(32), parameter: z.string().max(32).optional() });

const RtpCodecParameters = z.object({
  mimeType: z.string().min(1).max(64),
  payloadType: PayloadType,
  clockRate: Uint32.min(1),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: SmallRecord.optional(),
  rtcpFeedback: z.array(RtcpFeedback).max(32).optional(),
});

const RtpEncodingParameters = z.object({
  ssrc: Uint32.optional(),
  rid: z.string().min(1).max(32).optional(),
  codecPayloadType: PayloadType.optional(),
  rtx: z.object({ ssrc: Uint32 }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().min(1).max(16).optional(),
  maxBitrate: Uint32.optional(),
});

const RtpHeaderExtensionParameters = z.object({
  uri: z.string().min(1).max(256),
  id: ExtensionId,
  encrypt: z.boolean().optional(),
  parameters: SmallRecord.optional(),
});

export const RtpParameters = z.object({
  mid: z.string().min(1).max(32).optional(),
  codecs: z.array(RtpCodecParameters).min(1).max(32),
  headerExtensions: z.array(RtpHeaderExtensionParameters).max(32).optional(),
  encodings: z.array(RtpEncodingParameters).min(1).max(8).optional(),
  rtcp: z.object({ cname: z.string().max(256).optional(), reducedSize: z.boolean().optional() }).optional(),
  msid: z.string().max(256).optional(),
});

const RtpCodecCapability = z.object({
  kind: MediaKind,
  mimeType: z.string().min(1).max(64),
  preferredPayloadType: PayloadType,
  clockRate: Uint32.min(1),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: SmallRecord.optional(),
  rtcpFeedback: z.array(RtcpFeedback).max(32).optional(),
});

export const RtpCapabilities = z.object({
  codecs: z.array(RtpCodecCapability).max(64).optional(),
  headerExtensions: z
    .array(
      z.object({
        kind: MediaKind,
        uri: z.string().min(1).max(256),
        preferredId: ExtensionId,
        preferredEncrypt: z.boolean().optional(),
        direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
      }),
    )
    .max(64)
    .optional(),
});

export const DtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().min(1).max(256),
      }),
    )
    .min(1)
    .max(8),
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

export const PeerInfo = z.object({ id: z.string(), displayName: z.string() });
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
  peerCount: z.number().int(),
  locked: z.boolean(),
  /** The room's participant limit, so that a lobby can show a full room as full. */
  maxPeers: z.number().int(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;

// ---------------------------------------------------------------- requests
export const Empty = z.looseObject({});

export const JoinRequest = z.object({
  roomId: RoomId,
  displayName: DisplayName.optional(),
  password: z.string().min(1).max(128).optional(),
  /** Public rooms appear in `rooms:list`; set by the first joiner only. */
  public: z.boolean().optional(),
});
export const RenameRequest = z.object({ displayName: DisplayName });
export const CreateTransportRequest = z.object({ direction: TransportDirection });
export const ConnectTransportRequest = z.object({ transportId: Id, dtlsParameters: DtlsParameters });
export const RestartIceRequest = z.object({ transportId: Id });
export const ProduceRequest = z
  .object({
    transportId: Id,
    kind: MediaKind,
    rtpParameters: RtpParameters,
    source: ProducerSource,
    /** Start the producer paused (e.g. mic muted at join). */
    paused: z.boolean().optional(),
  })
  // Otherwise a peer could offer others "video" that carries Opus, or a microphone that is a camera.
  .refine((r) => r.rtpParameters.codecs.every((c) => c.mimeType.toLowerCase().startsWith(`${r.kind}/`)), {
    message: 'every codec must be of the producer kind',
    path: ['rtpParameters', 'codecs'],
  })
  .refine((r) => (r.source === 'mic' ? r.kind === 'audio' : r.source === 'camera' ? r.kind === 'video' : true), {
    message: 'mic producers are audio, camera producers video',
    path: ['kind'],
  });
export const ProducerRequest = z.object({ producerId: Id });
export const ConsumeRequest = z.object({ transportId: Id, producerId: Id, rtpCapabilities: RtpCapabilities });
export const ConsumerRequest = z.object({ consumerId: Id });
export const PreferredLayersRequest = z.object({
  consumerId: Id,
  spatialLayer: z.number().int().min(0).max(7),
  temporalLayer: z.number().int().min(0).max(7).optional(),
});
export const ChatSendRequest = z.object({ text: z.string().max(100_000) });

export type JoinRequest = z.infer<typeof JoinRequest>;
export type RenameRequest = z.infer<typeof RenameRequest>;
export type CreateTransportRequest = z.infer<typeof CreateTransportRequest>;
export type ConnectTransportRequest = z.infer<typeof ConnectTransportRequest>;
export type RestartIceRequest = z.infer<typeof RestartIceRequest>;
export type ProduceRequest = z.infer<typeof ProduceRequest>;
export type ProducerRequest = z.infer<typeof ProducerRequest>;
export type ConsumeRequest = z.infer<typeof ConsumeRequest>;
export type ConsumerRequest = z.infer<typeof ConsumerRequest>;
export type PreferredLayersRequest = z.infer<typeof PreferredLayersRequest>;
export type ChatSendRequest = z.infer<typeof ChatSendRequest>;

/** Chat text limit (characters after trimming); longer messages are refused, not cut. */
export const CHAT_MAX_LENGTH = 1000;
/** Messages kept per room and sent to a joining peer. */
export const CHAT_HISTORY_SIZE = 50;
