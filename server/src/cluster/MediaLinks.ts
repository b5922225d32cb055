/**
 * Media between nodes: a producer of node A consumed on node B travels through one pair of
 * PipeTransports (UDP, SRTP and RTX on) per producer per node pair, shared by all of B's viewers.
 *
 * B asks for it (`import`): it opens its end on the router of its first viewer and sends A,
 * through the broker, its address and SRTP key; A opens its end on the producer's router,
 * connects, consumes the producer into the pipe and answers with its address, key and the
 * RTP parameters; B connects and produces the same producer id on its end. Keyframe
 * requests and RTCP cross the pipe by themselves; what does not is mirrored by messages: A
 * tells B when the producer pauses, resumes or closes, and B tells A which simulcast layer
 * its viewers want (so A's publisher keeps sending what B's viewers watch, and no more).
 *
 * Either end closing closes the other (a message; if it is lost, the other end still goes
 * when its node notices the death or the producer closes). When a node dies, every pipe to
 * or from it is closed here at once, which closes the viewers' consumers.
 */
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ImportedProducer } from '../rooms/RoomLink.js';
import type { LayerDemand } from '../media/LayerDemand.js';
import { BrokerError, type Broker } from './Broker.js';

/** A local producer another node may pipe, as the room resolves it. */
export interface ExportableProducer {
  producer: types.Producer;
  router: types.Router;
  peerId: string;
  source: 'mic' | 'camera' | 'screen';
  demand: LayerDemand;
}

export interface MediaLinksOptions {
  listenIp: string;
  announcedIp: string;
  portRange: { min: number; max: number };
  /** Finds a producer of this node (not one piped in from elsewhere) in a room. */
  resolve(roomId: string, producerId: string): ExportableProducer | undefined;
  timeoutMs?: number;
}

const Id = z.string().min(1).max(128);
const Srtp = z.object({
  cryptoSuite: z.enum(['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']),
  keyBase64: z.string().min(1).max(256),
});
const Endpoint = z.object({ ip: z.string().min(1).max(255), port: z.number().int().min(1).max(65535), srtpParameters: Srtp });
/** mediasoup checks the rest when the pipe produces; this keeps out what is not RTP parameters at all. */
const PipedRtpParameters = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), payloadType: z.number().int(), clockRate: z.number().int() })).min(1).max(32),
  encodings: z.array(z.looseObject({})).max(16).optional(),
  headerExtensions: z.array(z.looseObject({})).max(32).optional(),
});
const PipeRequest = Endpoint.extend({ linkId: Id, roomId: z.string().min(1).max(128), producerId: Id });
const PipeAnswer = Endpoint.extend({
  kind: z.enum(['audio', 'video']),
  rtpParameters: PipedRtpParameters,
  paused: z.boolean(),
  peerId: Id,
  source: z.enum(['mic', 'camera', 'screen']),
});
type PipeAnswer = z.infer<typeof PipeAnswer>;
const LinkRef = z.object({ linkId: Id });
const DemandMessage = z.object({ linkId: Id, layer: z.number().int().min(0).max(15).nullable() });
const StateMessage = z.object({ linkId: Id, state: z.enum(['paused', 'resumed', 'closed']) });
const Ok = z.object({});

/** B's end of a pipe. */
interface Inbound {
  nodeId: string;
  transport: types.PipeTransport;
  producer?: types.Producer;
  close(tellOwner: boolean): void;
}

/** A's end of a pipe. */
interface Outbound {
  nodeId: string;
  producerId: string;
  demand: LayerDemand;
  /** Set once created (the answer is still on its way until then). */
  transport?: types.PipeTransport;
  answer?: Promise<PipeAnswer>;
}

export class MediaLinks {
  readonly #broker: Broker;
  readonly #options: MediaLinksOptions;
  readonly #log: Logger;
  readonly #inbound = new Map<string, Inbound>();
  readonly #outbound = new Map<string, Outbound>();
  #closed = false;

  constructor(broker: Broker, options: MediaLinksOptions, log: Logger) {
    this.#broker = broker;
    this.#options = options;
    this.#log = log;
    broker.handle('media:pipe', PipeRequest, (req, ctx) => this.#serve(req, ctx.fromNode));
    broker.handle('media:unpipe', LinkRef, ({ linkId }) => {
      this.#dropOutbound(linkId);
      return {};
    });
    broker.handle('media:demand', DemandMessage, ({ linkId, layer }) => {
      this.#setDemand(linkId, layer);
      return {};
    });
    broker.handle('media:state', StateMessage, ({ linkId, state }) => this.#mirror(linkId, state));
  }

  /** Pipes in counted by direction, for metrics and tests. */
  get counts(): { inbound: number; outbound: number } {
    return { inbound: this.#inbound.size, outbound: this.#outbound.size };
  }

  #pipeTransport(router: types.Router, appData: Record<string, unknown>): Promise<types.PipeTransport> {
    const { listenIp, announcedIp, portRange } = this.#options;
    return router.createPipeTransport({
      listenInfo: { protocol: 'udp', ip: listenIp, ...(announcedIp !== listenIp ? { announcedAddress: announcedIp } : {}), portRange },
      enableSrtp: true,
      // Between hosts packets get lost: NACK and RTX repair them (both ends must enable it).
      enableRtx: true,
      appData,
    });
  }

  #endpoint(transport: types.PipeTransport): z.infer<typeof Endpoint> {
    if (!transport.srtpParameters) throw new Error('pipe transport without SRTP parameters');
    return { ip: this.#options.announcedIp, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters };
  }

  /** Node B: brings `producerId` of `nodeId` onto `router`. */
  async import(roomId: string, producerId: string, nodeId: string, router: types.Router): Promise<ImportedProducer> {
    if (this.#closed) throw new AppError('INVALID_STATE', 'server is shutting down');
    const linkId = randomUUID();
    const transport = await this.#pipeTransport(router, { linkId, producerId, fromNode: nodeId });
    let closed = false;
    const link: Inbound = {
      nodeId,
      transport,
      close: (tellOwner) => {
        if (closed) return;
        closed = true;
        this.#inbound.delete(linkId);
        transport.close();
        if (tellOwner) this.#tell(nodeId, 'media:unpipe', { linkId });
      },
    };
    this.#inbound.set(linkId, link);
    transport.observer.once('close', () => link.close(true));
    try {
      const ask = () =>
        this.#broker.request(
          nodeId,
          'media:pipe',
          { linkId, roomId, producerId, ...this.#endpoint(transport) },
          { result: PipeAnswer, timeoutMs: this.#options.timeoutMs ?? 2500, requestId: linkId },
        );
      // One retry under the same id: the owner answers a repeat with the pipe it opened.
      const answer = await ask().catch((error: unknown) => {
        if (error instanceof BrokerError && error.code === 'TIMEOUT' && !closed) return ask();
        throw error;
      });
      if (closed) throw new AppError('NOT_FOUND', `producer ${producerId} went away`);
      await transport.connect({ ip: answer.ip, port: answer.port, srtpParameters: answer.srtpParameters });
      const producer = await transport.produce({
        id: producerId,
        kind: answer.kind,
        rtpParameters: answer.rtpParameters as unknown as types.RtpParameters,
        paused: answer.paused,
        appData: { peerId: answer.peerId, source: answer.source, fromNode: nodeId },
      });
      link.producer = producer;
      this.#log.debug({ producer: producerId, from: nodeId }, 'producer imported');
      return {
        producer,
        peerId: answer.peerId,
        source: answer.source,
        setDemand: (layer) => this.#tell(nodeId, 'media:demand', { linkId, layer }),
        close: () => link.close(true),
      };
    } catch (error) {
      link.close(true);
      throw toAppError(error, producerId);
    }
  }

  /** Node A: opens its end of a pipe that `fromNode` asked for. A retry gets the same answer. */
  #serve(req: z.infer<typeof PipeRequest>, fromNode: string): Promise<PipeAnswer> {
    const existing = this.#outbound.get(req.linkId)?.answer;
    if (existing) return existing;
    const source = this.#options.resolve(req.roomId, req.producerId);
    if (!source || source.producer.closed) return Promise.reject(notFoundError(`producer ${req.producerId} not found`));
    const entry: Outbound = { nodeId: fromNode, producerId: req.producerId, demand: source.demand };
    this.#outbound.set(req.linkId, entry);
    const answer = (async (): Promise<PipeAnswer> => {
      const transport = await this.#pipeTransport(source.router, { linkId: req.linkId, producerId: req.producerId, toNode: fromNode });
      entry.transport = transport;
      const viewer = linkViewer(req.linkId);
      transport.observer.once('close', () => {
        if (this.#outbound.get(req.linkId) === entry) this.#outbound.delete(req.linkId);
        source.demand.removeViewer(req.producerId, viewer);
      });
      // Cancelled (unpipe, the viewer's node gone, shutdown) while this was being set up: the
      // failure handler below closes the transport.
      const stillWanted = () => {
        if (this.#closed || this.#outbound.get(req.linkId) !== entry) throw notFoundError('link closed');
      };
      stillWanted();
      await transport.connect({ ip: req.ip, port: req.port, srtpParameters: req.srtpParameters });
      const consumer = await transport.consume({ producerId: req.producerId });
      stillWanted();
      // Until B says otherwise its viewers watch every layer, as B's own bookkeeping assumes.
      source.demand.addViewer(req.producerId, viewer);
      source.demand.setPaused(req.producerId, viewer, false);
      consumer.on('producerpause', () => this.#tell(fromNode, 'media:state', { linkId: req.linkId, state: 'paused' }));
      consumer.on('producerresume', () => this.#tell(fromNode, 'media:state', { linkId: req.linkId, state: 'resumed' }));
      consumer.on('producerclose', () => {
        this.#tell(fromNode, 'media:state', { linkId: req.linkId, state: 'closed' });
        transport.close();
      });
      return {
        ...this.#endpoint(transport),
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters as unknown as PipeAnswer['rtpParameters'],
        paused: consumer.producerPaused,
        peerId: source.peerId,
        source: source.source,
      };
    })();
    entry.answer = answer;
    answer.catch(() => {
      if (this.#outbound.get(req.linkId) === entry) this.#outbound.delete(req.linkId);
      entry.transport?.close();
    });
    return answer;
  }

  /** Node A: B's viewers' wish counts as one viewer of the producer, the link. */
  #setDemand(linkId: string, layer: number | null): void {
    const entry = this.#outbound.get(linkId);
    if (!entry) return;
    const viewer = linkViewer(linkId);
    if (layer === null) entry.demand.setPaused(entry.producerId, viewer, true);
    else {
      entry.demand.setLayer(entry.producerId, viewer, layer);
      entry.demand.setPaused(entry.producerId, viewer, false);
    }
  }

  /** Node B: what A said about the producer behind a pipe. */
  async #mirror(linkId: string, state: 'paused' | 'resumed' | 'closed'): Promise<object> {
    const link = this.#inbound.get(linkId);
    if (!link) return {};
    if (state === 'closed') link.close(false);
    else if (state === 'paused') await link.producer?.pause();
    else await link.producer?.resume();
    return {};
  }

  /** A message whose loss the other side survives (a death or a close reaches it anyway). */
  #tell(nodeId: string, type: string, payload: unknown): void {
    if (this.#closed) return;
    this.#broker.request(nodeId, type, payload, { result: Ok }).catch((error: unknown) => {
      this.#log.debug({ err: error, node: nodeId, type }, 'pipe message not delivered');
    });
  }

  /** Closes A's end of a pipe, or cancels it if it is still being opened. */
  #dropOutbound(linkId: string): void {
    const entry = this.#outbound.get(linkId);
    this.#outbound.delete(linkId);
    entry?.transport?.close();
  }

  /** A node is gone: every pipe to or from it closes now. */
  dropNode(nodeId: string): void {
    for (const link of [...this.#inbound.values()]) if (link.nodeId === nodeId) link.close(false);
    for (const [linkId, entry] of [...this.#outbound]) if (entry.nodeId === nodeId) this.#dropOutbound(linkId);
  }

  close(): void {
    this.#closed = true;
    for (const link of [...this.#inbound.values()]) link.close(false);
    for (const linkId of [...this.#outbound.keys()]) this.#dropOutbound(linkId);
  }
}

/** A's answer when there is nothing to pipe; B maps the code to the protocol's NOT_FOUND. */
const notFoundError = (message: string) => Object.assign(new Error(message), { code: 'NOT_FOUND' });

/** The dynacast viewer that stands for all of one pipe's viewers on the other node. */
const linkViewer = (linkId: string) => `link:${linkId}`;

function toAppError(error: unknown, producerId: string): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof BrokerError) {
    if (error.details.remoteCode === 'NOT_FOUND') return new AppError('NOT_FOUND', `producer ${producerId} not found`);
    if (error.code === 'NODE_DOWN') return new AppError('NOT_FOUND', `producer ${producerId} is gone with its node`);
    return new AppError('INTERNAL', `the node of producer ${producerId} did not pipe it (${error.code})`);
  }
  return new AppError('INTERNAL', `could not pipe producer ${producerId}`);
}
