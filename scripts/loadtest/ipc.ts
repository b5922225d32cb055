/**
 * Messages between the load-test coordinator and its child processes (Node IPC channel,
 * JSON serialization). Children hold the peers; the coordinator paces, aggregates and
 * reports. Times crossing the channel are durations (ms) measured inside one process, or
 * Date.now() values where the coordinator must place an event on its own timeline.
 */
import type { ConsumerStats } from './peer/index.js';
import type { PeerEngine } from './peer/loadPeer.js';
import type { SpeakerChange } from './peer/peerBase.js';
import type { PeerPlan, PeerRole } from './plan.js';
import type { SimulcastSendStats } from './peer/simulcast.js';

export interface JoinCommand {
  type: 'join';
  /** Who joins which room, through which server. */
  peer: PeerPlan;
  password?: string;
  /** Default werift. */
  engine?: PeerEngine;
  /**
   * Behave as the browser client does: on room:closed join again instead of failing, and on
   * server:draining move to another node (one of `urls`) if there is one.
   */
  rejoin?: boolean;
  /** Every node of the run, in the order of --url. */
  urls?: string[];
  /** What a publisher sends; default audio and video. */
  publish?: { audio: boolean; video: boolean };
  /** Publishers send video as simulcast layers. */
  simulcast?: boolean;
  /** Subscribers ask every simulcast video consumer for this spatial layer. */
  subscriberLayer?: number;
  /** A consumer without a packet for this long, or a publisher not consumed for this long, puts the peer down. */
  mediaGapMs: number;
  /** Speaker simulation: publishers take turns at speaking, each this long (see peer/speaking.ts). */
  speakerTurnMs?: number;
}
/**
 * The producers a room's peers should all be receiving (those of its publishers that
 * joined and are up), sent to every child whenever that set changes.
 */
export interface ExpectCommand {
  type: 'expect';
  roomId: string;
  producers: ExpectedProducer[];
}
export interface ExpectedProducer {
  producerId: string;
  kind: 'audio' | 'video';
  /** The publisher's server peer id (it does not consume itself) and its name in the plan. */
  peerId: string;
  displayName: string;
}
export interface StopCommand {
  type: 'stop';
}
/** Asks for a sample now, so that every child's counters describe the same instant. */
export interface SampleCommand {
  type: 'sample';
  seq: number;
}
export type ParentMessage = JoinCommand | ExpectCommand | StopCommand | SampleCommand;

/** Cumulative receive counters of one child for one remote producer (a track). */
export interface TrackCounters {
  producerId: string;
  kind: 'audio' | 'video';
  /** Open consumers of this track in the child. */
  consumers: number;
  /** Open consumers of this track that got a packet within the media-gap limit. */
  receiving: number;
  packets: number;
  bytes: number;
  lost: number;
  nacksSent: number;
  plisSent: number;
}

/** Cumulative send-side counters of one producer. */
export interface ProducerCounters {
  producerId: string;
  kind: 'audio' | 'video';
  packetsSent: number;
  bytesSent: number;
  nacksReceived: number;
  plisReceived: number;
  firsReceived: number;
  keyframeJumps: number;
  /** Simulcast video producers, in end-of-run summaries only: per-layer figures. */
  simulcast?: SimulcastSendStats;
}

/** A consumer's counters as a child reports them: times become one latency figure. */
export type ConsumerSummary = Omit<ConsumerStats, 'firstPacketAt' | 'resumedAt' | 'framesDecoded'> & {
  /** From the room:join ack to this consumer's first RTP packet. */
  firstPacketMs?: number;
};

export interface PeerSummary {
  index: number;
  peerId: string;
  roomId: string;
  role: PeerRole;
  displayName: string;
  /** Base URL of the server (the cluster node) the peer joined through. */
  url: string;
  joinAckMs: number;
  setupMs: number;
  /** From the room:join ack to the first RTP packet of any / an audio / a video consumer. */
  firstMediaMs?: number;
  firstAudioMs?: number;
  firstVideoMs?: number;
  /** Every session's consumers and producers: a rejoin (after room:closed) starts new ones. */
  consumers: ConsumerSummary[];
  producers: ProducerCounters[];
  /** Times the peer joined again after room:closed (--rejoin). */
  rejoins?: number;
  /** Times it moved off a draining node (--rejoin), and the node it ended on. */
  moves?: number;
  endedOn?: string;
  failed?: string;
  /**
   * Speaker simulation: the `activeSpeaker` announcements the peer's last session heard,
   * and the epoch ms it listened from and until.
   */
  speakers?: { since: number; until: number; changes: SpeakerChange[] };
}

export interface ReadyMessage {
  type: 'ready';
}
export interface JoinedMessage {
  type: 'joined';
  index: number;
  peerId: string;
  /** room:join request to its ack. */
  joinAckMs: number;
  /** SyntheticPeer.join() as a whole: connect, join, device, transports, produce, consume. */
  setupMs: number;
  producers: { producerId: string; kind: 'audio' | 'video' }[];
}
/**
 * The peer joined again after room:closed, or moved off a draining node (`movedTo`): a new
 * server peer id and new producers.
 */
export interface RejoinedMessage {
  type: 'rejoined';
  index: number;
  peerId: string;
  producers: { producerId: string; kind: 'audio' | 'video' }[];
  movedTo?: string;
}
export interface FailedMessage {
  type: 'failed';
  index: number;
  phase: 'join' | 'runtime';
  reason: string;
}
export interface SampleMessage {
  type: 'sample';
  /** The SampleCommand answered (0 for the last one, sent while stopping). */
  seq: number;
  /** Epoch ms (sub-millisecond) at which the counters were read. */
  at: number;
  /** CPU time (user + system) the child has used so far, in ms: the load generator's own cost. */
  cpuMs: number;
  /** The child's event-loop delay since its previous sample, in ms (max and p99): a stalled loop sends and reads late. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** Datagrams the kernel dropped so far on the child's own sockets (full receive buffer); absent where unknown. */
  udpDrops?: number;
  /** Peers connected right now, and those receiving on every consumer. */
  active: number;
  receiving: number;
  tracks: TrackCounters[];
  producers: ProducerCounters[];
}
/**
 * A joined peer went down (no media on a consumer, a publisher of its room not received) or
 * came back. Peers that fail for good send `failed` instead.
 */
export interface HealthMessage {
  type: 'health';
  index: number;
  down: boolean;
  /** Why it is down; on recovery, why it was. */
  reason: string;
  /** Epoch ms: when the media stopped or was first expected (down), when it came back (up). */
  at: number;
}
/** A peer's first RTP packet, as it happens: first-RTP figures do not wait for the end of the run. */
export interface FirstMediaMessage {
  type: 'firstMedia';
  index: number;
  /** From the room:join ack to the first RTP packet of any consumer. */
  ms: number;
}
/** Some of the child's peer summaries, at the end of the run; several such messages precede `final`. */
export interface PeersMessage {
  type: 'peers';
  peers: PeerSummary[];
}
/** The child has sent all of its `count` peer summaries. */
export interface FinalMessage {
  type: 'final';
  count: number;
}
export interface WarningMessage {
  type: 'warning';
  index: number;
  reason: string;
}
export type ChildMessage =
  | ReadyMessage
  | JoinedMessage
  | RejoinedMessage
  | FailedMessage
  | HealthMessage
  | FirstMediaMessage
  | SampleMessage
  | PeersMessage
  | FinalMessage
  | WarningMessage;
