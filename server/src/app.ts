/**
 * Composition root: config → (cluster: Redis) → WorkerPool → RoomRegistry → HTTP + Socket.IO.
 * Used by main.ts and, in-process, by the tests, the benchmarks and the load tester's self-test.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Server } from 'socket.io';
import type { Config } from '../../config/index.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../protocol/index.js';
import { JoinTokens } from './auth/JoinTokens.js';
import { ClusterNode } from './cluster/ClusterNode.js';
import { ClusterRooms } from './cluster/ClusterRooms.js';
import { Drain, type DrainEnd } from './Drain.js';
import { AbuseLimits } from './limits/AbuseLimits.js';
import { addressMatcher, clientAddress, trustFunction } from './limits/clientAddress.js';
import { createLogger, type Logger } from './logger.js';
import { WorkerPool } from './media/WorkerPool.js';
import { RoomRegistry } from './rooms/RoomRegistry.js';
import { KickBans } from './rooms/moderation/KickBans.js';
import { sharedBanStore } from './cluster/sharedBans.js';
import { Sessions } from './rooms/Sessions.js';
import { Metrics } from './http/metrics.js';
import { createHttpApp } from './http/routes.js';
import { originPolicy, plainErrors, refuseForeignOrigins, securityHeaders } from './http/hardening.js';
import { Connection } from './signaling/Connection.js';
import { Recordings } from './recording/Recordings.js';
import { recordingRoutes } from './http/recordingRoutes.js';
import { IN_ROOM_CHANNEL, ioFanout, type NoomIo } from './signaling/fanout.js';

export interface NoomServer {
  /** Base URL, e.g. http://127.0.0.1:3000 (the bound port, useful with PORT=0). */
  readonly url: string;
  readonly port: number;
  readonly pool: WorkerPool;
  readonly rooms: RoomRegistry;
  readonly io: NoomIo;
  readonly metrics: Metrics;
  readonly recordings: Recordings;
  /** Present when REDIS_URL is set: Redis, liveness, broker. */
  readonly cluster?: ClusterNode;
  /**
   * Stops taking joins (`/readyz` 503, joins answered DRAINING), tells every client
   * `server:draining`, and resolves once nobody is left on this node or after `timeoutMs`.
   * The server keeps serving its calls meanwhile; `close()` ends them.
   */
  drain(timeoutMs: number): Promise<DrainEnd>;
  close(): Promise<void>;
}

/** At shutdown, how long the sockets get to write out their last events (`room:closed`). */
const SOCKET_FLUSH_MS = 1000;

/**
 * Disconnects this node's sockets once what was sent to each is written, waiting at most
 * `maxMs`. `io.close()` alone drops whatever a socket had not written yet (engine.io closes
 * its clients discarding their buffers), such as the `room:closed` just sent.
 */
async function disconnectSockets(io: NoomIo, maxMs: number): Promise<void> {
  io.local.disconnectSockets(true);
  const deadline = Date.now() + maxMs;
  while (io.engine.clientsCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Finds the built client: client/dist from the source tree or from dist/server/src. */
function defaultStaticDir(): string | undefined {
  for (const dir of [path.join(REPO_ROOT, 'client', 'dist'), path.join(REPO_ROOT, '..', 'client', 'dist')]) {
    try {
      readFileSync(path.join(dir, 'index.html'));
      return dir;
    } catch {
      // not built there
    }
  }
  return undefined;
}

export async function startNoom(config: Config, log: Logger = createLogger(config.logLevel)): Promise<NoomServer> {
  // A key that does not parse stops the server before anything starts.
  const tokens = config.auth ? await JoinTokens.create(config.auth) : undefined;
  // Redis first: a cluster node that cannot reach it fails before starting any worker.
  const cluster = config.cluster ? await ClusterNode.connect(config.cluster, log) : undefined;
  const bans = new KickBans(config.moderation.kickBanSeconds, {
    ...(cluster ? { store: sharedBanStore(cluster.redis), onStoreError: (err: unknown) => log.warn({ err }, 'kick bans: Redis unavailable') } : {}),
  });
  let pool: WorkerPool;
  try {
    pool = await WorkerPool.create(config.mediasoup, log.child({ component: 'workers' }));
  } catch (error) {
    await cluster?.close();
    throw error;
  }
  let ready = true;
  const httpApp = express();
  httpApp.disable('x-powered-by');
  const trust = trustFunction(config.trustProxy);
  httpApp.set('trust proxy', trust);
  const originAllowed = originPolicy(config.allowedOrigins);
  httpApp.use(securityHeaders());
  httpApp.use(refuseForeignOrigins(originAllowed));
  const abuse = new AbuseLimits({
    ...config.abuse,
    chatPer10s: config.limits.chatPer10s,
    isExempt: addressMatcher(config.abuse.exempt),
    ...(cluster ? { redis: cluster.redis.commands } : {}),
  });
  const server = config.http.tls
    ? https.createServer({ cert: readFileSync(config.http.tls.certFile), key: readFileSync(config.http.tls.keyFile) }, httpApp)
    : http.createServer(httpApp);
  const io: NoomIo = new Server<ClientToServerEvents, ServerToClientEvents>(server, {
    // A consume request carries the client's RTP capabilities (a few KB from a browser);
    // anything near this size is hostile, and the connection that sends it is closed.
    maxHttpBufferSize: 64 * 1024,
    // Browsers do not apply CORS to WebSockets: the origin rule is checked on every handshake.
    // An address that flooded a moment ago is shut out before anything of it is parsed.
    allowRequest: (req, callback) => {
      if (!originAllowed(req)) return callback(null, false);
      abuse.shutOut(clientAddress(req, trust)).then(
        (shut) => callback(shut ? 'shut out for flooding: retry in a minute' : null, !shut),
        () => callback(null, true),
      );
    },
    // A connection whose network path died is noticed within 20 s (Socket.IO's default is
    // 45 s), on both sides: the client then reconnects and resumes its session.
    pingInterval: 10_000,
    pingTimeout: 10_000,
    // Cluster: `io.to(channel).emit` reaches the channel's sockets on every node.
    ...(cluster ? { adapter: cluster.socketIoAdapter() } : {}),
  });
  const clusterRooms = cluster
    ? new ClusterRooms(
        cluster,
        io,
        {
          graceMs: config.roomGraceMs,
          pipeListenIp: cluster.config.pipeListenIp,
          pipeAnnouncedIp: cluster.config.pipeAnnouncedIp,
          portRange: { min: config.mediasoup.minPort, max: config.mediasoup.maxPort },
        },
        log.child({ component: 'cluster-rooms' }),
      )
    : undefined;
  const rooms = new RoomRegistry(
    pool,
    {
      maxRooms: config.limits.maxRooms,
      maxPeersPerRoom: config.limits.maxPeersPerRoom,
      graceMs: config.roomGraceMs,
      peersPerRouter: config.mediasoup.roomPeersPerRouter,
      dynacastHoldMs: config.mediasoup.dynacastHoldMs,
      fanout: (roomId) => ioFanout(io, roomId, clusterRooms && ((...args) => clusterRooms.relay(...args))),
      updateMs: config.roomsUpdateMs,
      pageSize: config.roomsPageSize,
      ...(clusterRooms
        ? { link: (roomId, settings) => clusterRooms.link(roomId, settings), publicRooms: () => clusterRooms.directory.publicRooms() }
        : {}),
    },
    log.child({ component: 'rooms' }),
  );
  const sessions = new Sessions(config.resumeWindowMs, log.child({ component: 'sessions' }));
  const metrics = new Metrics(
    pool,
    rooms,
    cluster && clusterRooms
      ? {
          // Liveness exists once the node has joined, before the cluster rooms start.
          nodes: () => (clusterRooms.started ? 1 + cluster.liveness.nodes.size : 0),
          pipes: () => clusterRooms.links?.counts ?? { inbound: 0, outbound: 0 },
        }
      : undefined,
  );
  const recordings = new Recordings({ ...config.recording, log: log.child({ component: 'recording' }) });
  recordings.registerMetrics(metrics.registry);
  const drain = new Drain({
    io,
    rooms,
    otherNodes: () => (cluster && clusterRooms?.started ? cluster.liveness.nodes.size : 0),
    log: log.child({ component: 'drain' }),
  });
  httpApp.use(recordingRoutes({ recordings, ...(tokens ? { tokens } : {}) }));
  httpApp.use(
    createHttpApp({
      pool,
      rooms,
      metrics,
      staticDir: config.staticDir ?? defaultStaticDir(),
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
      isReady: () => ready && !drain.active && (cluster?.ready ?? true) && (clusterRooms?.started ?? true),
    }),
  );

  httpApp.use(plainErrors((error) => log.error({ err: error }, 'http request failed')));

  // Cluster: every node reads the whole cluster's list and tells its own sockets; only those
  // outside a room, which are the ones showing a lobby.
  rooms.on('roomsupdate', (page) => (cluster ? io.local : io).except(IN_ROOM_CHANNEL).emit('rooms:update', page));
  io.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.on('disconnect', () => metrics.sockets.dec());
    const client = abuse.forClient(clientAddress(socket.request, trust));
    new Connection(socket, { rooms, sessions, config, metrics, log: log.child({ component: 'signaling' }), client, bans, recordings, ...(tokens ? { tokens } : {}) });
    // A client that reconnects while this node drains learns it too, and can look elsewhere.
    const draining = drain.notice();
    if (draining) socket.emit('server:draining', draining);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    rooms.close();
    if (cluster) await new Promise<void>((resolve) => void io.close(() => resolve()));
    pool.close();
    await cluster?.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const url = `${config.http.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (cluster) {
    try {
      // What other nodes (and the clients they send here) can use: not a loopback stand-in
      // for a wildcard bind.
      const wildcard = host !== config.http.host;
      const announced = config.mediasoup.announcedAddress;
      await cluster.join(wildcard ? url.replace(`//${host}:`, `//${announced.includes(':') ? `[${announced}]` : announced}:`) : url);
      await clusterRooms?.start(rooms, bans, recordings);
    } catch (error) {
      rooms.close();
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      pool.close();
      await cluster.close();
      throw error;
    }
  }
  log.info({ url, workers: pool.slots.map((s) => s.worker.pid), ...(cluster ? { nodeId: cluster.nodeId } : {}) }, 'noom listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      ready = false;
      drain.stop();
      // Leave the cluster first, so the other nodes stop counting on this one at once.
      await clusterRooms?.close();
      await cluster?.leave();
      sessions.close();
      rooms.close();
      // The rooms' recordings finish their files before the process may end.
      await recordings.close();
      await disconnectSockets(io, SOCKET_FLUSH_MS);
      // io.close() disconnects every socket and closes the HTTP server, whose callback waits
      // for every HTTP connection to end: a keep-alive one, or one with a request half sent,
      // would hold it (and the process) for minutes. They are cut at once instead.
      const httpClosed = new Promise<void>((resolve) => {
        void io.close(() => resolve());
      });
      server.closeAllConnections();
      await httpClosed;
      await pool.close();
      await cluster?.close();
      log.info('noom stopped');
    })());

  return {
    url,
    port,
    pool,
    rooms,
    io,
    metrics,
    recordings,
    ...(cluster ? { cluster } : {}),
    drain: (timeoutMs) => {
      ready = false;
      return drain.start(timeoutMs);
    },
    close,
  };
}
