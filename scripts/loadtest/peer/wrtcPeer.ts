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
import type { ConsumerStats, ProducerStats, SyntheticPeerEvents, SyntheticPeerOptions } from './syntheticPeer.js';
import { wrtcHandlerFactory } from './wrtc.js';
import { createCameraTrack, createMicrophoneTrack, type GeneratedTrack } from './wrtcMedia.js';

export type WrtcPeerOptions = SyntheticPeerOptions;

const STATS_INTERVAL_MS = 500;
const FIRST_PACKET_POLL_MS = 50;
const FIRST_PACKET_WAIT_MS = 10_000;

interface ConsumerEntry {
  stats: ConsumerStats;
  consumer?: ms.Consumer;
}

interface ProducerEntry {
  producer: ms.Producer;
  media: GeneratedTrack;
  stats: ProducerStats;
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

export class WrtcPeer implements LoadPeer {
  readonly socket: ProtocolSocket;
  readonly peerId: string;
  readonly joinData: JoinData;
  readonly joinedAt: number;
  readonly joinSentAt: number;
  readonly events = new EventEmitter<SyntheticPeerEvents>();

  readonly #opts: WrtcPeerOptions;
  readonly #timeout: number;
  readonly #device: ms.Device;
  readonly #consumers = new Map<string, ConsumerEntry>();
  readonly #producers = new Map<string, ProducerEntry>();
  readonly #remoteProducers = new Map<string, ProducerInfo>();
  readonly #consumedProducers = new Set<string>();
  #sendTransport?: ms.Transport;
  #recvTransport?: Promise<ms.Transport>;
  #statsTimer?: NodeJS.Timeout;
  #closed = false;

  private constructor(init: {
    opts: WrtcPeerOptions;
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
   * Connects, joins, publishes what `publish` asks for and starts consuming; resolves once
   * publishing has started and every producer present at join time is being consumed.
   */
  static async join(opts: WrtcPeerOptions): Promise<WrtcPeer> {
    const timeout = opts.requestTimeoutMs ?? 10_000;
    const socket = await connectSocket(opts.url, timeout);
    const early = bufferRoomEvents(socket);
    let peer: WrtcPeer | undefined;
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
      const device = new Device({ handlerFactory: wrtcHandlerFactory() });
      await device.load({ routerRtpCapabilities: joinData.rtpCapabilities });
      peer = new WrtcPeer({ opts, socket, joinData, joinSentAt, joinedAt, device });
      const consuming = opts.consume ?? true;
      if (consuming) for (const p of joinData.producers) peer.#remoteProducers.set(p.producerId, p);
      peer.#listen(early);
      peer.#scheduleStats();
      await peer.#publish();
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

  consumerStats(): ConsumerStats[] {
    return [...this.#consumers.values()].map((e) => ({ ...e.stats }));
  }

  producerStats(): ProducerStats[] {
    return [...this.#producers.values()].map((e) => ({ ...e.stats }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  waitForMedia(opts: WaitForMediaOptions): Promise<void> {
    return waitForConsumerMedia(this, opts);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#statsTimer);
    for (const p of this.#producers.values()) {
      p.producer.close();
      p.media.stop();
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

  async #createTransport(direction: 'send' | 'recv'): Promise<ms.Transport> {
    const data = await request(this.socket, 'transport:create', { direction }, this.#timeout);
    const options: ms.TransportOptions = {
      id: data.id,
      iceParameters: data.iceParameters,
      iceCandidates: data.iceCandidates,
      dtlsParameters: data.dtlsParameters,
      // mediasoup is ICE-lite and hands out its candidates: a load peer needs no STUN/TURN
      // lookups, which would only add traffic leaving the machine.
      iceServers: [],
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
          { transportId: transport.id, kind, rtpParameters, source: kind === 'audio' ? 'mic' : 'camera' },
          this.#timeout,
        ).then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    transport.on('connectionstatechange', (state) => {
      if (state === 'failed' && !this.#closed) {
        this.events.emit('failed', new Error(`${direction} transport ${transport.id}: connection failed`));
      }
    });
    return transport;
  }

  async #publish(): Promise<void> {
    const want = this.#opts.publish ?? {};
    if (!want.audio && !want.video) return;
    this.#sendTransport = await this.#createTransport('send');
    for (const kind of ['audio', 'video'] as const) {
      if (!want[kind]) continue;
      const mime = kind === 'audio' ? 'audio/opus' : 'video/vp8';
      const codec = this.#device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === mime);
      if (!codec || !this.#device.canProduce(kind)) throw new Error(`cannot produce ${mime} with this router`);
      const media = kind === 'audio' ? createMicrophoneTrack() : createCameraTrack();
      let producer: ms.Producer;
      try {
        producer = await this.#sendTransport.produce({
          track: media.track,
          codec,
          stopTracks: false,
          // As the browser client sends its microphone. The camera is one layer (the
          // client's simulcast would triple the encoding cost of a load peer).
          ...(kind === 'audio' ? { codecOptions: { opusDtx: true, opusFec: true } } : {}),
        });
      } catch (error) {
        media.stop();
        throw error;
      }
      this.#producers.set(producer.id, {
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
        { transportId: transport.id, producerId: info.producerId, rtpCapabilities: this.#device.rtpCapabilities },
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
      };
      this.#consumers.set(data.consumerId, entry);
      entry.consumer = await transport.consume({
        id: data.consumerId,
        producerId: data.producerId,
        kind: data.kind,
        rtpParameters: data.rtpParameters,
      });
      if (entry.stats.closed || this.#closed || !this.#remoteProducers.has(info.producerId)) {
        this.#closeConsumer(entry);
        return;
      }
      await request(this.socket, 'consumer:resume', { consumerId: data.consumerId }, this.#timeout);
      entry.stats.resumedAt = performance.now();
      this.#scheduleStats(FIRST_PACKET_POLL_MS);
    } catch (error) {
      if (this.#closed) return;
      this.events.emit('warning', new Error(`consume ${info.kind} of ${info.peerId}: ${(error as Error).message}`, { cause: error }));
    }
  }

  /** (Re)arms the stats reader; a shorter delay replaces a pending longer one. */
  #scheduleStats(delayMs = STATS_INTERVAL_MS): void {
    if (this.#closed) return;
    clearTimeout(this.#statsTimer);
    this.#statsTimer = setTimeout(() => {
      this.#statsTimer = undefined;
      this.#readStats().then(
        () => {
          // A consumer of a paused producer may wait for long: fast reads only for a while.
          const since = performance.now() - FIRST_PACKET_WAIT_MS;
          const waiting = [...this.#consumers.values()].some(
            (e) => !e.stats.closed && e.stats.packets === 0 && (e.stats.resumedAt ?? 0) > since,
          );
          if (!this.#statsTimer) this.#scheduleStats(waiting ? FIRST_PACKET_POLL_MS : STATS_INTERVAL_MS);
        },
        (error: unknown) => {
          if (this.#closed) return;
          this.events.emit('warning', new Error(`getStats: ${(error as Error).message}`, { cause: error }));
          if (!this.#statsTimer) this.#scheduleStats();
        },
      );
    }, delayMs);
  }

  async #readStats(): Promise<void> {
    const recv = this.#recvTransport ? await this.#recvTransport.catch(() => undefined) : undefined;
    const [sendReport, recvReport] = await Promise.all([
      this.#sendTransport && !this.#sendTransport.closed ? this.#sendTransport.getStats() : undefined,
      recv && !recv.closed ? recv.getStats() : undefined,
    ]);
    const readAt = performance.now();
    if (recvReport) {
      const bySsrc = new Map<number, RtpStreamStats>();
      recvReport.forEach((s: RtpStreamStats) => {
        if (s.type === 'inbound-rtp' && s.ssrc !== undefined) bySsrc.set(s.ssrc, s);
      });
      for (const entry of this.#consumers.values()) {
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
      for (const entry of this.#producers.values()) {
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
