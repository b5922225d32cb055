/**
 * The baseline for the forwarding benchmark: one mediasoup worker of the same binary, a
 * router per room with the same codec table, WebRtcTransports on a WebRtcServer with the
 * same options as Noom's, and nothing else — no observers, no metrics, no rooms logic.
 *
 * The synthetic peers only speak Socket.IO, so a shim answers the handful of requests they
 * send (join, transports, produce, consume, resume) straight onto mediasoup. Signaling runs
 * in this Node process, never in the worker whose CPU is compared.
 *
 * Configured by the same variables as Noom (RTC_LISTEN_IP, ANNOUNCED_IP, RTC_MIN_PORT,
 * RTC_MAX_PORT); prints one JSON line `{ msg: 'bare harness listening', url, workers }`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { MEDIA_CODECS } from '../../../server/src/media/codecs.js';
import { WEBRTC_TRANSPORT_OPTIONS } from '../../../server/src/media/transportOptions.js';
import {
  ConnectTransportRequest,
  ConsumeRequest,
  ConsumerRequest,
  CreateTransportRequest,
  JoinRequest,
  ProduceRequest,
} from '../../../protocol/index.js';

// The protocol schemas are zod/mini, which loads no locale of its own.
z.config(en());

const listenIp = process.env.RTC_LISTEN_IP ?? '127.0.0.1';
const announcedAddress = process.env.ANNOUNCED_IP ?? listenIp;
const minPort = Number(process.env.RTC_MIN_PORT ?? 40100);
const maxPort = Number(process.env.RTC_MAX_PORT ?? 49999);

interface Member {
  id: string;
  socket: Socket;
  transports: Map<string, types.WebRtcTransport>;
  producers: Map<string, types.Producer>;
}
interface BareRoom {
  router: types.Router;
  members: Map<string, Member>;
}

const worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: minPort, rtcMaxPort: maxPort });
const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
  protocol,
  ip: listenIp,
  announcedAddress,
  portRange: { min: minPort, max: maxPort },
});
const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
const rooms = new Map<string, Promise<BareRoom>>();

function room(id: string): Promise<BareRoom> {
  let r = rooms.get(id);
  if (!r) {
    r = worker.createRouter({ mediaCodecs: MEDIA_CODECS }).then((router) => ({ router, members: new Map() }));
    rooms.set(id, r);
  }
  return r;
}

type AckFn = (response: unknown) => void;

/** Parse → act → ack, as the real protocol does; failures are acked, never thrown. */
function handle<S extends z.ZodMiniType>(socket: Socket, event: string, schema: S, fn: (req: z.output<S>) => Promise<unknown>): void {
  socket.on(event, (payload: unknown, ack: unknown) => {
    const reply: AckFn = typeof ack === 'function' ? (ack as AckFn) : () => undefined;
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      reply({ ok: false, error: { code: 'INVALID_REQUEST', message: parsed.error.message } });
      return;
    }
    fn(parsed.data).then(
      (data) => reply({ ok: true, data }),
      (error: unknown) => reply({ ok: false, error: { code: 'INTERNAL', message: String(error) } }),
    );
  });
}

function onConnection(socket: Socket): void {
  let joined: { room: BareRoom; member: Member } | undefined;
  const member = (): { room: BareRoom; member: Member } => {
    if (!joined) throw new Error('not in a room');
    return joined;
  };
  const transport = (id: string): types.WebRtcTransport => {
    const t = member().member.transports.get(id);
    if (!t) throw new Error(`no transport ${id}`);
    return t;
  };

  handle(socket, 'room:join', JoinRequest, async (req) => {
    const r = await room(req.roomId);
    const m: Member = { id: randomUUID(), socket, transports: new Map(), producers: new Map() };
    const producers = [...r.members.values()].flatMap((o) =>
      [...o.producers.values()].map((p) => ({ producerId: p.id, peerId: o.id, kind: p.kind, source: source(p.kind), paused: false })),
    );
    r.members.set(m.id, m);
    joined = { room: r, member: m };
    return {
      peerId: m.id,
      roomId: req.roomId,
      displayName: req.displayName ?? 'bot',
      rtpCapabilities: r.router.rtpCapabilities,
      peers: [],
      producers,
      chat: [],
      iceServers: [],
    };
  });

  handle(socket, 'transport:create', CreateTransportRequest, async () => {
    const { room: r, member: m } = member();
    const t = await r.router.createWebRtcTransport({
      webRtcServer,
      ...WEBRTC_TRANSPORT_OPTIONS,
    });
    m.transports.set(t.id, t);
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  });

  handle(socket, 'transport:connect', ConnectTransportRequest, async (req) => {
    await transport(req.transportId).connect({ dtlsParameters: req.dtlsParameters as types.DtlsParameters });
    return {};
  });

  handle(socket, 'producer:create', ProduceRequest, async (req) => {
    const { room: r, member: m } = member();
    const p = await transport(req.transportId).produce({ kind: req.kind, rtpParameters: req.rtpParameters as types.RtpParameters });
    m.producers.set(p.id, p);
    const info = { producerId: p.id, peerId: m.id, kind: p.kind, source: req.source, paused: false };
    for (const o of r.members.values()) if (o !== m) o.socket.emit('producer:new', info);
    return { producerId: p.id };
  });

  const consumers = new Map<string, types.Consumer>();
  handle(socket, 'consumer:create', ConsumeRequest, async (req) => {
    const { room: r } = member();
    const owner = [...r.members.values()].find((o) => o.producers.has(req.producerId));
    if (!owner) throw new Error(`no producer ${req.producerId}`);
    const c = await transport(req.transportId).consume({
      producerId: req.producerId,
      rtpCapabilities: req.rtpCapabilities as types.RtpCapabilities,
      paused: true,
    });
    consumers.set(c.id, c);
    return {
      consumerId: c.id,
      producerId: c.producerId,
      peerId: owner.id,
      kind: c.kind,
      rtpParameters: c.rtpParameters,
      type: c.type,
      producerPaused: c.producerPaused,
    };
  });

  handle(socket, 'consumer:resume', ConsumerRequest, async (req) => {
    const c = consumers.get(req.consumerId);
    if (!c) throw new Error(`no consumer ${req.consumerId}`);
    await c.resume();
    return {};
  });

  socket.on('disconnect', () => {
    if (!joined) return;
    const { room: r, member: m } = joined;
    for (const t of m.transports.values()) t.close();
    r.members.delete(m.id);
    for (const o of r.members.values()) for (const p of m.producers.values()) o.socket.emit('producer:closed', { producerId: p.id, peerId: m.id });
  });
}

function source(kind: types.MediaKind): 'mic' | 'camera' {
  return kind === 'audio' ? 'mic' : 'camera';
}

const server = http.createServer();
const io = new Server(server, { maxHttpBufferSize: 256 * 1024 });
io.on('connection', onConnection);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
process.stdout.write(`${JSON.stringify({ msg: 'bare harness listening', url: `http://127.0.0.1:${port}`, workers: [worker.pid] })}\n`);

const shutdown = () => {
  void io.close();
  worker.close();
  server.closeAllConnections();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
worker.on('died', (error) => {
  process.stderr.write(`bare harness: worker died: ${error.message}\n`);
  process.exitCode = 1;
  shutdown();
});
