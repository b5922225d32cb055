/**
 * One connection's worth of mediasoup-client state: the Device, a send and a receive
 * transport, and the producers and consumers on them. A reconnect throws the session away
 * and builds a new one; local tracks are not stopped with it.
 */
import { Device } from 'mediasoup-client';
import type * as ms from 'mediasoup-client/types';
import type { SignalingClient } from '../signaling/SignalingClient.js';
import { IceRestarter, type IceRestartEvent, type JoinData, type ProducerInfo } from '../protocol.js';
import { ICE_TRANSPORT_POLICY } from './icePolicy.js';

export type ProducerSource = ProducerInfo['source'];

interface ProduceAppData extends ms.AppData {
  source: ProducerSource;
  paused: boolean;
}

export interface RemoteMedia {
  consumer: ms.Consumer;
  producerId: string;
  peerId: string;
  source: ProducerSource;
  producerPaused: boolean;
  /** Simulcast consumers can be told which layer to forward. */
  simulcast: boolean;
}

/** A mediasoup-client Device and the router capabilities it was loaded with. */
export interface LoadedDevice {
  readonly device: ms.Device;
  readonly capabilities: string;
}

/**
 * A Device for these router capabilities: `previous` again if it was loaded with the same
 * ones (every router of a Noom server has the same codecs). Loading probes the browser with
 * a throwaway RTCPeerConnection; a rejoin after a worker death saves that time.
 */
export async function loadDevice(routerRtpCapabilities: JoinData['rtpCapabilities'], previous: LoadedDevice | null): Promise<LoadedDevice> {
  const capabilities = JSON.stringify(routerRtpCapabilities);
  if (previous?.capabilities === capabilities) return previous;
  const device = await Device.factory();
  await device.load({ routerRtpCapabilities });
  return { device, capabilities };
}

export class MediaSession {
  readonly #signaling: SignalingClient;
  readonly #device: ms.Device;
  readonly #iceServers: RTCIceServer[];
  readonly #canSignal: () => boolean;
  readonly #restarters: IceRestarter<ms.IceParameters>[] = [];
  #send: ms.Transport | null = null;
  #sending: Promise<ms.Transport> | null = null;
  #recv: ms.Transport | null = null;
  #closed = false;

  private constructor(signaling: SignalingClient, device: ms.Device, iceServers: RTCIceServer[], canSignal: () => boolean) {
    this.#signaling = signaling;
    this.#device = device;
    this.#iceServers = iceServers;
    this.#canSignal = canSignal;
  }

  /**
   * `canSignal` says whether requests about this session may be sent now: not while the
   * connection is down, nor on a new one before the session has been resumed on it.
   */
  static async create(signaling: SignalingClient, join: JoinData, canSignal: () => boolean, device: LoadedDevice): Promise<MediaSession> {
    const session = new MediaSession(signaling, device.device, join.iceServers, canSignal);
    session.#recv = await session.#createTransport('recv');
    return session;
  }

  get closed(): boolean {
    return this.#closed;
  }

  canProduce(kind: 'audio' | 'video'): boolean {
    return this.#device.canProduce(kind);
  }

  async produce(source: ProducerSource, track: MediaStreamTrack, paused: boolean): Promise<ms.Producer> {
    // One send transport, however many sources start producing at once (mic and camera do).
    this.#sending ??= this.#createTransport('send').then(
      (transport) => {
        // Closed while it was being made: close() found nothing to close.
        if (this.#closed) transport.close();
        return (this.#send = transport);
      },
      (error: unknown) => {
        this.#sending = null;
        throw error;
      },
    );
    const transport = await this.#sending;
    const appData: ProduceAppData = { source, paused };
    const producer = await transport.produce({
      track,
      appData,
      // Tracks belong to LocalMedia and outlive this session.
      stopTracks: false,
      ...(source === 'camera' ? { encodings: cameraEncodings() } : {}),
      ...(source === 'mic' ? { codecOptions: { opusDtx: true, opusFec: true } } : {}),
    });
    // The server already knows it starts paused; this only stops local sending.
    if (paused) producer.pause();
    return producer;
  }

  async consume(info: ProducerInfo): Promise<RemoteMedia> {
    const transport = this.#recv;
    if (!transport || this.#closed) throw new Error('media session closed');
    const data = await this.#signaling.request('consumer:create', {
      transportId: transport.id,
      producerId: info.producerId,
      rtpCapabilities: this.#device.recvRtpCapabilities,
    });
    const consumer = await transport.consume({
      id: data.consumerId,
      producerId: data.producerId,
      kind: data.kind,
      rtpParameters: data.rtpParameters,
      streamId: `${info.peerId}-${info.source}`,
    });
    // Consumers are created paused on the server until the client is ready for them. Audio
    // always plays; video stays paused until it is shown (see room/VideoReception.ts).
    if (data.kind === 'audio') {
      try {
        await this.#signaling.request('consumer:resume', { consumerId: consumer.id });
      } catch (error) {
        // E.g. the producer closed meanwhile: do not keep a receiver that will never play.
        consumer.close();
        throw error;
      }
    }
    return {
      consumer,
      producerId: data.producerId,
      peerId: info.peerId,
      source: info.source,
      producerPaused: data.producerPaused,
      simulcast: data.type === 'simulcast',
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const restarter of this.#restarters) restarter.stop();
    this.#send?.close();
    this.#recv?.close();
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<ms.Transport> {
    const data = await this.#signaling.request('transport:create', { direction });
    const options: ms.TransportOptions = {
      id: data.id,
      iceParameters: data.iceParameters,
      iceCandidates: data.iceCandidates,
      dtlsParameters: data.dtlsParameters,
      iceServers: this.#iceServers,
      iceTransportPolicy: ICE_TRANSPORT_POLICY,
      ...(data.sctpParameters ? { sctpParameters: data.sctpParameters } : {}),
    };
    const transport =
      direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);

    transport.on('connect', ({ dtlsParameters }, done, fail) => {
      this.#signaling
        .request('transport:connect', { transportId: transport.id, dtlsParameters })
        .then(() => done(), fail);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, done, fail) => {
      const { source, paused } = appData as ProduceAppData;
      this.#signaling
        .request('producer:create', {
          transportId: transport.id,
          kind,
          rtpParameters: rtpParameters,
          source,
          paused,
        })
        .then(({ producerId }) => done({ id: producerId }), fail);
    });
    // A broken media path (network switch, lost UDP) is mended by restarting ICE, without
    // leaving the room; see protocol/iceRestart.ts for when and how often.
    this.#restarters.push(
      new IceRestarter(transport, {
        request: async (transportId) => (await this.#signaling.request('transport:restartIce', { transportId })).iceParameters,
        canSignal: () => !this.#closed && this.#canSignal(),
        onEvent: (event) => logIceRestart(direction, event),
      }),
    );
    return transport;
  }
}

function logIceRestart(direction: 'send' | 'recv', event: IceRestartEvent): void {
  if (event.type === 'restarted') console.info(`${direction} transport: ICE restart ${event.attempt}`);
  else if (event.type === 'recovered') console.info(`${direction} transport: media path back after ${event.restarts} ICE restart(s)`);
  // Expected while the network is still down; the next attempt follows.
  else console.info(`${direction} transport: ICE restart ${event.attempt} failed`, event.error);
}

/** Three simulcast layers, so that the SFU can send small tiles a small stream. */
function cameraEncodings(): RTCRtpEncodingParameters[] {
  return [
    { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
    { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
  ];
}
