/**
 * What the capacity benchmark loads: Noom itself, run in-process (`startNoom`), whose room
 * places every viewer and pipes the publisher's producers to the viewer's router exactly as
 * it does for a WebRTC peer (RoomMedia.reserve → place → route); or a bare mediasoup router
 * (one worker of the same binary, the same codec table, nothing else) as the baseline.
 *
 * Publishers are PlainTransports fed by the sender process. Viewers are PlainTransports
 * with SRTP that send to one loopback port where nothing listens (sink.ts counts arrivals in
 * the kernel): each viewer consumes every producer (audio + video), like a WebRTC viewer
 * with one receive transport. Viewers do not send RTCP: no receiver reports, NACK, PLI, REMB
 * or transport-cc, so no congestion control runs on their transports.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { loadConfig, type Config } from '../../../config/index.js';
import { startNoom, type NoomServer } from '../../../server/src/app.js';
import { MEDIA_CODECS } from '../../../server/src/media/codecs.js';
import type { Room } from '../../../server/src/rooms/Room.js';
import { AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE } from './media.js';
import type { SenderProcess } from './senderProcess.js';

export const LOOPBACK = '127.0.0.1';
/** WebRTC's mandatory-to-implement SRTP profile, and PlainTransport's default. */
export const SRTP_SUITE: types.SrtpCryptoSuite = 'AES_CM_128_HMAC_SHA1_80';

/**
 * Where viewers send, and how: `srtp: null` sends plain RTP (to measure what SRTP costs);
 * `audioOnly` viewers consume the publisher's audio alone, as listeners of a large audio
 * call do (the shape of LiveKit's published capacity run), instead of audio + video.
 */
export interface ViewerSpec {
  sinkPort: number;
  srtp: types.SrtpCryptoSuite | null;
  audioOnly?: boolean;
}

/** The producers a viewer of `spec` consumes. */
export function consumedBy(spec: Pick<ViewerSpec, 'audioOnly'>, published: Published): types.Producer[] {
  return spec.audioOnly ? [published.audio] : [published.audio, published.video];
}
const PORT_RANGE = { min: 40100, max: 49999 };

export interface Published {
  audio: types.Producer;
  video: types.Producer;
}

export interface Viewer {
  transport: types.PlainTransport;
  consumers: types.Consumer[];
  /** The worker (pool slot) the viewer's router runs on. */
  slot: number;
}

/**
 * A viewer's receive capabilities: the router's, without the feedback that would start
 * congestion control (transport-cc, REMB) on a transport that never answers it.
 */
export function viewerCapabilities(router: types.Router): types.RtpCapabilities {
  const caps = router.rtpCapabilities;
  return {
    codecs: (caps.codecs ?? []).map((c) => ({
      ...c,
      rtcpFeedback: (c.rtcpFeedback ?? []).filter((fb) => fb.type !== 'transport-cc' && fb.type !== 'goog-remb'),
    })),
    headerExtensions: (caps.headerExtensions ?? []).filter((h) => !h.uri.includes('transport-wide-cc')),
  };
}

/** A publisher: one comedia PlainTransport with an Opus and a VP8 producer, fed by the sender. */
export async function openPublisher(
  router: types.Router,
  sender: SenderProcess,
  keyFrameRequestDelay: number | undefined,
): Promise<{ transport: types.PlainTransport; published: Published }> {
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: LOOPBACK, portRange: PORT_RANGE },
    rtcpMux: true,
    comedia: true,
  });
  const audioSsrc = randomBytes(4).readUInt32BE(0);
  const videoSsrc = randomBytes(4).readUInt32BE(0);
  const audio = await transport.produce({
    kind: 'audio',
    rtpParameters: {
      codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PAYLOAD_TYPE, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc: audioSsrc }],
    },
  });
  const video = await transport.produce({
    kind: 'video',
    rtpParameters: {
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: VIDEO_PAYLOAD_TYPE,
          clockRate: 90000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
        },
      ],
      encodings: [{ ssrc: videoSsrc }],
    },
    ...(keyFrameRequestDelay !== undefined ? { keyFrameRequestDelay } : {}),
  });
  await sender.publish({ host: transport.tuple.localAddress ?? LOOPBACK, port: transport.tuple.localPort, audioSsrc, videoSsrc });
  return { transport, published: { audio, video } };
}

/** A viewer on `router`: a PlainTransport (with SRTP) sending to the sink, consuming what `spec` says. */
export async function openViewer(router: types.Router, published: Published, spec: ViewerSpec, slot: number): Promise<Viewer> {
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: LOOPBACK, portRange: PORT_RANGE },
    rtcpMux: true,
    comedia: false,
    ...(spec.srtp ? { enableSrtp: true, srtpCryptoSuite: spec.srtp } : {}),
  });
  try {
    await transport.connect({
      ip: LOOPBACK,
      port: spec.sinkPort,
      // The key this viewer would encrypt its own RTCP with: random, nothing is ever decrypted.
      ...(spec.srtp ? { srtpParameters: { cryptoSuite: spec.srtp, keyBase64: randomBytes(srtpKeyLength(spec.srtp)).toString('base64') } } : {}),
    });
    const rtpCapabilities = viewerCapabilities(router);
    const consumers: types.Consumer[] = [];
    for (const producer of consumedBy(spec, published)) {
      consumers.push(await transport.consume({ producerId: producer.id, rtpCapabilities }));
    }
    return { transport, consumers, slot };
  } catch (error) {
    transport.close();
    throw error;
  }
}

/** Master key + salt bytes of an SRTP profile (RFC 3711, RFC 7714). */
function srtpKeyLength(suite: types.SrtpCryptoSuite): number {
  return suite === 'AEAD_AES_256_GCM' ? 44 : suite === 'AEAD_AES_128_GCM' ? 28 : 30;
}

export interface CapacityTarget {
  readonly label: string;
  /** The workers' pids, by slot. */
  readonly workerPids: number[];
  readonly published: Published;
  addViewer(spec: ViewerSpec): Promise<Viewer>;
  close(): Promise<void>;
}

/**
 * The environment every Noom of this benchmark runs with: loopback, quiet, a room that
 * outlives its silence; `env` adds to it (a cluster node's REDIS_URL and NODE_ID).
 */
export function noomConfig(workers: number, peersPerRouter: number, env: Record<string, string> = {}): Config {
  return loadConfig({
    HOST: LOOPBACK,
    PORT: '0',
    RTC_LISTEN_IP: LOOPBACK,
    ANNOUNCED_IP: LOOPBACK,
    RTC_PORT_BASE: '0',
    RTC_MIN_PORT: String(PORT_RANGE.min),
    RTC_MAX_PORT: String(PORT_RANGE.max),
    LOG_LEVEL: 'silent',
    WORKERS: String(workers),
    ROOM_PEERS_PER_ROUTER: String(peersPerRouter),
    // Viewers are not socket members: without this the "empty" room would close after 3 s.
    ROOM_GRACE_MS: '600000',
    RATE_LIMIT_EXEMPT: 'loopback',
    ...env,
  });
}

/**
 * A viewer placed and served by a room's own media, as a peer's transports are: a router
 * with room for it, the producers routed there (a pipe from another worker, or an import
 * from another node), a PlainTransport consuming both. `release` undoes it all.
 */
export async function addRoomViewer(room: Room, published: Published, spec: ViewerSpec, slot?: number): Promise<{ viewer: Viewer; release: () => void }> {
  if (room.closed) throw new Error('the room closed under the benchmark');
  const media = room.media;
  await media.reserve();
  const placement = media.place(`viewer-${randomUUID()}`);
  const giveBack: (() => void)[] = [];
  try {
    for (const p of consumedBy(spec, published)) giveBack.push(await media.route(p.id, placement.router));
    const viewer = await openViewer(placement.router, published, spec, slot ?? placement.slotIndex);
    return {
      viewer,
      release: () => {
        viewer.transport.close();
        for (const g of giveBack) g();
        placement.release();
      },
    };
  } catch (error) {
    for (const g of giveBack) g();
    placement.release();
    throw error;
  }
}

/**
 * Noom in this process: one room, one publisher placed by the room, viewers placed by the
 * room and served through its pipes. The publisher's producers enter the room as a peer's
 * would (RoomMedia.addProducer: the audio one reaches the active-speaker observer).
 */
export class NoomTarget implements CapacityTarget {
  readonly label: string;
  #released: (() => void)[] = [];

  private constructor(
    readonly noom: NoomServer,
    readonly room: Room,
    readonly published: Published,
    readonly config: Config,
  ) {
    this.label = `noom, WORKERS=${config.mediasoup.workers}, ROOM_PEERS_PER_ROUTER=${config.mediasoup.roomPeersPerRouter}`;
  }

  static async start(sender: SenderProcess, workers: number, peersPerRouter: number): Promise<NoomTarget> {
    const config = noomConfig(workers, peersPerRouter);
    const noom = await startNoom(config);
    try {
      const room = await noom.rooms.getOrCreate(`capacity-${randomUUID()}`, { isPublic: false });
      await room.media.reserve();
      const peerId = `publisher-${randomUUID()}`;
      const placement = room.media.place(peerId);
      const { published } = await openPublisher(placement.router, sender, config.mediasoup.keyFrameRequestDelayMs);
      room.media.addProducer({ producer: published.audio, peerId, source: 'mic', router: placement.router });
      room.media.addProducer({ producer: published.video, peerId, source: 'camera', router: placement.router });
      const target = new NoomTarget(noom, room, published, config);
      target.#released.push(placement.release);
      return target;
    } catch (error) {
      await noom.close();
      throw error;
    }
  }

  get workerPids(): number[] {
    return this.noom.pool.slots.map((s) => s.worker.pid);
  }

  async addViewer(spec: ViewerSpec): Promise<Viewer> {
    const { viewer, release } = await addRoomViewer(this.room, this.published, spec);
    this.#released.push(release);
    return viewer;
  }

  async close(): Promise<void> {
    for (const r of this.#released.splice(0)) r();
    await this.noom.close();
  }
}

/** The baseline: one bare worker and router, the same codecs, the same publisher and viewers. */
export class BareTarget implements CapacityTarget {
  readonly label = 'bare mediasoup';

  private constructor(
    readonly worker: types.Worker,
    readonly router: types.Router,
    readonly published: Published,
  ) {}

  static async start(sender: SenderProcess): Promise<BareTarget> {
    const worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: PORT_RANGE.min, rtcMaxPort: PORT_RANGE.max });
    try {
      const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
      const { published } = await openPublisher(router, sender, undefined);
      return new BareTarget(worker, router, published);
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  get workerPids(): number[] {
    return [this.worker.pid];
  }

  addViewer(spec: ViewerSpec): Promise<Viewer> {
    return openViewer(this.router, this.published, spec, 0);
  }

  async close(): Promise<void> {
    this.worker.close();
  }
}
