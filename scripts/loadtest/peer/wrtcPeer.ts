/**
 * A real-encoder conference participant: the official mediasoup-client (Chrome111 handler)
 * on @roamhq/wrtc's libwebrtc, speaking the public Socket.IO protocol like the browser
 * client. It publishes a generated camera and microphone that libwebrtc encodes (VP8 +
 * Opus, with its own congestion control, NACK and keyframe answers) and decodes what it
 * consumes, so it costs what a browser tab costs rather than what a replay costs.
 *
 * Counters come from libwebrtc's `getStats()` (inbound-rtp / outbound-rtp), read once per
 * transport every STATS_INTERVAL_MS (faster until every consumer has had its first packet):
 * `consumerStats()` is at most that old, and `firstPacketAt` is the first read that saw a
 * packet, i.e. up to FIRST_PACKET_POLL_MS late.
 *
 * Times are `performance.now()` values of the process the peer runs in.
 */
import type * as ms from 'mediasoup-client/types';
import { PeerBase, type ConsumerEntry, type PeerInit, type ProducerEntry, type SyntheticPeerOptions } from './peerBase.js';
import { wrtcHandlerFactory } from './wrtc.js';
import { createCameraTrack, createMicrophoneTrack, type GeneratedTrack } from './wrtcMedia.js';

export type WrtcPeerOptions = SyntheticPeerOptions;

const STATS_INTERVAL_MS = 500;
const FIRST_PACKET_POLL_MS = 50;
const FIRST_PACKET_WAIT_MS = 10_000;

interface EncodedProducer extends ProducerEntry {
  media: GeneratedTrack;
}

/** The getStats() fields read here; libwebrtc M106 names (RTCInboundRtpStreamStats etc.). */
interface RtpStreamStats {
  type: string;
  ssrc?: number;
  packetsReceived?: number;
  bytesReceived?: number;
  packetsLost?: number;
  packetsSent?: number;
  bytesSent?: number;
  nackCount?: number;
  pliCount?: number;
  firCount?: number;
  framesDecoded?: number;
}

const count = (n: number | undefined): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0);

export class WrtcPeer extends PeerBase<EncodedProducer> {
  #statsTimer?: NodeJS.Timeout;

  private constructor(init: PeerInit) {
    super(init);
  }

  /**
   * Connects, joins, publishes what `publish` asks for and starts consuming; resolves once
   * publishing has started and every producer present at join time is being consumed.
   */
  static join(opts: WrtcPeerOptions): Promise<WrtcPeer> {
    return PeerBase.joinRoom(opts, {
      deviceOptions: () => ({ handlerFactory: wrtcHandlerFactory() }),
      create: (init) => new WrtcPeer(init),
    });
  }

  override async close(): Promise<void> {
    clearTimeout(this.#statsTimer);
    await super.close();
  }

  // mediasoup is ICE-lite and hands out its candidates: a load peer needs no STUN/TURN
  // lookups, which would only add traffic leaving the machine.
  protected override iceServers(): RTCIceServer[] {
    return [];
  }

  protected override async startMedia(): Promise<void> {
    this.#scheduleStats();
    const want = this.opts.publish ?? {};
    for (const kind of ['audio', 'video'] as const) {
      if (!want[kind]) continue;
      const media = kind === 'audio' ? createMicrophoneTrack() : createCameraTrack();
      let producer: ms.Producer;
      try {
        producer = await this.produce(kind, {
          track: media.track,
          stopTracks: false,
          // As the browser client sends its microphone. The camera is one layer (the
          // client's simulcast would triple the encoding cost of a load peer).
          ...(kind === 'audio' ? { codecOptions: { opusDtx: true, opusFec: true } } : {}),
        });
      } catch (error) {
        media.stop();
        throw error;
      }
      this.producers.set(producer.id, {
        producer,
        media,
        stats: {
          producerId: producer.id,
          kind,
          packetsSent: 0,
          bytesSent: 0,
          keyframeRequests: 0,
          keyframeJumps: 0,
          nacksReceived: 0,
          plisReceived: 0,
          firsReceived: 0,
        },
      });
    }
  }

  protected override stopProducer(entry: EncodedProducer): void {
    // Stop feeding frames before the track ends, so libwebrtc never gets one for a dead track.
    entry.media.stop();
    entry.producer.close();
  }

  protected override consumerResumed(_entry: ConsumerEntry): void {
    this.#scheduleStats(FIRST_PACKET_POLL_MS);
  }

  /** (Re)arms the stats reader; a shorter delay replaces a pending longer one. */
  #scheduleStats(delayMs = STATS_INTERVAL_MS): void {
    if (this.closed) return;
    clearTimeout(this.#statsTimer);
    this.#statsTimer = setTimeout(() => {
      this.#statsTimer = undefined;
      this.#readStats().then(
        () => {
          // A consumer of a paused producer may wait for long: fast reads only for a while.
          const since = performance.now() - FIRST_PACKET_WAIT_MS;
          const waiting = [...this.consumers.values()].some(
            (e) => !e.stats.closed && e.stats.packets === 0 && (e.stats.resumedAt ?? 0) > since,
          );
          if (!this.#statsTimer) this.#scheduleStats(waiting ? FIRST_PACKET_POLL_MS : STATS_INTERVAL_MS);
        },
        (error: unknown) => {
          if (this.closed) return;
          this.events.emit('warning', new Error(`getStats: ${(error as Error).message}`, { cause: error }));
          if (!this.#statsTimer) this.#scheduleStats();
        },
      );
    }, delayMs);
  }

  async #readStats(): Promise<void> {
    const recv = this.recvTransport ? await this.recvTransport.catch(() => undefined) : undefined;
    const send = this.sendTransport;
    const [sendReport, recvReport] = await Promise.all([
      send && !send.closed ? send.getStats() : undefined,
      recv && !recv.closed ? recv.getStats() : undefined,
    ]);
    const readAt = performance.now();
    if (recvReport) {
      const bySsrc = new Map<number, RtpStreamStats>();
      recvReport.forEach((s: RtpStreamStats) => {
        if (s.type === 'inbound-rtp' && s.ssrc !== undefined) bySsrc.set(s.ssrc, s);
      });
      for (const entry of this.consumers.values()) {
        const ssrc = entry.consumer?.rtpParameters.encodings?.[0]?.ssrc;
        const s = ssrc === undefined ? undefined : bySsrc.get(ssrc);
        if (!s || entry.stats.closed) continue;
        const st = entry.stats;
        st.packets = count(s.packetsReceived);
        st.bytes = count(s.bytesReceived);
        st.lost = Math.max(0, count(s.packetsLost));
        st.nacksSent = count(s.nackCount);
        st.plisSent = count(s.pliCount);
        if (st.kind === 'video') st.framesDecoded = count(s.framesDecoded);
        if (st.packets > 0 && st.firstPacketAt === undefined) st.firstPacketAt = readAt;
      }
    }
    if (sendReport) {
      const bySsrc = new Map<number, RtpStreamStats>();
      sendReport.forEach((s: RtpStreamStats) => {
        if (s.type === 'outbound-rtp' && s.ssrc !== undefined) bySsrc.set(s.ssrc, s);
      });
      for (const entry of this.producers.values()) {
        const ssrc = entry.producer.rtpParameters.encodings?.[0]?.ssrc;
        const s = ssrc === undefined ? undefined : bySsrc.get(ssrc);
        if (!s) continue;
        const st = entry.stats;
        st.packetsSent = count(s.packetsSent);
        st.bytesSent = count(s.bytesSent);
        st.nacksReceived = count(s.nackCount);
        st.plisReceived = count(s.pliCount);
        st.firsReceived = count(s.firCount);
        st.keyframeRequests = st.plisReceived + st.firsReceived;
      }
    }
  }
}
