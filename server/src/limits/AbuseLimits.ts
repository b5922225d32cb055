/**
 * Abuse limits that hold per client address, not per connection: reconnecting does not
 * refill them. Counters live in rate-limiter-flexible's memory store on one node, and in
 * Redis in a cluster, so that a client spreading its requests over the nodes gets one
 * allowance; while Redis is away each node falls back on its own memory counters (the
 * library's insurance limiter). The flood allowances, spent on every message, stay in each
 * node's memory. Every refusal is a RATE_LIMITED error that says when to retry.
 *
 * - joins and room creations per address, so one client cannot fill MAX_ROOMS;
 * - wrong room passwords per address and room, with a block that doubles each time
 *   (1 min, 2, 4 … at most 1 h) once the free attempts are used up;
 * - chat per identity (address + display name) and, five times looser, per address, so that
 *   a new name does not buy a new allowance; renames per address;
 * - transport, producer and consumer creations per address, as bursts over a minute;
 * - floods: requests refused as malformed or unknown, and signaling bytes, per address per
 *   10 s. Beyond either, the address's sockets are dropped and its new connections refused
 *   for a minute: parsing what a flood sends is what costs everyone else, so the flood is
 *   cut at the connection rather than answered request by request.
 *
 * Exempt addresses (RATE_LIMIT_EXEMPT: a load tester, a trusted gateway) skip all of these
 * but chat and renames, which they keep per connection.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.js';

export interface AbuseLimitsConfig {
  joinsPerMin: number;
  roomCreationsPerMin: number;
  /** Wrong passwords per address and room before the first block. */
  passwordAttempts: number;
  /** Chat messages per identity per 10 s; five times as many per address. */
  chatPer10s: number;
  renamesPerMin: number;
  transportsPerMin: number;
  producersPerMin: number;
  consumersPerMin: number;
  invalidPer10s: number;
  bytesPer10s: number;
  /** Addresses the limits do not apply to (a load tester, a trusted gateway). */
  isExempt: (address: string) => boolean;
  /** Cluster: a node-redis client the counters are kept in, shared by every node. */
  redis?: unknown;
}

export type LimitedAction = 'join' | 'roomCreation' | 'rename' | 'transport' | 'producer' | 'consumer';

const PASSWORD_WINDOW_S = 600;
const FIRST_BLOCK_S = 60;
const LONGEST_BLOCK_S = 3600;
/** How long a block is remembered for the doubling. */
const STRIKES_WINDOW_S = 86_400;
/** How long an address that flooded is shut out. */
const FLOOD_BLOCK_S = 60;
export const CHAT_ADDRESS_FACTOR = 5;

const WHAT: Record<LimitedAction, string> = {
  join: 'joins',
  roomCreation: 'new rooms',
  rename: 'renames',
  transport: 'transports',
  producer: 'producers',
  consumer: 'consumers',
};

export function rateLimited(what: string, msBeforeNext: number): AppError {
  const retryAfterMs = Math.max(1, Math.ceil(msBeforeNext));
  return new AppError('RATE_LIMITED', `too many ${what}: retry in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs });
}

export class AbuseLimits {
  readonly #config: AbuseLimitsConfig;
  readonly #perAction: Record<LimitedAction, RateLimiterAbstract>;
  readonly #chatIdentity: RateLimiterAbstract;
  readonly #chatAddress: RateLimiterAbstract;
  readonly #passwords: RateLimiterAbstract;
  readonly #strikes: RateLimiterAbstract;
  readonly #invalid: RateLimiterAbstract;
  readonly #bytes: RateLimiterAbstract;

  constructor(config: AbuseLimitsConfig) {
    this.#config = config;
    /** `perNode`: counted where the cost falls, in this node's memory, even in a cluster. */
    const limiter = (name: string, points: number, duration: number, blockDuration = 0, perNode = false) => {
      const memory = new RateLimiterMemory({ points, duration, blockDuration });
      if (config.redis === undefined || perNode) return memory;
      return new RateLimiterRedis({
        storeClient: config.redis,
        useRedisPackage: true,
        // Redis away: each node counts on its own meanwhile rather than waiting for it.
        rejectIfRedisNotReady: true,
        insuranceLimiter: memory,
        keyPrefix: `noom:limit:${name}`,
        points,
        duration,
        blockDuration,
      });
    };
    const perMin = (name: LimitedAction, points: number) => limiter(name, points, 60);
    this.#perAction = {
      join: perMin('join', config.joinsPerMin),
      roomCreation: perMin('roomCreation', config.roomCreationsPerMin),
      rename: perMin('rename', config.renamesPerMin),
      transport: perMin('transport', config.transportsPerMin),
      producer: perMin('producer', config.producersPerMin),
      consumer: perMin('consumer', config.consumersPerMin),
    };
    this.#chatIdentity = limiter('chatIdentity', config.chatPer10s, 10);
    this.#chatAddress = limiter('chatAddress', config.chatPer10s * CHAT_ADDRESS_FACTOR, 10);
    this.#passwords = limiter('passwords', config.passwordAttempts, PASSWORD_WINDOW_S);
    this.#strikes = limiter('strikes', 1_000_000, STRIKES_WINDOW_S);
    // Flood allowances are spent on every message a socket sends: a Redis round trip each
    // would put the store on the signaling hot path, and what a flood costs is this node's
    // parsing anyway.
    this.#invalid = limiter('invalid', config.invalidPer10s, 10, FLOOD_BLOCK_S, true);
    this.#bytes = limiter('bytes', config.bytesPer10s, 10, FLOOD_BLOCK_S, true);
  }

  /**
   * Whether a new connection from `address` is shut out (it flooded a moment ago). Exempt
   * addresses, whose limits are per connection, never are.
   */
  async shutOut(address: string): Promise<boolean> {
    if (this.#config.isExempt(address)) return false;
    for (const limiter of [this.#invalid, this.#bytes]) {
      const res = await limiter.get(address);
      if (res && res.remainingPoints <= 0 && res.msBeforeNext > 0) return true;
    }
    return false;
  }

  /** @internal Counts a malformed or unknown request; false once the address is over its allowance. */
  async invalid(key: string, weight = 1): Promise<boolean> {
    return spend(this.#invalid, key, weight);
  }

  /** @internal Counts signaling bytes received; false once the address is over its allowance. */
  async received(key: string, bytes: number): Promise<boolean> {
    return spend(this.#bytes, key, bytes);
  }

  #connections = 0;

  /**
   * The limits of one client address. An exempt address keeps chat and rename limits per
   * connection, as if each connection were an address of its own.
   */
  forClient(address: string): ClientLimits {
    const exempt = this.#config.isExempt(address);
    return new ClientLimits(this, exempt ? `${address}#${++this.#connections}` : address, exempt);
  }

  /** @internal */
  async take(action: LimitedAction, address: string): Promise<void> {
    await consume(this.#perAction[action], address, WHAT[action]);
  }

  /** @internal */
  async takeChat(address: string, identity: string): Promise<void> {
    // The identity first: a message it refuses costs the address nothing.
    await consume(this.#chatIdentity, `${address}\0${identity}`, 'messages');
    await consume(this.#chatAddress, address, 'messages');
  }

  /** @internal Refuses a password attempt while the address is blocked for this room. */
  async checkPassword(address: string, roomId: string): Promise<void> {
    const res = await this.#passwords.get(passwordKey(address, roomId));
    if (res && res.remainingPoints <= 0 && res.msBeforeNext > 0) throw rateLimited('wrong passwords', res.msBeforeNext);
  }

  /** @internal Counts a wrong password; the last free attempt starts a block, longer each time. */
  async passwordFailed(address: string, roomId: string): Promise<void> {
    const key = passwordKey(address, roomId);
    let remaining: number;
    try {
      remaining = (await this.#passwords.consume(key)).remainingPoints;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      remaining = 0;
    }
    if (remaining > 0) return;
    const strikes = (await this.#strikes.consume(key)).consumedPoints;
    await this.#passwords.block(key, Math.min(FIRST_BLOCK_S * 2 ** (strikes - 1), LONGEST_BLOCK_S));
  }
}

export class ClientLimits {
  constructor(
    readonly limits: AbuseLimits,
    readonly address: string,
    readonly exempt: boolean,
  ) {}

  async take(action: LimitedAction): Promise<void> {
    if (!this.exempt || action === 'rename') await this.limits.take(action, this.address);
  }

  /** `identity`: the sender's display name; the address is part of it already. */
  async takeChat(identity: string): Promise<void> {
    await this.limits.takeChat(this.address, identity);
  }

  async checkPassword(roomId: string): Promise<void> {
    if (!this.exempt) await this.limits.checkPassword(this.address, roomId);
  }

  async passwordFailed(roomId: string): Promise<void> {
    if (!this.exempt) await this.limits.passwordFailed(this.address, roomId);
  }

  /** A request refused as malformed or unknown: false when the client is flooding. */
  invalid(weight = 1): Promise<boolean> {
    return this.limits.invalid(this.address, weight);
  }

  /** Bytes of one signaling packet: false when the client is flooding. */
  received(bytes: number): Promise<boolean> {
    return this.limits.received(this.address, bytes);
  }
}

/** Spends from a flood allowance; a store that fails (it has an insurance limiter, so rarely) lets the traffic pass. */
async function spend(limiter: RateLimiterAbstract, key: string, points: number): Promise<boolean> {
  try {
    await limiter.consume(key, points);
    return true;
  } catch (error) {
    return !(error instanceof RateLimiterRes);
  }
}

const passwordKey = (address: string, roomId: string) => `${address}\0${roomId}`;

async function consume(limiter: RateLimiterAbstract, key: string, what: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (error) {
    if (error instanceof RateLimiterRes) throw rateLimited(what, error.msBeforeNext);
    throw error;
  }
}
