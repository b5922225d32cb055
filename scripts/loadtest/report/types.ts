/** The load-test report: written as JSON and rendered as a self-contained HTML page. */
import type { PeerSummary } from '../ipc.js';
import type { LoadTestOptions } from '../options.js';
import type { PeerRole } from '../plan.js';
import type { ServerMetricsReport } from '../serverMetrics.js';
import type { Summary } from '../stats.js';
import type { Verdict } from '../verdict.js';
import type { UdpCounters } from '../udpCounters.js';
import type { SpeakerReport } from '../speakers.js';
import type { SimulcastReport } from './layers.js';

export const REPORT_VERSION = 2;

export interface TimelinePoint {
  /** Seconds since the run started. */
  t: number;
  /** Peers started, connected, joined so far, failed so far, receiving on every consumer. */
  started: number;
  active: number;
  joined: number;
  failed: number;
  receiving: number;
  /** Joined peers down now: failed since they joined, or without media longer than the media-gap limit. */
  down: number;
  /** Over the last interval, summed over every peer. */
  rxKbps: number;
  txKbps: number;
  lossPct: number;
  nacksSent: number;
  plisSent: number;
  nacksReceived: number;
  plisReceived: number;
  keyframeJumps: number;
  /** CPU used by the load-test children over the last interval, in % of one core. */
  generatorCpuPct: number;
  /** The busiest child's CPU over the interval (a child is one thread: near 100 % it is saturated). */
  generatorBusiestChildPct: number;
  /** The longest event-loop stall of any child over the interval, in ms. */
  generatorLoopDelayMaxMs: number;
}

export interface TrackPoint {
  t: number;
  /** Mean receive bitrate per consumer of this track over the last interval. */
  kbps: number;
  consumers: number;
  lossPct: number;
}

/**
 * End-to-end latency and jitter of one track over its consumers (from their end-of-run
 * summaries): each consumer has a latency p50 and p95 and one RFC 3550 jitter, and these are
 * the distributions of those over the consumers, in ms.
 */
export interface TrackQuality {
  /** Consumers that measured latency (their packets carried a send time). */
  consumers: number;
  /** Median over consumers of their latency p50, and 95th percentile of their latency p95. */
  latencyP50Ms?: number;
  latencyP95Ms?: number;
  /** Median and 95th percentile over consumers of their jitter. */
  jitterP50Ms?: number;
  jitterP95Ms?: number;
}

/**
 * The run's latency and jitter over every consumer. Latency compares the publisher's and
 * the subscriber's wall clocks: exact on one machine, needs synchronized clocks across several.
 */
export interface MediaQualityReport {
  /** Consumers in the peers' summaries, and those of them with a latency figure. */
  consumers: number;
  measured: number;
  /** Distributions over consumers of their latency p50 and p95, and of their jitter (ms). */
  latencyP50Ms: Summary;
  latencyP95Ms: Summary;
  jitterMs: Summary;
}

export interface TrackReport {
  producerId: string;
  label: string;
  roomId: string;
  publisher: string;
  kind: 'audio' | 'video';
  points: TrackPoint[];
  /** Set at the end when its consumers' summaries arrived. */
  quality?: TrackQuality;
  totals: {
    consumers: number;
    packetsReceived: number;
    bytesReceived: number;
    lost: number;
    nacksSent: number;
    plisSent: number;
    packetsSent: number;
    nacksReceived: number;
    plisReceived: number;
    firsReceived: number;
    keyframeJumps: number;
  };
}

export interface FailureReport {
  index: number;
  roomId: string;
  role: PeerRole;
  displayName: string;
  /** Base URL of the server (the cluster node) the peer was to join through. */
  url: string;
  phase: 'join' | 'runtime' | 'media';
  reason: string;
  t: number;
}

/** A time a joined peer was down: without media it should receive, or failed for good. */
export interface DownEpisode {
  index: number;
  roomId: string;
  displayName: string;
  reason: string;
  /** Seconds since the start of the run: when the media stopped (or was first due), and when it came back or the run ended. */
  from: number;
  to: number;
  /** The peer was still down when the run ended. */
  open: boolean;
}

/** What each publisher's track should have had at the end: a receiving consumer in every other peer of its room that is up. */
export interface ConsumerExpectation {
  producerId: string;
  label: string;
  expected: number;
  actual: number;
}

/** One server of the run: with several `--url`, one node of the cluster. */
export interface NodeReport {
  /** Base URL its peers joined through. */
  url: string;
  /** Its share of the peers, counted as in `LoadTestReport.peers`. */
  peers: { planned: number; joined: number; failed: number; withoutMedia: number };
  /** room:join request → ack of its peers. */
  joinAckMs: Summary;
  /** RTP its peers received: all of it, and the part published by peers of other nodes. */
  received: { packets: number; bytes: number; fromOtherNodes: { packets: number; bytes: number } };
  /**
   * The sampling of its /metrics. The series are in `LoadTestReport.server.series`, labelled
   * `node=<url>` when the run has several nodes.
   */
  metrics: Omit<ServerMetricsReport, 'series'>;
}

export interface LoadTestReport {
  version: typeof REPORT_VERSION;
  startedAt: string;
  endedAt: string;
  /** Wall time of the whole run, ramp included. */
  elapsedSec: number;
  interrupted: boolean;
  /** What the run was asked to do, with the defaults filled in. */
  options: Pick<
    Required<LoadTestOptions>,
    | 'rooms'
    | 'publishers'
    | 'subscribers'
    | 'durationSec'
    | 'rampPerSec'
    | 'processes'
    | 'roomPrefix'
    | 'sampleIntervalSec'
    | 'engine'
    | 'publish'
    | 'rejoin'
  > &
    Pick<LoadTestOptions, 'publishersMax' | 'speakerTurnSec' | 'simulcast' | 'subscriberLayer'> & {
    /** The server's base URL; with several (a cluster), the nodes' base URLs joined by commas. */
    url: string;
  };
  peers: {
    planned: number;
    started: number;
    joined: number;
    failed: number;
    /** Peers that joined and consume but got no RTP on some consumer by the end. */
    withoutMedia: number;
    /**
     * Joined peers whose end-of-run summary never reached the coordinator (a child killed or
     * too busy); the totals then come from the children's last samples.
     */
    withoutSummary: number;
  };
  /** room:join request → ack, and SyntheticPeer.join() as a whole (connect … consume). */
  joinLatencyMs: { ack: Summary; setup: Summary };
  /** Subscribers: room:join ack → first RTP packet (any, audio, video consumer). */
  firstRtpMs: { any: Summary; audio: Summary; video: Summary };
  totals: {
    packetsReceived: number;
    bytesReceived: number;
    lost: number;
    lossPct: number;
    nacksSent: number;
    plisSent: number;
    nacksReceived: number;
    plisReceived: number;
    firsReceived: number;
    keyframeJumps: number;
  };
  /** CPU of the load-test children, % of one core (mean and peak over the sampling intervals). */
  generatorCpuPct: { mean: number; max: number };
  /**
   * Signs of a saturated generator: its busiest process's peak CPU (% of a core), its longest
   * event-loop stall (ms), and the kernel's UDP counters over the run on the generator's
   * machine (`rcvbufErrors`: datagrams dropped for a full receive buffer; the server's too if
   * it runs on the same machine).
   */
  generator: {
    busiestChildPeakPct: number;
    loopDelayMaxMs: number;
    /** Datagrams the kernel dropped on the load-test processes' own sockets for full receive buffers. */
    socketDrops?: number;
    udp?: UdpCounters;
  };
  timeline: TimelinePoint[];
  tracks: TrackReport[];
  failures: FailureReport[];
  /** Distinct failure reasons and how often each occurred. */
  failureReasons: { reason: string; count: number }[];
  warnings: { count: number; examples: string[] };
  /**
   * The servers' /metrics: one server's as read; with several nodes, all of their series
   * (each labelled `node=<url>`) and the scrape counts added up.
   */
  server: ServerMetricsReport;
  /** Per server (node), in the order of `--url`. */
  nodes: NodeReport[];
  peerDetails: PeerSummary[];
  /** Set when the run ended before its time because every peer had failed. */
  stoppedEarly?: { t: number; reason: string };
  health: {
    /** The media-gap limit the peers were watched with, in s. */
    mediaGapLimitSec: number;
    /** Peers that joined and then failed for good. */
    failedAfterJoin: number;
    /** Times peers joined again after room:closed (--rejoin); each is also a down episode. */
    rejoins: number;
    /** Times peers moved off a draining node to another one (--rejoin). */
    moves: number;
    /** Peers that went without media longer than the limit at some point. */
    peersWithMediaGaps: number;
    /** Longest media gap among those, in s (0 when none exceeded the limit). */
    longestMediaGapSec: number;
    /** Sum over joined peers of the time they were down, in s. */
    peerSecondsDown: number;
    /** At most 200, earliest first. */
    episodes: DownEpisode[];
  };
  consumers: { expected: number; actual: number; missing: number; tracks: ConsumerExpectation[] };
  /** Speaker simulation (--speakers): how the server's active-speaker announcements followed the turns. */
  speakers?: SpeakerReport;
  /** Simulcast publishers' layers and what their consumers received (--simulcast, --subscriber-layer). */
  simulcast?: SimulcastReport;
  /** End-to-end latency and jitter (werift peers; wrtc peers do not measure them). */
  mediaQuality: MediaQualityReport;
  verdict: Verdict;
}
