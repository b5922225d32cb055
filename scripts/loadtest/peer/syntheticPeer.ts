/**
 * A synthetic conference participant: the official mediasoup-client on werift, speaking
 * the public Socket.IO protocol like the browser client does. It publishes a pre-encoded
 * clip (see clip.ts, replayer.ts), every packet stamped with its send time, and counts the
 * RTP it receives on every consumer, with its end-to-end latency and jitter (latency.ts).
 *
 * Times (`joinedAt`, `firstPacketAt`) are `performance.now()` values of the process the
 * peer runs in: compare them with each other, not across processes.
 */
import type * as ms from 'mediasoup-client/types';
import { request } from '../../../protocol/index.js';
import {
  PeerBase,
  type ConsumerEntry,
  type ConsumerStats,
  type PeerInit,
  type ProducerEntry,
  type ProducerStats,
  type SyntheticPeerOptions,
} from './peerBase.js';
import { loadClip, DEFAULT_CLIP, type Clip, type ClipParameters } from './clip.js';
import { RtpReplayer } from './replayer.js';
import { installWerift, werift } from './werift.js';
import { levelAt, type SpeakingTurn } from './speaking.js';
import { LayerProbe, SimulcastSender, loadSimulcastClips, simulcastEncodings, spatialLayersOf } from './simulcast.js';
import { ABS_CAPTURE_TIME_URI, StreamQuality, decodeAbsCaptureTime, encodeAbsCaptureTime, isNewerSeq, wallClockMs } from './latency.js';

export type { ConsumerStats, KeyFrameEvent, ProducerStats, SyntheticPeerEvents, SyntheticPeerOptions } from './peerBase.js';

export interface SyntheticPeerJoinOptions extends SyntheticPeerOptions {
  /** The clip a publisher replays; default DEFAULT_CLIP (keyframe every second). */
  clip?: ClipParameters;
  /**
   * Keyframe requests within this long of the last requested keyframe are merged into one
   * at its end, as encoders do; default 250 ms, 0 answers every request at once.
   */
  keyframeMinIntervalMs?: number;
  /** Speaker simulation: this publisher's turn at speaking; default it speaks all the time. */
  speaking?: SpeakingTurn;
  /**
   * @internal Tests only: packets carry a send time this many ms in the past, so every
   * receiver's latency grows by that much, as if the network held them that long.
   */
  captureTimeSkewMs?: number;
}

interface ReplayedProducer extends ProducerEntry {
  replayer: RtpReplayer | SimulcastSender;
}

/** Where a consumer's RTP sequence numbers have got to, for its loss count. */
interface SequenceState {
  highestSeq?: number;
  firstSeq?: number;
  cycles: number;
}

/** Counters werift keeps on its receiver (declared private in its typings). */
interface WeriftReceiverCounters {
  nackCountBySsrc?: Record<number, number>;
  pliCountBySsrc?: Record<number, number>;
}
type WeriftSender = InstanceType<typeof werift.RTCRtpSender>;
type WeriftTrack = InstanceType<typeof werift.MediaStreamTrack>;

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** `level` is one shared buffer for many packets: werift only reads extension payloads. */
function withAudioLevel(packet: Buffer, extId: number, level: Buffer): InstanceType<typeof werift.RtpPacket> {
  const rtp = werift.RtpPacket.deSerialize(packet);
  rtp.header.extensions.push({ id: extId, payload: level });
  return rtp;
}

const RTCP_RTPFB = 205;
const RTCP_PSFB = 206;
const FMT_NACK = 1;
const FMT_PLI = 1;
const FMT_FIR = 4;

export class SyntheticPeer extends PeerBase<ReplayedProducer> {
  readonly #clip: Clip | undefined;
  readonly #keyframeMinIntervalMs: number | undefined;
  readonly #speaking: SpeakingTurn | undefined;
  readonly #captureTimeSkewMs: number;
  /** Latency and jitter of each consumer, fed by its receive path. */
  readonly #quality = new WeakMap<ConsumerEntry, StreamQuality>();

  private constructor(init: PeerInit, clip: Clip | undefined, opts: SyntheticPeerJoinOptions) {
    super(init);
    this.#clip = clip;
    this.#keyframeMinIntervalMs = opts.keyframeMinIntervalMs;
    this.#speaking = opts.speaking;
    this.#captureTimeSkewMs = opts.captureTimeSkewMs ?? 0;
  }

  /**
   * Connects (WebSocket transport only), joins the room, publishes what `publish` asks for
   * and starts consuming. Resolves once publishing has started and every producer present
   * at join time is being consumed; media may still be on its way (see waitForMedia).
   */
  static async join(opts: SyntheticPeerJoinOptions): Promise<SyntheticPeer> {
    installWerift();
    const publishing = Boolean(opts.publish?.audio || opts.publish?.video);
    const clip = publishing ? await loadClip(opts.clip ?? DEFAULT_CLIP) : undefined;
    return PeerBase.joinRoom(opts, {
      deviceOptions: () => ({ handlerName: 'Chrome111' }),
      create: (init) => new SyntheticPeer(init, clip, opts),
    });
  }

  /**
   * ICE restart of one of this peer's transports: new ICE parameters from the server,
   * applied through mediasoup-client as a browser would after a network change.
   */
  async restartIce(direction: 'send' | 'recv'): Promise<ms.IceParameters> {
    const transport = direction === 'send' ? this.sendTransport : await this.recvTransport;
    if (!transport) throw new Error(`no ${direction} transport to restart`);
    const { iceParameters } = await request(this.socket, 'transport:restartIce', { transportId: transport.id }, this.timeout);
    await transport.restartIce({ iceParameters });
    return iceParameters;
  }

  #consumerCounters(): ConsumerStats[] {
    for (const e of this.consumers.values()) {
      const receiver = e.consumer?.rtpReceiver as unknown as WeriftReceiverCounters | undefined;
      const ssrc = e.consumer?.rtpParameters.encodings?.[0]?.ssrc;
      if (receiver && ssrc !== undefined) {
        e.stats.nacksSent = receiver.nackCountBySsrc?.[ssrc] ?? 0;
        e.stats.plisSent = receiver.pliCountBySsrc?.[ssrc] ?? 0;
      }
      const quality = this.#quality.get(e);
      const latency = quality?.latency();
      if (latency) e.stats.latencyMs = latency;
      if (quality?.jitterMs !== undefined) e.stats.jitterMs = quality.jitterMs;
    }
    return super.consumerStats();
  }

  override producerStats(): ProducerStats[] {
    return [...this.producers.values()].map((e) => ({
      ...e.stats,
      ...e.replayer.stats,
      ...(e.replayer instanceof SimulcastSender ? { simulcast: e.replayer.layerStats } : {}),
    }));
  }

  /** Simulcast senders told before their producer was known here (the server may speak first). */
  readonly #earlyDemands = new Map<string, number | null>();

  protected override producerDemand(producerId: string, maxSpatialLayer: number | null): void {
    const entry = this.producers.get(producerId);
    if (!entry) this.#earlyDemands.set(producerId, maxSpatialLayer);
    else if (entry.replayer instanceof SimulcastSender) entry.replayer.demand(maxSpatialLayer);
  }

  protected override async startMedia(): Promise<void> {
    if (this.#clip) await this.#publish(this.#clip);
  }

  protected override stopProducer(entry: ReplayedProducer): void {
    entry.replayer.stop();
    entry.producer.close();
  }

  protected override consumerCreated(entry: ConsumerEntry, consumer: ms.Consumer): void {
    const seq: SequenceState = { cycles: 0 };
    const track = consumer.track as unknown as WeriftTrack;
    const probe = this.#layerProbe(entry, consumer);
    const clockRate = consumer.rtpParameters.codecs[0]?.clockRate;
    const captureExtId = consumer.rtpParameters.headerExtensions?.find((e) => e.uri === ABS_CAPTURE_TIME_URI)?.id;
    const quality = clockRate ? new StreamQuality(clockRate) : undefined;
    if (quality) this.#quality.set(entry, quality);
    track.onReceiveRtp.subscribe((rtp) => {
      const inOrder = count(entry.stats, seq, rtp.header.sequenceNumber, rtp.payload.length);
      probe?.packet(rtp.payload);
      if (!quality) return;
      const stamp = captureExtId === undefined ? undefined : rtp.header.extensions.find((x) => x.id === captureExtId);
      quality.onPacket(rtp.header.timestamp, wallClockMs(), stamp ? decodeAbsCaptureTime(stamp.payload) : undefined, inOrder);
    });
  }

  override consumerStats(): ConsumerStats[] {
    for (const [id, probe] of this.#probes) {
      const e = this.consumers.get(id);
      if (e) e.stats.layer = probe.stats();
    }
    return this.#consumerCounters();
  }

  readonly #probes = new Map<string, LayerProbe>();

  /**
   * A simulcast video consumer: asks for the preferred layer (before the resume, so that the
   * first layer forwarded is already the one asked) and watches which one arrives.
   */
  #layerProbe(entry: ConsumerEntry, consumer: ms.Consumer): LayerProbe | undefined {
    const layers = spatialLayersOf(consumer.rtpParameters);
    if (consumer.kind !== 'video' || layers < 2) return undefined;
    const wanted = this.opts.preferredLayer;
    const probe = new LayerProbe(wanted ?? layers - 1, layers);
    this.#probes.set(consumer.id, probe);
    if (wanted !== undefined) {
      request(this.socket, 'consumer:setPreferredLayers', { consumerId: consumer.id, spatialLayer: Math.min(wanted, layers - 1) }, this.timeout).catch(
        (error: unknown) => this.events.emit('warning', new Error(`setPreferredLayers of ${entry.stats.consumerId}: ${(error as Error).message}`)),
      );
    }
    return probe;
  }

  async #publish(clip: Clip): Promise<void> {
    const want = this.opts.publish ?? {};
    for (const kind of ['audio', 'video'] as const) {
      if (!want[kind]) continue;
      if (kind === 'video' && this.opts.simulcast) {
        await this.#publishSimulcast();
        continue;
      }
      const track: WeriftTrack = new werift.MediaStreamTrack({ kind });
      const producer = await this.produce(kind, {
        track: track as unknown as MediaStreamTrack,
        stopTracks: true,
        ...(kind === 'audio' ? { codecOptions: { opusDtx: false, opusFec: false } } : {}),
      });
      const sender = producer.rtpSender as unknown as WeriftSender;
      const encoding = producer.rtpParameters.encodings?.[0];
      const payloadType = producer.rtpParameters.codecs[0]?.payloadType;
      if (encoding?.ssrc === undefined || payloadType === undefined) {
        throw new Error(`producer ${producer.id} has no SSRC / payload type`);
      }
      const levelExtId = producer.rtpParameters.headerExtensions?.find((e) => e.uri === AUDIO_LEVEL_URI)?.id;
      const sendTimeExtId = producer.rtpParameters.headerExtensions?.find((e) => e.uri === ABS_CAPTURE_TIME_URI)?.id;
      const skewMs = this.#captureTimeSkewMs;
      const replayer = new RtpReplayer({
        track: clip[kind],
        target: { ssrc: encoding.ssrc, payloadType, ...(kind === 'video' ? { fps: clip.params.fps } : {}) },
        sink: (packet) => {
          // A packet that gains no extension is written as replayed, without parsing it.
          if (levelExtId === undefined && sendTimeExtId === undefined) {
            track.writeRtp(packet);
            return;
          }
          const rtp = levelExtId === undefined ? werift.RtpPacket.deSerialize(packet) : withAudioLevel(packet, levelExtId, levelAt(this.#speaking, Date.now()));
          track.writeRtp(sendTimeExtId === undefined ? rtp : withSendTime(rtp, sendTimeExtId, skewMs));
        },
        onError: (error) => this.events.emit('warning', new Error(`replay of ${kind} stopped`, { cause: error })),
        onKeyFrame: () => this.events.emit('keyFrameSent', { producerId: producer.id, at: performance.now() }),
        ...(this.#keyframeMinIntervalMs !== undefined ? { keyframeMinIntervalMs: this.#keyframeMinIntervalMs } : {}),
      });
      const stats: ProducerStats = {
        producerId: producer.id,
        kind,
        nacksReceived: 0,
        plisReceived: 0,
        firsReceived: 0,
        ...replayer.stats,
      };
      sender.onRtcp.subscribe((packet) => {
        const fmt = (packet as { feedback?: { count?: number } }).feedback?.count;
        if (packet.type === RTCP_PSFB && (fmt === FMT_PLI || fmt === FMT_FIR)) {
          if (fmt === FMT_PLI) stats.plisReceived++;
          else stats.firsReceived++;
          this.events.emit('keyFrameRequest', { producerId: producer.id, type: fmt === FMT_PLI ? 'pli' : 'fir', at: performance.now() });
          replayer.requestKeyFrame();
        } else if (packet.type === RTCP_RTPFB && fmt === FMT_NACK) {
          const lost = (packet as { feedback?: { lost?: number[] } }).feedback?.lost;
          stats.nacksReceived += lost?.length ?? 1;
        }
      });
      this.producers.set(producer.id, { producer, replayer, stats });
      replayer.start();
    }
  }

  /** One producer, one encoding per layer of SIMULCAST_LAYERS, as a browser's camera. */
  async #publishSimulcast(): Promise<void> {
    const clips = await loadSimulcastClips();
    const track: WeriftTrack = new werift.MediaStreamTrack({ kind: 'video' });
    const producer = await this.produce('video', {
      track: track as unknown as MediaStreamTrack,
      stopTracks: true,
      encodings: simulcastEncodings(),
    });
    const stats: ProducerStats = { producerId: producer.id, kind: 'video', nacksReceived: 0, plisReceived: 0, firsReceived: 0, packetsSent: 0, bytesSent: 0, keyframeRequests: 0, keyframeJumps: 0 };
    const sender = new SimulcastSender({
      producer,
      clips,
      ...(this.#keyframeMinIntervalMs !== undefined ? { keyframeMinIntervalMs: this.#keyframeMinIntervalMs } : {}),
      onError: (error) => this.events.emit('warning', new Error('simulcast replay failed', { cause: error })),
      onKeyFrameRequest: (type) => {
        if (type === 'pli') stats.plisReceived++;
        else stats.firsReceived++;
        this.events.emit('keyFrameRequest', { producerId: producer.id, type, at: performance.now() });
      },
      onKeyFrame: () => this.events.emit('keyFrameSent', { producerId: producer.id, at: performance.now() }),
    });
    this.producers.set(producer.id, { producer, replayer: sender, stats });
    const early = this.#earlyDemands.get(producer.id);
    this.#earlyDemands.delete(producer.id);
    if (early !== undefined) sender.demand(early);
    sender.start();
  }
}

/** Stamps the send time (now, less the test-only skew) for the receivers' latency (latency.ts). */
function withSendTime(rtp: InstanceType<typeof werift.RtpPacket>, extId: number, skewMs: number): InstanceType<typeof werift.RtpPacket> {
  rtp.header.extensions.push({ id: extId, payload: encodeAbsCaptureTime(wallClockMs() - skewMs) });
  return rtp;
}

/** Counts a received packet; true when it is newer than every one before (not late, not repeated). */
function count(s: ConsumerStats, state: SequenceState, seq: number, payloadBytes: number): boolean {
  const newer = isNewerSeq(seq, state.highestSeq);
  if (s.packets === 0) {
    s.firstPacketAt = performance.now();
    state.firstSeq = seq;
    state.highestSeq = seq;
  } else if (newer) {
    // Newer but numbered lower: the sequence wrapped around.
    if (seq < state.highestSeq!) state.cycles++;
    state.highestSeq = seq;
  }
  s.packets++;
  s.bytes += payloadBytes;
  const expected = state.cycles * 0x10000 + state.highestSeq! - state.firstSeq! + 1;
  s.lost = Math.max(0, expected - s.packets);
  return newer;
}
