/**
 * Simulcast for the synthetic (werift) peers, both ways.
 *
 * Sending: one mediasoup producer with one encoding per layer (rid `r0`, `r1`, `r2`, as
 * mediasoup-client names them for a browser), each layer a clip of its own encoded at its
 * size and bitrate. werift's RTCRtpSender writes every packet with its one SSRC, so the
 * layers bypass it: each gets its own SSRC and sequence numbers, carries the MID and RID
 * header extensions mediasoup maps unknown SSRCs with, and is written to the DTLS transport
 * directly, with an RTCP sender report per layer (mediasoup switches a consumer between
 * layers only once it has sender reports of both). Keyframe requests name the layer's SSRC
 * and make that layer's replay jump; the server's dynacast demand (`producer:demand`)
 * turns layers off and on as a browser's encoder would.
 *
 * Receiving: the layer that arrives is read from the VP8 keyframes' frame size (mediasoup
 * rewrites the SSRC, the size survives) and from the bitrate since it last changed.
 */
import { randomInt } from 'node:crypto';
import type * as ms from 'mediasoup-client/types';
import { DEFAULT_CLIP, loadClip, type Clip, type ClipParameters } from './clip.js';
import { RtpReplayer, type ReplayerStats } from './replayer.js';
import { RTP_HEADER_LENGTH, VP8_DESCRIPTOR_LENGTH } from './rtpPacketizer.js';
import { werift } from './werift.js';
import { ABS_CAPTURE_TIME_URI, encodeAbsCaptureTime, wallClockMs } from './latency.js';

/** The layers of a simulcast publisher, lowest first, as the browser client's camera sends them. */
export const SIMULCAST_LAYERS: readonly ClipParameters[] = [
  { ...DEFAULT_CLIP, width: 320, height: 180, videoKbps: 150 },
  { ...DEFAULT_CLIP, width: 640, height: 360, videoKbps: 500 },
  { ...DEFAULT_CLIP, width: 1280, height: 720, videoKbps: 1200 },
];

export const LAYER_NAMES = ['low', 'mid', 'high'] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

/** `low`, `mid`, `high` or a spatial layer index (0 = lowest). */
export function parseLayer(text: string): number {
  const named = LAYER_NAMES.indexOf(text.trim().toLowerCase() as LayerName);
  if (named >= 0) return named;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0 || n >= SIMULCAST_LAYERS.length) {
    throw new Error(`invalid layer "${text}": expected low, mid, high or 0–${SIMULCAST_LAYERS.length - 1}`);
  }
  return n;
}

/** The encodings handed to mediasoup-client's produce(), as MediaSession.ts does for a camera. */
export function simulcastEncodings(layers: readonly ClipParameters[] = SIMULCAST_LAYERS): ms.RtpEncodingParameters[] {
  const top = layers.at(-1)!;
  // L1T1: the clips have no temporal layers (mediasoup-client would announce three otherwise).
  return layers.map((l) => ({ scaleResolutionDownBy: top.width / l.width, maxBitrate: l.videoKbps * 1000, scalabilityMode: 'L1T1' }));
}

/** One clip per layer, encoded once and cached like the plain clip. */
export function loadSimulcastClips(layers: readonly ClipParameters[] = SIMULCAST_LAYERS): Promise<Clip[]> {
  return Promise.all(layers.map((l) => loadClip(l)));
}

export interface LayerSendStats extends ReplayerStats {
  /** Spatial index, 0 = lowest. */
  layer: number;
  rid: string;
  ssrc: number;
  width: number;
  height: number;
  /** Off because the server said nobody watches it (dynacast). */
  paused: boolean;
  /** Times dynacast turned it off. */
  pauses: number;
  /** Keyframe requests (PLI/FIR) that named this layer. */
  keyframeRequestsReceived: number;
}

export interface SimulcastSendStats {
  layers: LayerSendStats[];
  /** Layers off right now, and `producer:demand` events received. */
  layersPaused: number;
  demands: number;
}

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const RTCP_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;
const SENDER_REPORT_INTERVAL_MS = 1000;
/** Seconds from 1900 (NTP) to 1970 (Unix). */
const NTP_EPOCH_OFFSET = 2_208_988_800n;

/** werift's RTCRtpSender as far as this module uses it (the DTLS transport is not in its typings). */
interface WeriftSenderInternals {
  dtlsTransport?: {
    state: string;
    sendRtp(payload: Buffer, header: InstanceType<typeof werift.RtpHeader>): Promise<number>;
    sendRtcp(packets: InstanceType<typeof werift.RtcpSrPacket>[]): Promise<unknown>;
    onRtcp: { subscribe(fn: (packet: RtcpLike) => void): { unSubscribe(): void } };
  };
}
interface RtcpLike {
  type: number;
  feedback?: { count?: number; mediaSsrc?: number; fir?: { ssrc: number }[] };
}

interface Layer {
  stats: LayerSendStats;
  replayer: RtpReplayer;
  seq: number;
  /** RTP timestamp of the last packet sent, and when (performance.now()): the sender report's clock. */
  lastTs?: number;
  lastSentAt: number;
  /** After a pause: drop packets until a keyframe starts, as an encoder restarts with one. */
  awaitKeyframe: boolean;
  ridPayload: Buffer;
}

export interface SimulcastSenderOptions {
  producer: ms.Producer;
  clips: readonly Clip[];
  keyframeMinIntervalMs?: number;
  onError: (error: unknown) => void;
  /** A keyframe request reached one of the layers. */
  onKeyFrameRequest: (type: 'pli' | 'fir') => void;
  onKeyFrame: () => void;
}

/** Replays one clip per layer into the producer's encodings, each with its own SSRC. */
export class SimulcastSender {
  readonly #layers: Layer[];
  readonly #sender: WeriftSenderInternals;
  readonly #payloadType: number;
  readonly #midExtId: number;
  readonly #ridExtId: number;
  /** abs-capture-time, when negotiated: each packet's send time, for the receivers' latency (latency.ts). */
  readonly #sendTimeExtId: number | undefined;
  readonly #midPayload: Buffer;
  readonly #onError: (error: unknown) => void;
  #demands = 0;
  #srTimer: NodeJS.Timeout | undefined;
  #rtcpSubscription: { unSubscribe(): void } | undefined;
  /** The DTLS transport #rtcpSubscription listens on: werift may replace it on a renegotiation. */
  #listening: object | undefined;
  readonly #onKeyFrameRequest: (type: 'pli' | 'fir') => void;

  constructor(o: SimulcastSenderOptions) {
    const p = o.producer.rtpParameters;
    const payloadType = p.codecs[0]?.payloadType;
    const midExtId = p.headerExtensions?.find((e) => e.uri === MID_URI)?.id;
    const ridExtId = p.headerExtensions?.find((e) => e.uri === RID_URI)?.id;
    const encodings = p.encodings ?? [];
    if (payloadType === undefined || midExtId === undefined || ridExtId === undefined || p.mid === undefined) {
      throw new Error(`simulcast producer ${o.producer.id}: no payload type, MID or RID extension negotiated`);
    }
    if (encodings.length !== o.clips.length || encodings.some((e) => e.rid === undefined)) {
      throw new Error(`simulcast producer ${o.producer.id}: ${encodings.length} encodings with rids for ${o.clips.length} layers`);
    }
    this.#sender = o.producer.rtpSender as unknown as WeriftSenderInternals;
    this.#payloadType = payloadType;
    this.#midExtId = midExtId;
    this.#ridExtId = ridExtId;
    this.#sendTimeExtId = p.headerExtensions?.find((e) => e.uri === ABS_CAPTURE_TIME_URI)?.id;
    this.#midPayload = werift.serializeSdesMid(p.mid);
    this.#onError = o.onError;
    this.#onKeyFrameRequest = o.onKeyFrameRequest;
    const ssrcs = new Set<number>();
    this.#layers = o.clips.map((clip, i) => {
      let ssrc: number;
      do ssrc = randomInt(1, 2 ** 32 - 1);
      while (ssrcs.has(ssrc));
      ssrcs.add(ssrc);
      const rid = encodings[i]!.rid!;
      const layer: Layer = {
        stats: {
          layer: i,
          rid,
          ssrc,
          width: clip.params.width,
          height: clip.params.height,
          paused: false,
          pauses: 0,
          keyframeRequestsReceived: 0,
          packetsSent: 0,
          bytesSent: 0,
          keyframeRequests: 0,
          keyframeJumps: 0,
        },
        seq: randomInt(0, 2 ** 15),
        lastSentAt: 0,
        awaitKeyframe: false,
        ridPayload: werift.serializeSdesRTPStreamID(rid),
        replayer: undefined as unknown as RtpReplayer,
      };
      layer.replayer = new RtpReplayer({
        track: clip.video,
        // The replayer's sequence numbers and SSRC are overwritten per layer in #send.
        target: { ssrc, payloadType, fps: clip.params.fps },
        sink: (packet) => this.#send(layer, packet),
        onError: o.onError,
        onKeyFrame: o.onKeyFrame,
        ...(o.keyframeMinIntervalMs !== undefined ? { keyframeMinIntervalMs: o.keyframeMinIntervalMs } : {}),
      });
      return layer;
    });
  }

  get layerStats(): SimulcastSendStats {
    const layers = this.#layers.map((l) => ({
      ...l.stats,
      keyframeRequests: l.replayer.stats.keyframeRequests,
      keyframeJumps: l.replayer.stats.keyframeJumps,
    }));
    return { layers, layersPaused: layers.filter((l) => l.paused).length, demands: this.#demands };
  }

  /** Totals over the layers (what went out), in the shape of a single replayer's. */
  get stats(): ReplayerStats {
    const t: ReplayerStats = { packetsSent: 0, bytesSent: 0, keyframeRequests: 0, keyframeJumps: 0 };
    for (const l of this.#layers) {
      t.packetsSent += l.stats.packetsSent;
      t.bytesSent += l.stats.bytesSent;
      t.keyframeRequests += l.replayer.stats.keyframeRequests;
      t.keyframeJumps += l.replayer.stats.keyframeJumps;
    }
    return t;
  }

  start(): void {
    for (const l of this.#layers) l.replayer.start();
    this.#srTimer ??= setInterval(() => this.#sendReports(), SENDER_REPORT_INTERVAL_MS);
  }

  stop(): void {
    for (const l of this.#layers) l.replayer.stop();
    clearInterval(this.#srTimer);
    this.#srTimer = undefined;
    this.#rtcpSubscription?.unSubscribe();
    this.#rtcpSubscription = undefined;
    this.#listening = undefined;
  }

  /**
   * Dynacast: send the layers up to `maxSpatialLayer`, none for null. A layer turned back
   * on starts with a keyframe.
   */
  demand(maxSpatialLayer: number | null): void {
    this.#demands++;
    for (const l of this.#layers) {
      const off = maxSpatialLayer === null || l.stats.layer > maxSpatialLayer;
      if (off === l.stats.paused) continue;
      l.stats.paused = off;
      if (off) l.stats.pauses++;
      else {
        l.awaitKeyframe = true;
        l.replayer.requestKeyFrame();
      }
    }
  }

  /** Keyframe requests arrive on the transport, addressed to a layer's SSRC. */
  #listen(): void {
    const dtls = this.#sender.dtlsTransport;
    if (!dtls || dtls === this.#listening) return;
    this.#rtcpSubscription?.unSubscribe();
    this.#listening = dtls;
    const bySsrc = new Map(this.#layers.map((l) => [l.stats.ssrc, l]));
    this.#rtcpSubscription = dtls.onRtcp.subscribe((packet) => {
      if (packet.type !== RTCP_PSFB) return;
      const fmt = packet.feedback?.count;
      const targets =
        fmt === FMT_PLI ? [packet.feedback?.mediaSsrc] : fmt === FMT_FIR ? (packet.feedback?.fir ?? []).map((f) => f.ssrc) : [];
      for (const ssrc of targets) {
        const layer = ssrc === undefined ? undefined : bySsrc.get(ssrc);
        if (!layer) continue;
        layer.stats.keyframeRequestsReceived++;
        this.#onKeyFrameRequest(fmt === FMT_PLI ? 'pli' : 'fir');
        layer.replayer.requestKeyFrame();
      }
    });
  }

  #send(layer: Layer, packet: Buffer): void {
    if (layer.stats.paused) return;
    const dtls = this.#sender.dtlsTransport;
    // Before DTLS is up there are no SRTP keys: werift drops such packets too.
    if (dtls?.state !== 'connected') return;
    this.#listen();
    if (layer.awaitKeyframe) {
      // The clip's payload descriptor (rtpPacketizer.ts): bit S; then the VP8 header's P bit.
      const start = (packet[RTP_HEADER_LENGTH]! & 0x10) !== 0;
      const key = start && (packet[RTP_HEADER_LENGTH + VP8_DESCRIPTOR_LENGTH]! & 0x01) === 0;
      if (!key) return;
      layer.awaitKeyframe = false;
    }
    const rtp = werift.RtpPacket.deSerialize(packet);
    rtp.header.ssrc = layer.stats.ssrc;
    rtp.header.payloadType = this.#payloadType;
    rtp.header.sequenceNumber = layer.seq;
    layer.seq = (layer.seq + 1) & 0xffff;
    rtp.header.extensions = [
      { id: this.#midExtId, payload: this.#midPayload },
      { id: this.#ridExtId, payload: layer.ridPayload },
      ...(this.#sendTimeExtId !== undefined ? [{ id: this.#sendTimeExtId, payload: encodeAbsCaptureTime(wallClockMs()) }] : []),
    ].sort((a, b) => a.id - b.id);
    layer.lastTs = rtp.header.timestamp;
    layer.lastSentAt = performance.now();
    layer.stats.packetsSent++;
    layer.stats.bytesSent += rtp.payload.length;
    dtls.sendRtp(rtp.payload, rtp.header).catch(this.#onError);
  }

  /** One sender report per layer that is sending: its RTP clock against the wall clock now. */
  #sendReports(): void {
    const dtls = this.#sender.dtlsTransport;
    if (dtls?.state !== 'connected') return;
    const now = performance.now();
    const ntp = ntpTimestamp(performance.timeOrigin + now);
    const reports = this.#layers
      .filter((l) => !l.stats.paused && l.lastTs !== undefined)
      .map(
        (l) =>
          new werift.RtcpSrPacket({
            ssrc: l.stats.ssrc,
            senderInfo: new werift.RtcpSenderInfo({
              ntpTimestamp: ntp,
              rtpTimestamp: (l.lastTs! + Math.round((now - l.lastSentAt) * 90)) >>> 0,
              packetCount: l.stats.packetsSent >>> 0,
              octetCount: l.stats.bytesSent >>> 0,
            }),
          }),
      );
    if (reports.length > 0) dtls.sendRtcp(reports).catch(this.#onError);
  }
}

function ntpTimestamp(epochMs: number): bigint {
  const seconds = BigInt(Math.floor(epochMs / 1000)) + NTP_EPOCH_OFFSET;
  const fraction = BigInt(Math.floor(((epochMs % 1000) / 1000) * 2 ** 32));
  return (seconds << 32n) | fraction;
}

/** What a subscriber asked of one simulcast consumer and what arrives on it. */
export interface LayerReceiveStats {
  /** Spatial layer asked for with consumer:setPreferredLayers (after clamping to the producer's). */
  requested: number;
  /** Spatial layers the producer sends (from the consumer's scalability mode). */
  producerLayers: number;
  /** Frame size of the last keyframe received, and how many keyframes were seen. */
  width?: number;
  height?: number;
  keyframes: number;
  /** Layer index whose size the last keyframe has (undefined: unknown size). */
  receivedLayer?: number;
  /** Payload bitrate since the frame size last changed. */
  kbps: number;
  /** Frame-size changes seen (layer switches). */
  switches: number;
  /** The last keyframe has the requested layer's size. */
  matches: boolean;
}

/** Spatial layers of a consumer's producer, from `L3T1` / `S3T3` style scalability modes. */
export function spatialLayersOf(rtpParameters: ms.RtpParameters): number {
  const mode = rtpParameters.encodings?.[0]?.scalabilityMode;
  const m = mode === undefined ? null : /^[LS](\d+)/.exec(mode);
  return m ? Number(m[1]) : 1;
}

/**
 * Frame size of a VP8 keyframe starting in `payload` (an RTP payload: RFC 7741 descriptor,
 * then the VP8 payload header), undefined for any other packet.
 */
export function vp8KeyframeSize(payload: Buffer): { width: number; height: number } | undefined {
  if (payload.length < 1) return undefined;
  const b0 = payload[0]!;
  // Start of a partition 0: S set, partition index 0.
  if ((b0 & 0x10) === 0 || (b0 & 0x07) !== 0) return undefined;
  let at = 1;
  if (b0 & 0x80) {
    const x = payload[at++];
    if (x === undefined) return undefined;
    if (x & 0x80) at += (payload[at]! & 0x80) !== 0 ? 2 : 1;
    if (x & 0x40) at++;
    if (x & 0x30) at++;
  }
  // Key frame: P bit 0, then the start code 9d 01 2a and 14-bit width / height.
  if (payload.length < at + 10 || (payload[at]! & 0x01) !== 0) return undefined;
  if (payload[at + 3] !== 0x9d || payload[at + 4] !== 0x01 || payload[at + 5] !== 0x2a) return undefined;
  return { width: payload.readUInt16LE(at + 6) & 0x3fff, height: payload.readUInt16LE(at + 8) & 0x3fff };
}

/** Watches one simulcast consumer's packets: which layer arrives, at what rate. */
export class LayerProbe {
  readonly #stats: LayerReceiveStats;
  readonly #layers: readonly ClipParameters[];
  #since = 0;
  #bytesSince = 0;

  constructor(requested: number, producerLayers: number, layers: readonly ClipParameters[] = SIMULCAST_LAYERS) {
    this.#layers = layers;
    this.#stats = {
      requested: Math.min(requested, producerLayers - 1),
      producerLayers,
      keyframes: 0,
      kbps: 0,
      switches: 0,
      matches: false,
    };
  }

  packet(payload: Buffer, now = performance.now()): void {
    if (this.#bytesSince === 0 && this.#since === 0) this.#since = now;
    this.#bytesSince += payload.length;
    const size = vp8KeyframeSize(payload);
    if (!size) return;
    const s = this.#stats;
    s.keyframes++;
    if (size.width === s.width && size.height === s.height) return;
    if (s.width !== undefined) s.switches++;
    s.width = size.width;
    s.height = size.height;
    const index = this.#layers.findIndex((l) => l.width === size.width && l.height === size.height);
    s.receivedLayer = index >= 0 ? index : undefined;
    s.matches = s.receivedLayer === s.requested;
    this.#since = now;
    this.#bytesSince = payload.length;
  }

  stats(now = performance.now()): LayerReceiveStats {
    const seconds = (now - this.#since) / 1000;
    return { ...this.#stats, kbps: seconds > 0.5 ? Math.round((this.#bytesSince * 8) / seconds / 1000) : 0 };
  }
}
