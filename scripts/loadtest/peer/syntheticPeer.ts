/**
 * A synthetic conference participant: the official mediasoup-client on werift, speaking
 * the public Socket.IO protocol like the browser client does. It publishes a pre-encoded
 * clip (see clip.ts, replayer.ts) and counts the RTP it receives on every consumer.
 *
 * Times (`joinedAt`, `firstPacketAt`) are `performance.now()` values of the process the
 * peer runs in: compare them with each other, not across processes.
 */
import { EventEmitter } from 'node:events';
import { Device } from 'mediasoup-client';
import type * as ms from 'mediasoup-client/types';
import type { z } from 'zod';
import {
  SERVER_EVENT_SCHEMAS,
  request,
  type JoinData,
  type ProducerInfo,
  type ProtocolSocket,
} from '../../../server/src/protocol/index.js';
import { waitForConsumerMedia, type LoadPeer, type WaitForMediaOptions } from './loadPeer.js';
import { bufferRoomEvents, connectSocket, ROOM_EVENTS, type EarlyEvents } from './signaling.js';
import { loadClip, DEFAULT_CLIP, type Clip } from './clip.js';
import { RtpReplayer, type ReplayerStats } from './replayer.js';
import { installWerift, werift } from './werift.js';

export interface SyntheticPeerOptions {
  url: string;
  roomId: string;
  displayName?: string;
  password?: string;
  /** Default: publish nothing. */
  publish?: { audio?: boolean; video?: boolean };
  /** Default true: consume every existing and every new producer of the room. */
  consume?: boolean;
  /** Socket connect and per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface ConsumerStats {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  /** RTP packets and payload bytes received (after SRTP decryption) on this consumer. */
  packets: number;
  bytes: number;
  /** performance.now() of the first packet. */
  firstPacketAt?: number;
  /** performance.now() of the consumer:resume ack. */
  resumedAt?: number;
  /** Packets missing from the sequence-number range seen so far (never negative). */
  lost: number;
  /** NACKs and PLIs this receiver sent to the server. */
  nacksSent: number;
  plisSent: number;
  /** Video frames decoded: set by engines that decode (WrtcPeer), not by replaying ones. */
  framesDecoded?: number;
  closed: boolean;
}

export interface ProducerStats extends ReplayerStats {
  producerId: string;
  kind: 'audio' | 'video';
  /** Sequence numbers the server asked to retransmit, and its keyframe requests. */
  nacksReceived: number;
  plisReceived: number;
  firsReceived: number;
}

export type SyntheticPeerEvents = {
  /** The socket or a transport went away without close() being called. */
  failed: [Error];
  /** A non-fatal problem, such as one consumer that could not be created. */
  warning: [Error];
};

interface ConsumerEntry {
  stats: ConsumerStats;
  consumer?: ms.Consumer;
  highestSeq?: number;
  firstSeq?: number;
  cycles: number;
}

interface ProducerEntry {
  producer: ms.Producer;
  replayer: RtpReplayer;
  stats: ProducerStats;
}

/** Counters werift keeps on its receiver (declared private in its typings). */
interface WeriftReceiverCounters {
  nackCountBySsrc?: Record<number, number>;
  pliCountBySsrc?: Record<number, number>;
}
type WeriftSender = InstanceType<typeof werift.RTCRtpSender>;
type WeriftTrack = InstanceType<typeof werift.MediaStreamTrack>;

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
/** Voice activity flag + a level of -30 dBov: speech, as a browser would mark it (RFC 6464). */
const SPEECH_LEVEL = 0x80 | 30;

function withAudioLevel(packet: Buffer, extId: number): InstanceType<typeof werift.RtpPacket> {
  const rtp = werift.RtpPacket.deSerialize(packet);
  rtp.header.extensions.push({ id: extId, payload: Buffer.from([SPEECH_LEVEL]) });
  return rtp;
}

const RTCP_RTPFB = 205;
const RTCP_PSFB = 206;
const FMT_NACK = 1;
const FMT_PLI = 1;
const FMT_FIR = 4;

export class SyntheticPeer implements LoadPeer {
  readonly socket: ProtocolSocket;
  readonly peerId: string;
  readonly joinData: JoinData;
  /** performance.now() when the room:join ack arrived. */
  readonly joinedAt: number;
  /** performance.now() just before room:join was sent. */
  readonly joinSentAt: number;
  readonly events = new EventEmitter<SyntheticPeerEvents>();

  readonly #opts: SyntheticPeerOptions;
  readonly #timeout: number;
  readonly #device: ms.Device;
  readonly #consumers = new Map<string, ConsumerEntry>();
  readonly #producers = new Map<string, ProducerEntry>();
  /** Remote producers known to exist, so a close racing a consume is not missed. */
  readonly #remoteProducers = new Map<string, ProducerInfo>();
  /** Producers consumed or being consumed: the join list and producer:new may overlap. */
  readonly #consumedProducers = new Set<string>();
  #sendTransport?: ms.Transport;
  #recvTransport?: Promise<ms.Transport>;
  #closed = false;

  private constructor(init: {
    opts: SyntheticPeerOptions;
    socket: ProtocolSocket;
    joinData: JoinData;
    joinSentAt: number;
    joinedAt: number;
    device: ms.Device;
  }) {
    this.#opts = init.opts;
    this.#timeout = init.opts.requestTimeoutMs ?? 10_000;
    this.socket = init.socket;
    this.joinData = init.joinData;
    this.peerId = init.joinData.peerId;
    this.joinSentAt = init.joinSentAt;
    this.joinedAt = init.joinedAt;
    this.#device = init.device;
  }

  /**
   * Connects (WebSocket transport only), joins the room, publishes what `publish` asks for
   * and starts consuming. Resolves once publishing has started and every producer present
   * at join time is being consumed; media may still be on its way (see waitForMedia).
   */
  static async join(opts: SyntheticPeerOptions): Promise<SyntheticPeer> {
    installWerift();
    const timeout = opts.requestTimeoutMs ?? 10_000;
    const publishing = Boolean(opts.publish?.audio || opts.publish?.video);
    const clip = publishing ? await loadClip(DEFAULT_CLIP) : undefined;
    const socket = await connectSocket(opts.url, timeout);
    // Room events can follow the join ack before the peer is ready to act on them.
    const early = bufferRoomEvents(socket);
    let peer: SyntheticPeer | undefined;
    try {
      const joinSentAt = performance.now();
      const joinData = await request(
        socket,
        'room:join',
        {
          roomId: opts.roomId,
          ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
          ...(opts.password !== undefined ? { password: opts.password } : {}),
        },
        timeout,
      );
      const joinedAt = performance.now();
      const device = new Device({ handlerName: 'Chrome111' });
      await device.load({ routerRtpCapabilities: joinData.rtpCapabilities });
      peer = new SyntheticPeer({ opts, socket, joinData, joinSentAt, joinedAt, device });
      const consuming = opts.consume ?? true;
      if (consuming) for (const p of joinData.producers) peer.#remoteProducers.set(p.producerId, p);
      peer.#listen(early);
      if (clip) await peer.#publish(clip);
      if (consuming) await Promise.all([...peer.#remoteProducers.values()].map((p) => peer!.#consume(p)));
      return peer;
    } catch (error) {
      early.stop();
      if (peer) await peer.close();
      else socket.disconnect();
      throw error;
    }
  }

  producerIds(): string[] {
    return [...this.#producers.keys()];
  }

  /**
   * ICE restart of one of this peer's transports: new ICE parameters from the server,
   * applied through mediasoup-client as a browser would after a network change.
   */
  async restartIce(direction: 'send' | 'recv'): Promise<ms.IceParameters> {
    const transport = direction === 'send' ? this.#sendTransport : await this.#recvTransport;
    if (!transport) throw new Error(`no ${direction} transport to restart`);
    const { iceParameters } = await request(this.socket, 'transport:restartIce', { transportId: transport.id }, this.#timeout);
    await transport.restartIce({ iceParameters });
    return iceParameters;
  }

  consumerStats(): ConsumerStats[] {
    return [...this.#consumers.values()].map((e) => {
      const receiver = e.consumer?.rtpReceiver as unknown as WeriftReceiverCounters | undefined;
      const ssrc = e.consumer?.rtpParameters.encodings?.[0]?.ssrc;
      if (receiver && ssrc !== undefined) {
        e.stats.nacksSent = receiver.nackCountBySsrc?.[ssrc] ?? 0;
        e.stats.plisSent = receiver.pliCountBySsrc?.[ssrc] ?? 0;
      }
      return { ...e.stats };
    });
  }

  producerStats(): ProducerStats[] {
    return [...this.#producers.values()].map((e) => ({ ...e.stats, ...e.replayer.stats }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves once at least `consumers` consumers have each received `minPackets` packets;
   * rejects after `timeoutMs` with what was received so far.
   */
  waitForMedia(opts: WaitForMediaOptions): Promise<void> {
    return waitForConsumerMedia(this, opts);
  }

  /** Stops media, closes producers, consumers, transports and the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#producers.values()) {
      p.replayer.stop();
      p.producer.close();
    }
    for (const c of this.#consumers.values()) {
      c.consumer?.close();
      c.stats.closed = true;
    }
    this.#sendTransport?.close();
    const recv = await this.#recvTransport?.catch(() => undefined);
    recv?.close();
    this.socket.disconnect();
  }

  /**
   * Takes over the room events from the join-time buffer: those that arrived between the
   * room:join ack and now are handled first, in order, then live ones.
   */
  #listen(early: EarlyEvents): void {
    const consuming = this.#opts.consume ?? true;
    const handlers: { [E in (typeof ROOM_EVENTS)[number]]: (ev: z.infer<(typeof SERVER_EVENT_SCHEMAS)[E]>) => void } = {
      'producer:new': (ev) => {
        if (!consuming || ev.peerId === this.peerId) return;
        this.#remoteProducers.set(ev.producerId, ev);
        void this.#consume(ev);
      },
      'producer:closed': (ev) => {
        this.#remoteProducers.delete(ev.producerId);
        for (const entry of this.#consumers.values()) {
          if (entry.stats.producerId === ev.producerId) this.#closeConsumer(entry);
        }
      },
      'consumer:closed': (ev) => {
        const entry = this.#consumers.get(ev.consumerId);
        if (entry) this.#closeConsumer(entry);
      },
    };
    const dispatch = (name: (typeof ROOM_EVENTS)[number], raw: unknown): void => {
      const parsed = SERVER_EVENT_SCHEMAS[name].safeParse(raw);
      if (!parsed.success) {
        this.events.emit('warning', new Error(`malformed ${name} event: ${parsed.error.message}`));
        return;
      }
      (handlers[name] as (ev: unknown) => void)(parsed.data);
    };
    early.stop();
    const raw = this.socket as unknown as EventEmitter;
    // Registered untyped: the payload is network input and is parsed before use.
    for (const name of ROOM_EVENTS) raw.on(name, (payload: unknown) => dispatch(name, payload));
    for (const [name, payload] of early.events) dispatch(name, payload);
    this.socket.on('disconnect', (reason) => {
      if (this.#closed) return;
      this.events.emit('failed', new Error(`socket disconnected: ${reason}`));
      void this.close();
    });
  }

  #closeConsumer(entry: ConsumerEntry): void {
    entry.stats.closed = true;
    entry.consumer?.close();
  }

  #watchTransport(transport: ms.Transport, direction: string): void {
    transport.on('connectionstatechange', (state) => {
      if (state === 'failed' && !this.#closed) {
        this.events.emit('failed', new Error(`${direction} transport ${transport.id}: connection failed`));
      }
    });
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<ms.Transport> {
    const data = await request(this.socket, 'transport:create', { direction }, this.#timeout);
    const options: ms.TransportOptions = {
      id: data.id,
      iceParameters: data.iceParameters,
      iceCandidates: data.iceCandidates,
      dtlsParameters: data.dtlsParameters,
      iceServers: this.joinData.iceServers as RTCIceServer[],
    };
    const transport =
      direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      request(this.socket, 'transport:connect', { transportId: transport.id, dtlsParameters }, this.#timeout).then(
        () => callback(),
        errback,
      );
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
        request(
          this.socket,
          'producer:create',
          {
            transportId: transport.id,
            kind,
            rtpParameters,
            source: kind === 'audio' ? 'mic' : 'camera',
          },
          this.#timeout,
        ).then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    this.#watchTransport(transport, direction);
    return transport;
  }

  async #publish(clip: Clip): Promise<void> {
    const want = this.#opts.publish ?? {};
    this.#sendTransport = await this.#createTransport('send');
    for (const kind of ['audio', 'video'] as const) {
      if (!want[kind]) continue;
      const mime = kind === 'audio' ? 'audio/opus' : 'video/vp8';
      const codec = this.#device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === mime);
      if (!codec || !this.#device.canProduce(kind)) throw new Error(`cannot produce ${mime} with this router`);
      const track: WeriftTrack = new werift.MediaStreamTrack({ kind });
      const producer = await this.#sendTransport.produce({
        track: track as unknown as MediaStreamTrack,
        codec,
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
      const replayer = new RtpReplayer({
        track: clip[kind],
        target: { ssrc: encoding.ssrc, payloadType, ...(kind === 'video' ? { fps: clip.params.fps } : {}) },
        sink: levelExtId === undefined ? (packet) => track.writeRtp(packet) : (packet) => track.writeRtp(withAudioLevel(packet, levelExtId)),
        onError: (error) => this.events.emit('warning', new Error(`replay of ${kind} stopped`, { cause: error })),
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
          replayer.requestKeyFrame();
        } else if (packet.type === RTCP_RTPFB && fmt === FMT_NACK) {
          const lost = (packet as { feedback?: { lost?: number[] } }).feedback?.lost;
          stats.nacksReceived += lost?.length ?? 1;
        }
      });
      this.#producers.set(producer.id, { producer, replayer, stats });
      replayer.start();
    }
  }

  #recv(): Promise<ms.Transport> {
    this.#recvTransport ??= this.#createTransport('recv');
    return this.#recvTransport;
  }

  async #consume(info: ProducerInfo): Promise<void> {
    if (this.#closed || info.peerId === this.peerId || this.#consumedProducers.has(info.producerId)) return;
    this.#consumedProducers.add(info.producerId);
    try {
      const transport = await this.#recv();
      const data = await request(
        this.socket,
        'consumer:create',
        {
          transportId: transport.id,
          producerId: info.producerId,
          rtpCapabilities: this.#device.rtpCapabilities,
        },
        this.#timeout,
      );
      const entry: ConsumerEntry = {
        stats: {
          consumerId: data.consumerId,
          producerId: data.producerId,
          peerId: data.peerId ?? info.peerId,
          kind: data.kind,
          packets: 0,
          bytes: 0,
          lost: 0,
          nacksSent: 0,
          plisSent: 0,
          closed: false,
        },
        cycles: 0,
      };
      this.#consumers.set(data.consumerId, entry);
      const consumer = await transport.consume({
        id: data.consumerId,
        producerId: data.producerId,
        kind: data.kind,
        rtpParameters: data.rtpParameters,
      });
      entry.consumer = consumer;
      const track = consumer.track as unknown as WeriftTrack;
      track.onReceiveRtp.subscribe((rtp) => this.#count(entry, rtp.header.sequenceNumber, rtp.payload.length));
      // The server may have closed it while mediasoup-client was setting it up.
      if (entry.stats.closed || this.#closed || !this.#remoteProducers.has(info.producerId)) {
        this.#closeConsumer(entry);
        return;
      }
      await request(this.socket, 'consumer:resume', { consumerId: data.consumerId }, this.#timeout);
      entry.stats.resumedAt = performance.now();
    } catch (error) {
      if (this.#closed) return;
      this.events.emit('warning', new Error(`consume ${info.kind} of ${info.peerId}: ${(error as Error).message}`, { cause: error }));
    }
  }

  #count(entry: ConsumerEntry, seq: number, payloadBytes: number): void {
    const s = entry.stats;
    if (s.packets === 0) {
      s.firstPacketAt = performance.now();
      entry.firstSeq = seq;
      entry.highestSeq = seq;
    } else {
      const highest = entry.highestSeq!;
      const delta = (seq - highest) & 0xffff;
      // Forward by less than half the space: newer packet (possibly wrapping around).
      if (delta !== 0 && delta < 0x8000) {
        if (seq < highest) entry.cycles++;
        entry.highestSeq = seq;
      }
    }
    s.packets++;
    s.bytes += payloadBytes;
    const expected = entry.cycles * 0x10000 + entry.highestSeq! - entry.firstSeq! + 1;
    s.lost = Math.max(0, expected - s.packets);
  }
}
