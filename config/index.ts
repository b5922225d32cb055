/**
 * The one configuration module: defaults, a zod schema and environment overrides. It is the
 * only code that reads `process.env`; everything else receives a validated {@link Config}.
 * Every variable is documented in config/.env.example and the README's configuration table.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const ip = z.string().refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address');

const IceServer = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

const NODE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** `turn:` or `turns:` URLs, comma-separated (RFC 7065: host, optional port and transport). */
const turnUrls = z.string().transform((text, ctx) => {
  const urls = text.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const bad = urls.find((u) => !/^turns?:[^\s?]+(\?transport=(udp|tcp))?$/.test(u));
  if (urls.length === 0 || bad !== undefined) {
    ctx.addIssue({ code: 'custom', message: `must be turn: or turns: URLs separated by commas${bad ? ` (not "${bad}")` : ''}` });
    return z.NEVER;
  }
  return urls;
});

/** redis:// or rediss:// with a host; the value itself never appears in a message (it may hold a password). */
const redisUrl = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a URL such as redis://127.0.0.1:6379' });
    return;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    ctx.addIssue({ code: 'custom', message: 'must start with redis:// or rediss://' });
  } else if (!url.hostname) {
    ctx.addIssue({ code: 'custom', message: 'must name a host' });
  } else if (url.pathname.length > 1 && !/^\/\d{1,2}$/.test(url.pathname)) {
    ctx.addIssue({ code: 'custom', message: 'path must be a database number such as /0' });
  } else if (url.search || url.hash) {
    ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment' });
  }
});

const jsonList = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
});

/** An address list in proxy-addr's syntax: addresses, CIDR subnets, `loopback`, `linklocal`, `uniquelocal`. */
const ADDRESS_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const addressList = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim()).filter(Boolean))
  .refine(
    (list) => list.every((a) => ADDRESS_NAMES.has(a) || isIP(a.split('/')[0] ?? '') !== 0),
    'must be addresses, subnets (a.b.c.d/n) or loopback, linklocal, uniquelocal, separated by commas',
  );
/** Express's `trust proxy`: true, false, a hop count, or the proxies' addresses. */
const trustProxy = z.union([
  z.enum(['true', 'false']).transform((v) => v === 'true'),
  z.string().regex(/^\d{1,3}$/).transform(Number),
  addressList,
]);
/** Signature algorithms a join token signed with a private key may use (AUTH_PUBLIC_KEY). */
export const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Environment variables, by name, with their parsers and defaults. */
const EnvSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKERS: int(1, 256).optional(),
  WORKER_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('error'),
  RTC_LISTEN_IP: ip.default('0.0.0.0'),
  ANNOUNCED_IP: z.string().min(1).optional(),
  RTC_PORT_BASE: int(0, 65535).default(40000),
  RTC_MIN_PORT: int(1024, 65535).default(40100),
  RTC_MAX_PORT: int(1024, 65535).default(49999),
  WEBRTC_TCP: bool.default(true),
  RTC_UDP_BUFFER_BYTES: int(0, 1 << 30).default(4 * 1024 * 1024),
  ICE_SERVERS: jsonList.pipe(z.array(IceServer).max(16)).default([]),
  TLS_CERT: z.string().min(1).optional(),
  TLS_KEY: z.string().min(1).optional(),
  MAX_PEERS_PER_ROOM: int(1, 10_000).default(100),
  MAX_PRODUCERS_PER_PEER: int(1, 32).default(4),
  MAX_ROOMS: int(1, 100_000).default(1000),
  ROOM_GRACE_MS: int(0, 600_000).default(3000),
  CHAT_RATE_PER_10S: int(1, 10_000).default(20),
  RESUME_WINDOW_MS: int(0, 600_000).default(15_000),
  STATIC_DIR: z.string().min(1).optional(),
  ROOMS_UPDATE_MS: int(0, 60_000).default(250),
  ROOMS_PAGE_SIZE: int(1, 10_000).default(50),
  ROOM_PEERS_PER_ROUTER: int(1, 10_000).default(24),
  KEYFRAME_REQUEST_DELAY_MS: int(0, 10_000).default(500),
  DYNACAST_HOLD_MS: int(0, 60_000).default(2000),
  REDIS_URL: redisUrl.optional(),
  NODE_ID: z.string().regex(NODE_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -').optional(),
  PIPE_LISTEN_IP: ip.optional(),
  PIPE_ANNOUNCED_IP: z.string().min(1).optional(),
  DRAIN_TIMEOUT: int(0, 86_400).default(30),
  TURN_URLS: turnUrls.pipe(z.array(z.string()).max(8)).optional(),
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters (a long random string shared with coturn)').optional(),
  TURN_TTL: int(60, 7 * 86_400).default(86_400),
  TRUST_PROXY: trustProxy.default(false),
  ALLOWED_ORIGINS: z
    .string()
    .transform((text) => text.split(',').map((s) => s.trim().replace(/\/$/, '')).filter(Boolean))
    .refine((list) => list.every((o) => o === '*' || /^https?:\/\/[^/]+$/.test(o)), 'must be origins such as https://meet.example.org, or *')
    .default([]),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RATE_LIMIT_EXEMPT: addressList.default([]),
  JOINS_PER_MIN: int(1, 1_000_000).default(60),
  ROOM_CREATIONS_PER_MIN: int(1, 1_000_000).default(10),
  PASSWORD_ATTEMPTS: int(1, 1000).default(5),
  RENAMES_PER_MIN: int(1, 1_000_000).default(10),
  TRANSPORTS_PER_MIN: int(1, 1_000_000).default(60),
  PRODUCERS_PER_MIN: int(1, 1_000_000).default(60),
  CONSUMERS_PER_MIN: int(1, 1_000_000).default(2000),
  INVALID_REQUESTS_PER_10S: int(1, 1_000_000).default(20),
  SIGNALING_MB_PER_10S: int(1, 100_000).default(16),
  AUTH_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 wants 256 bits)').optional(),
  AUTH_PUBLIC_KEY: z.string().min(1).optional(),
  AUTH_PUBLIC_KEY_ALG: z.enum(PUBLIC_KEY_ALGORITHMS).default('RS256'),
  KICK_BAN_SECONDS: int(0, 86_400).default(600),
  RECORDINGS_DIR: z.string().min(1).default('recordings'),
  RECORDING_MIN_FREE_MB: int(0, 1_000_000).default(200),
});

/** Present only when REDIS_URL is set: this node is then one of several serving one service. */
export interface ClusterConfig {
  redisUrl: string;
  /** Names this node in Redis and to the other nodes; unique within the cluster. */
  nodeId: string;
  /** Address this node's PipeTransports bind to (media piped to and from other nodes). */
  pipeListenIp: string;
  /** Address the other nodes send piped media to. */
  pipeAnnouncedIp: string;
}

/** Present when joins need a signed token; either key or both. */
export interface AuthConfig {
  /** HS256 shared secret. */
  secret?: string;
  /** A PEM public key (SPKI) and the algorithm tokens are signed with. */
  publicKey?: { pem: string; algorithm: (typeof PUBLIC_KEY_ALGORITHMS)[number] };
}

export interface Config {
  http: { host: string; port: number; tls?: { certFile: string; keyFile: string } };
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  mediasoup: {
    workers: number;
    workerLogLevel: z.infer<typeof EnvSchema>['WORKER_LOG_LEVEL'];
    listenIp: string;
    announcedAddress: string;
    /** First WebRtcServer port; worker i listens on portBase + i. 0 picks free ports. */
    portBase: number;
    /**
     * Receive and send buffer asked for on each worker's media UDP socket (the kernel caps
     * it at net.core.rmem_max / wmem_max); 0 leaves the system default.
     */
    udpBufferBytes: number;
    minPort: number;
    maxPort: number;
    enableTcp: boolean;
    /** Peers of one room on one router before the room grows onto another worker. */
    roomPeersPerRouter: number;
    /** At most one keyframe request per this interval reaches a video publisher. */
    keyFrameRequestDelayMs: number;
    /** A publisher is told to send fewer layers only once fewer have been wanted this long. */
    dynacastHoldMs: number;
  };
  iceServers: z.infer<typeof IceServer>[];
  limits: {
    maxPeersPerRoom: number;
    maxProducersPerPeer: number;
    maxRooms: number;
    chatPer10s: number;
  };
  /** Browser origins besides the server's own that may use HTTP and Socket.IO; `*` for any. */
  allowedOrigins: string[];
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Where X-Forwarded-For is believed (Express's `trust proxy`). */
  trustProxy: boolean | number | string[];
  /** Limits per client address (server/src/limits/AbuseLimits.ts). */
  abuse: {
    exempt: string[];
    joinsPerMin: number;
    roomCreationsPerMin: number;
    passwordAttempts: number;
    renamesPerMin: number;
    transportsPerMin: number;
    producersPerMin: number;
    consumersPerMin: number;
    /** Requests refused as malformed or unknown, per address per 10 s, before its sockets are dropped and it is shut out a while. */
    invalidPer10s: number;
    /** Signaling bytes an address may send per 10 s, before its sockets are dropped and it is shut out a while. */
    bytesPer10s: number;
  };
  roomGraceMs: number;
  /** A member whose connection drops is kept this long for a `room:resume` (0: it leaves at once). */
  resumeWindowMs: number;
  roomsUpdateMs: number;
  /** Rooms in a `rooms:update` push (the busiest first); `rooms:list` pages through the rest. */
  roomsPageSize: number;
  /** After SIGTERM/SIGINT, calls go on at most this long before the rooms close (0: at once). */
  drainTimeoutMs: number;
  /** Unset: Noom is open, anyone may join any room, and a room's first peer is its host. */
  auth?: AuthConfig;
  moderation: {
    /** How long a removed identity cannot rejoin the room it was removed from (0: it can at once). */
    kickBanSeconds: number;
  };
  staticDir?: string;
  recording: {
    /** Where recordings are written (created on the first recording). */
    dir: string;
    /** A recording stops with `disk-full` when the disk holding `dir` has less than this free. */
    minFreeBytes: number;
  };
  cluster?: ClusterConfig;
  /** Present when TURN_URLS and TURN_SECRET are set: each join gets its own TURN credentials. */
  turn?: TurnConfig;
}

/** A TURN server (coturn with `use-auth-secret`) that shares a secret with this server. */
export interface TurnConfig {
  urls: string[];
  secret: string;
  /** Lifetime of the credentials handed out, in seconds. */
  ttlS: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`invalid configuration: ${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** The first non-internal IPv4 address, so that a LAN peer can reach the default setup. */
function detectAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const isUnspecified = (address: string) => address === '0.0.0.0' || address === '::';

/**
 * `<host name>:<PORT>`, trimmed to the allowed characters and length. With PORT=0 the port
 * is not known yet, so the process id keeps two such nodes on one host apart.
 */
function defaultNodeId(port: number): string {
  const suffix = port === 0 ? `:pid${process.pid}` : `:${port}`;
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64 - suffix.length) || 'noom';
  return host + suffix;
}

/** A Redis URL with its password (and user name) masked, for logs and error messages. */
export function redactRedisUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    if (url.username) url.username = '***';
    return url.toString();
  } catch {
    return 'redis://***';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as they do in most .env tooling.
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape).flatMap((k) => (env[k] !== undefined && env[k] !== '' ? [[k, env[k]]] : [])),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  if (e.RTC_MIN_PORT > e.RTC_MAX_PORT) throw new ConfigError('RTC_MIN_PORT', 'must not exceed RTC_MAX_PORT');
  if (Boolean(e.TLS_CERT) !== Boolean(e.TLS_KEY)) {
    throw new ConfigError(e.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT', 'TLS_CERT and TLS_KEY go together');
  }
  if (Boolean(e.TURN_URLS) !== Boolean(e.TURN_SECRET)) {
    throw new ConfigError(e.TURN_URLS ? 'TURN_SECRET' : 'TURN_URLS', 'TURN_URLS and TURN_SECRET go together');
  }
  const workers = e.WORKERS ?? availableParallelism();
  if (e.RTC_PORT_BASE !== 0 && e.RTC_PORT_BASE + workers - 1 > 65535) {
    throw new ConfigError('RTC_PORT_BASE', `needs ${workers} consecutive ports`);
  }
  const announcedAddress = e.ANNOUNCED_IP ?? (isUnspecified(e.RTC_LISTEN_IP) ? detectAddress() : e.RTC_LISTEN_IP);
  const pipeListenIp = e.PIPE_LISTEN_IP ?? e.RTC_LISTEN_IP;
  const publicKeyPem = e.AUTH_PUBLIC_KEY ? readPublicKey(e.AUTH_PUBLIC_KEY) : undefined;
  return {
    http: {
      host: e.HOST,
      port: e.PORT,
      ...(e.TLS_CERT && e.TLS_KEY ? { tls: { certFile: e.TLS_CERT, keyFile: e.TLS_KEY } } : {}),
    },
    logLevel: e.LOG_LEVEL,
    mediasoup: {
      workers,
      workerLogLevel: e.WORKER_LOG_LEVEL,
      listenIp: e.RTC_LISTEN_IP,
      announcedAddress,
      portBase: e.RTC_PORT_BASE,
      udpBufferBytes: e.RTC_UDP_BUFFER_BYTES,
      minPort: e.RTC_MIN_PORT,
      maxPort: e.RTC_MAX_PORT,
      enableTcp: e.WEBRTC_TCP,
      roomPeersPerRouter: e.ROOM_PEERS_PER_ROUTER,
      keyFrameRequestDelayMs: e.KEYFRAME_REQUEST_DELAY_MS,
      dynacastHoldMs: e.DYNACAST_HOLD_MS,
    },
    iceServers: e.ICE_SERVERS,
    limits: {
      maxPeersPerRoom: e.MAX_PEERS_PER_ROOM,
      maxProducersPerPeer: e.MAX_PRODUCERS_PER_PEER,
      maxRooms: e.MAX_ROOMS,
      chatPer10s: e.CHAT_RATE_PER_10S,
    },
    trustProxy: e.TRUST_PROXY,
    allowedOrigins: e.ALLOWED_ORIGINS,
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    abuse: {
      exempt: e.RATE_LIMIT_EXEMPT,
      joinsPerMin: e.JOINS_PER_MIN,
      roomCreationsPerMin: e.ROOM_CREATIONS_PER_MIN,
      passwordAttempts: e.PASSWORD_ATTEMPTS,
      renamesPerMin: e.RENAMES_PER_MIN,
      transportsPerMin: e.TRANSPORTS_PER_MIN,
      producersPerMin: e.PRODUCERS_PER_MIN,
      consumersPerMin: e.CONSUMERS_PER_MIN,
      invalidPer10s: e.INVALID_REQUESTS_PER_10S,
      bytesPer10s: e.SIGNALING_MB_PER_10S * 1024 * 1024,
    },
    roomGraceMs: e.ROOM_GRACE_MS,
    resumeWindowMs: e.RESUME_WINDOW_MS,
    roomsUpdateMs: e.ROOMS_UPDATE_MS,
    roomsPageSize: e.ROOMS_PAGE_SIZE,
    drainTimeoutMs: e.DRAIN_TIMEOUT * 1000,
    ...(e.TURN_URLS && e.TURN_SECRET ? { turn: { urls: e.TURN_URLS, secret: e.TURN_SECRET, ttlS: e.TURN_TTL } } : {}),
    ...(e.AUTH_SECRET || publicKeyPem
      ? {
          auth: {
            ...(e.AUTH_SECRET ? { secret: e.AUTH_SECRET } : {}),
            ...(publicKeyPem ? { publicKey: { pem: publicKeyPem, algorithm: e.AUTH_PUBLIC_KEY_ALG } } : {}),
          },
        }
      : {}),
    moderation: { kickBanSeconds: e.KICK_BAN_SECONDS },
    ...(e.STATIC_DIR ? { staticDir: e.STATIC_DIR } : {}),
    recording: { dir: path.resolve(e.RECORDINGS_DIR), minFreeBytes: e.RECORDING_MIN_FREE_MB * 1024 * 1024 },
    ...(e.REDIS_URL
      ? {
          cluster: {
            redisUrl: e.REDIS_URL,
            nodeId: e.NODE_ID ?? defaultNodeId(e.PORT),
            pipeListenIp,
            // A specific pipe address is where the other nodes reach this one; behind a
            // wildcard bind, the address already announced to clients is the best guess.
            pipeAnnouncedIp: e.PIPE_ANNOUNCED_IP ?? (isUnspecified(pipeListenIp) ? announcedAddress : pipeListenIp),
          },
        }
      : {}),
  };
}

/** AUTH_PUBLIC_KEY is the PEM text itself or the path of a file holding it. */
function readPublicKey(value: string): string {
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n');
  try {
    const pem = readFileSync(value, 'utf8');
    if (!pem.includes('-----BEGIN PUBLIC KEY-----')) throw new ConfigError('AUTH_PUBLIC_KEY', 'the file holds no PEM public key');
    return pem;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('AUTH_PUBLIC_KEY', 'must be a PEM public key or the path of a readable file holding one');
  }
}

/** The configuration with secrets masked, for the startup log line. */
export function redact(config: Config): unknown {
  return {
    ...config,
    ...(config.metricsToken ? { metricsToken: '***' } : {}),
    ...(config.auth ? { auth: { ...config.auth, ...(config.auth.secret ? { secret: '***' } : {}) } } : {}),
    iceServers: config.iceServers.map((s) => ({ ...s, ...(s.credential ? { credential: '***' } : {}) })),
    ...(config.cluster ? { cluster: { ...config.cluster, redisUrl: redactRedisUrl(config.cluster.redisUrl) } } : {}),
    ...(config.turn ? { turn: { ...config.turn, secret: '***' } } : {}),
  };
}
