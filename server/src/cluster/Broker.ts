/**
 * Node-to-node requests over Redis: `request(node, type, payload)` on one node runs the
 * handler registered for `type` on the other and resolves with its parsed answer, or fails
 * with a {@link BrokerError}.
 *
 * Transport, and why:
 * - Requests go into a stream per target node (`noom:broker:requests:<id>`, XADD), which
 *   the target reads with XREAD BLOCK on a connection of its own. A stream holds what
 *   arrives while the reader is briefly away (reconnecting), where pub/sub would drop it;
 *   it needs no consumer group, because each node is the only reader of its own stream
 *   and remembers its position in memory.
 * - Replies are published on a channel per requesting node. A lost reply is a timeout,
 *   which the caller has to handle anyway, so the cheapest, fastest path is enough.
 * - A request that is not sent before its deadline is not sent at all (the XADD is
 *   aborted), and one that the target reads after its deadline (measured on Redis' clock,
 *   from the stream entry id) is dropped: a caller that gave up must not find the work
 *   done later by surprise. Work that did happen is the caller's to make idempotent: every
 *   request carries an id (`requestId` to reuse one on a retry), given to the handler.
 *
 * Everything read from Redis is parsed with a schema; a malformed message is logged and
 * dropped (answered with INVALID_MESSAGE when it says who sent it), never thrown.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { keys } from './keys.js';
import { parseJson } from './json.js';
import { NodeId, type Liveness } from './Liveness.js';
import { withDeadline, type RedisConnections } from './redis.js';

export type BrokerErrorCode =
  /** No answer within the timeout (the request may or may not have run). */
  | 'TIMEOUT'
  /** The target node is not alive, or died while the request was pending. */
  | 'NODE_DOWN'
  /** The target's handler failed; `remoteCode` says how when it said so. */
  | 'REMOTE_ERROR'
  /** A payload, a result or a message did not match its schema. */
  | 'INVALID_MESSAGE'
  /** This node could not send it: Redis unreachable or the broker closed. */
  | 'UNAVAILABLE';

export class BrokerError extends Error {
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    readonly details: { nodeId?: string; requestId?: string; type?: string; remoteCode?: string } = {},
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

/** What a handler learns besides the payload. */
export interface RequestContext {
  /** Stable across a caller's retries when it passes `requestId`: recognise a repeat with it. */
  requestId: string;
  fromNode: string;
  type: string;
}

export type Handler<T> = (payload: T, context: RequestContext) => unknown;

export interface RequestOptions<R> {
  /** Default 3000 ms. */
  timeoutMs?: number;
  /** Parses the answer; without it the answer is `unknown`. */
  result?: z.ZodType<R>;
  /** Reuse the id of an earlier attempt so the handler can recognise the retry. */
  requestId?: string;
}

export interface BrokerOptions {
  nodeId: string;
  /** Known node deaths turn into NODE_DOWN at once instead of a timeout. */
  liveness?: Pick<Liveness, 'isAlive' | 'on' | 'off'>;
}

const MessageType = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/);
const RequestId = z.string().min(1).max(128);
const MAX_MESSAGE_BYTES = 1024 * 1024;
const STREAM_MAX_LEN = 1000;
/** A stream nobody has written to for this long is dropped (the streams of dead nodes). */
const STREAM_IDLE_TTL_MS = 10 * 60_000;
const DEFAULT_TIMEOUT_MS = 3000;
const READ_BLOCK_MS = 2000;

const RequestEnvelope = z.object({
  id: RequestId,
  type: MessageType,
  from: NodeId,
  timeoutMs: z.number().int().positive().max(600_000),
  payload: z.unknown(),
});
/** Enough of a broken request to tell its sender so. */
const ReturnAddress = z.object({ id: RequestId, from: NodeId });
const ReplyEnvelope = z.discriminatedUnion('ok', [
  z.object({ id: RequestId, ok: z.literal(true), result: z.unknown() }),
  z.object({
    id: RequestId,
    ok: z.literal(false),
    error: z.object({ code: z.string().max(64), message: z.string().max(2000) }),
  }),
]);
type ReplyEnvelope = z.infer<typeof ReplyEnvelope>;
/** XREAD's answer, as far as the reader relies on it; each entry's fields are parsed on their own. */
const XReadReply = z
  .array(z.object({ messages: z.array(z.object({ id: z.string(), message: z.unknown() })) }))
  .nullable();
const EntryFields = z.object({ m: z.string() });

interface Pending {
  nodeId: string;
  type: string;
  settle: (outcome: { reply: ReplyEnvelope } | { error: BrokerError }) => void;
}


const issueSummary = (error: z.ZodError) =>
  error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');

export class Broker {
  readonly nodeId: string;
  readonly #redis: RedisConnections;
  readonly #log: Logger;
  readonly #liveness: BrokerOptions['liveness'];
  readonly #handlers = new Map<string, { schema: z.ZodType; handler: Handler<unknown> }>();
  readonly #pending = new Map<string, Pending>();
  /** Redis' clock minus ours, to judge a request's age by its stream entry id. */
  #clockOffsetMs = 0;
  #closed = false;
  readonly #onReply = (message: string) => {
    // Runs inside the Redis client's reply parser: nothing may escape from here.
    try {
      this.#handleReply(message);
    } catch (error) {
      this.#log.error({ err: error }, 'reply handling failed');
    }
  };
  readonly #onNodeDown = (nodeId: string) => this.#failPendingTo(nodeId);
  readonly #onReconnect = () => void this.#measureClock();

  private constructor(redis: RedisConnections, options: BrokerOptions, log: Logger) {
    this.#redis = redis;
    this.nodeId = options.nodeId;
    this.#liveness = options.liveness;
    this.#log = log;
  }

  /** Subscribes to this node's replies and starts reading its request stream. */
  static async start(redis: RedisConnections, options: BrokerOptions, log: Logger): Promise<Broker> {
    const broker = new Broker(redis, options, log);
    await broker.#measureClock();
    await redis.subscriber.subscribe(keys.replies(broker.nodeId), broker.#onReply);
    // Read from the stream's current end, learnt before anyone can know we are here: what an
    // earlier run under this id left unread is not ours, and nothing new is missed.
    const last = await redis.commands.xRevRange(keys.requests(broker.nodeId), '+', '-', { COUNT: 1 });
    const startId = z.array(z.object({ id: z.string() })).parse(last)[0]?.id ?? '0-0';
    options.liveness?.on('nodedown', broker.#onNodeDown);
    redis.commands.on('ready', broker.#onReconnect);
    void broker.#readLoop(startId);
    return broker;
  }

  /**
   * Answers requests of `type`: the payload is parsed with `schema` (a mismatch answers
   * INVALID_MESSAGE without calling `handler`), and what `handler` returns (JSON) is the
   * answer. A thrown error answers REMOTE_ERROR, with its `code` when it has a string one.
   */
  handle<S extends z.ZodType>(type: string, schema: S, handler: Handler<z.output<S>>): void {
    if (!MessageType.safeParse(type).success) throw new TypeError(`invalid request type ${JSON.stringify(type)}`);
    if (this.#handlers.has(type)) throw new TypeError(`a handler for ${type} is already registered`);
    this.#handlers.set(type, { schema, handler: handler as Handler<unknown> });
  }

  /** Sends `payload` to `nodeId`'s handler of `type` and resolves with its (parsed) answer. */
  async request<R = unknown>(nodeId: string, type: string, payload: unknown, options: RequestOptions<R> = {}): Promise<R> {
    const requestId = options.requestId ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const details = { nodeId, requestId, type };
    if (this.#closed) throw new BrokerError('UNAVAILABLE', 'the broker is closed', details);
    if (!NodeId.safeParse(nodeId).success) throw new TypeError(`invalid node id ${JSON.stringify(nodeId)}`);
    if (!MessageType.safeParse(type).success) throw new TypeError(`invalid request type ${JSON.stringify(type)}`);
    if (!RequestId.safeParse(requestId).success) throw new TypeError('requestId must be 1-128 characters');
    if (this.#pending.has(requestId)) throw new TypeError(`request ${requestId} is already pending`);
    if (this.#liveness && !this.#liveness.isAlive(nodeId)) {
      throw new BrokerError('NODE_DOWN', `node ${nodeId} is not alive`, details);
    }
    const body = JSON.stringify({ id: requestId, type, from: this.nodeId, timeoutMs, payload });
    if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) {
      throw new BrokerError('INVALID_MESSAGE', 'request larger than 1 MiB', details);
    }

    return await new Promise<R>((resolve, reject) => {
      const abort = new AbortController();
      const timer = setTimeout(() => {
        abort.abort();
        settle({ error: new BrokerError('TIMEOUT', `${type} to ${nodeId}: no answer in ${timeoutMs} ms`, details) });
      }, timeoutMs);
      const settle: Pending['settle'] = (outcome) => {
        if (this.#pending.get(requestId) !== pending) return;
        this.#pending.delete(requestId);
        clearTimeout(timer);
        if ('error' in outcome) return reject(outcome.error);
        const { reply } = outcome;
        if (!reply.ok) {
          const code = reply.error.code === 'INVALID_MESSAGE' ? 'INVALID_MESSAGE' : 'REMOTE_ERROR';
          return reject(new BrokerError(code, reply.error.message, { ...details, remoteCode: reply.error.code }));
        }
        if (!options.result) return resolve(reply.result as R);
        try {
          const parsed = options.result.safeParse(reply.result);
          if (parsed.success) resolve(parsed.data);
          else reject(new BrokerError('INVALID_MESSAGE', `${type} answer from ${nodeId}: ${issueSummary(parsed.error)}`, details));
        } catch (error) {
          // A refinement of the caller's schema that throws: still an answer, never a hang.
          reject(new BrokerError('INVALID_MESSAGE', `${type} answer from ${nodeId}: ${String(error)}`, details));
        }
      };
      const pending: Pending = { nodeId, type, settle };
      this.#pending.set(requestId, pending);

      const stream = keys.requests(nodeId);
      // Not sent by the deadline (Redis away): not sent at all.
      const client = this.#redis.commands.withAbortSignal(abort.signal);
      Promise.all([
        client.xAdd(stream, '*', { m: body }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: STREAM_MAX_LEN } }),
        client.pExpire(stream, STREAM_IDLE_TTL_MS),
      ]).catch((error: unknown) => {
        if (abort.signal.aborted) return; // the timeout has answered already
        this.#log.debug({ err: error, node: nodeId, type }, 'could not send a request');
        settle({ error: new BrokerError('UNAVAILABLE', `${type} to ${nodeId}: Redis unreachable`, details) });
      });
    });
  }

  /** Stops answering and fails what is still pending with UNAVAILABLE; the connections stay open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#liveness?.off('nodedown', this.#onNodeDown);
    this.#redis.commands.off('ready', this.#onReconnect);
    for (const pending of [...this.#pending.values()]) {
      pending.settle({ error: new BrokerError('UNAVAILABLE', 'the broker is closed', { nodeId: pending.nodeId, type: pending.type }) });
    }
    // Bounded: while Redis is away an unsubscribe waits for a reconnect that may never come.
    await withDeadline(this.#redis.subscriber.unsubscribe(keys.replies(this.nodeId), this.#onReply), 1000).catch(() => undefined);
  }

  async #measureClock(): Promise<void> {
    try {
      const before = Date.now();
      const [seconds, micros] = z.tuple([z.coerce.number(), z.coerce.number()]).parse(await this.#redis.commands.time());
      this.#clockOffsetMs = seconds * 1000 + Math.floor(micros / 1000) - Math.round((before + Date.now()) / 2);
    } catch (error) {
      this.#log.debug({ err: error }, 'could not read the Redis clock');
    }
  }

  async #readLoop(startId: string): Promise<void> {
    let offset = startId;
    const stream = keys.requests(this.nodeId);
    while (!this.#closed) {
      let reply: unknown;
      try {
        reply = await this.#redis.blocking.xRead({ key: stream, id: offset }, { BLOCK: READ_BLOCK_MS, COUNT: 100 });
      } catch (error) {
        if (this.#closed || this.#redis.closed) return;
        // Reconnecting: the client holds the command; pause so a failing loop cannot spin.
        this.#log.debug({ err: error }, 'request stream read failed');
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      const parsed = XReadReply.safeParse(reply);
      if (!parsed.success) {
        this.#log.error({ issues: issueSummary(parsed.error) }, 'unexpected XREAD reply');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      for (const entry of parsed.data?.[0]?.messages ?? []) {
        offset = entry.id;
        if (this.#closed) break;
        try {
          this.#handleEntry(entry.id, entry.message);
        } catch (error) {
          // A bug in handling one entry must not stop this node from reading the next.
          this.#log.error({ err: error, entryId: entry.id }, 'request handling failed');
        }
      }
    }
  }

  #handleEntry(entryId: string, fields: unknown): void {
    const raw = EntryFields.safeParse(fields);
    if (!raw.success || Buffer.byteLength(raw.data.m) > MAX_MESSAGE_BYTES) {
      this.#log.warn({ entryId }, 'dropping a malformed request');
      return;
    }
    const json = parseJson(raw.data.m);
    const request = RequestEnvelope.safeParse(json);
    if (!request.success) {
      const from = ReturnAddress.safeParse(json);
      this.#log.warn({ entryId, issues: issueSummary(request.error) }, 'dropping a malformed request');
      if (from.success) {
        this.#reply(from.data.from, { id: from.data.id, ok: false, error: { code: 'INVALID_MESSAGE', message: 'malformed request' } });
      }
      return;
    }
    const { id, type, from, timeoutMs, payload } = request.data;
    const sentAt = Number(entryId.split('-')[0]);
    const age = Date.now() + this.#clockOffsetMs - sentAt;
    if (age > timeoutMs) {
      this.#log.info({ requestId: id, type, from, ageMs: age }, 'dropping a request whose caller has given up');
      return;
    }
    const registered = this.#handlers.get(type);
    if (!registered) {
      this.#reply(from, { id, ok: false, error: { code: 'UNKNOWN_TYPE', message: `node ${this.nodeId} does not handle ${type}` } });
      return;
    }
    const input = registered.schema.safeParse(payload);
    if (!input.success) {
      this.#reply(from, { id, ok: false, error: { code: 'INVALID_MESSAGE', message: `${type}: ${issueSummary(input.error)}` } });
      return;
    }
    void this.#run(registered.handler, input.data, { requestId: id, fromNode: from, type });
  }

  async #run(handler: Handler<unknown>, payload: unknown, context: RequestContext): Promise<void> {
    const { requestId: id, fromNode, type } = context;
    try {
      const result: unknown = await handler(payload, context);
      this.#reply(fromNode, { id, ok: true, result });
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof Error)) this.#log.warn({ type, requestId: id }, 'a handler threw a non-Error');
      this.#reply(fromNode, {
        id,
        ok: false,
        error: { code: typeof code === 'string' ? code.slice(0, 64) : 'HANDLER_ERROR', message: message.slice(0, 2000) },
      });
    }
  }

  #reply(to: string, reply: ReplyEnvelope): void {
    let body: string;
    try {
      body = JSON.stringify(reply);
    } catch (error) {
      // A result that is not JSON (a cycle, a BigInt) is the handler's bug; tell the caller.
      this.#log.error({ err: error, requestId: reply.id }, 'handler result is not JSON');
      body = JSON.stringify({ id: reply.id, ok: false, error: { code: 'HANDLER_ERROR', message: 'result is not JSON' } });
    }
    this.#redis.commands.publish(keys.replies(to), body).catch((error: unknown) => {
      this.#log.debug({ err: error, to, requestId: reply.id }, 'could not send a reply');
    });
  }

  #handleReply(message: string): void {
    const reply = ReplyEnvelope.safeParse(parseJson(message));
    if (!reply.success) {
      this.#log.warn({ issues: issueSummary(reply.error) }, 'dropping a malformed reply');
      return;
    }
    // An unknown id is a reply that came after its timeout: nothing waits for it.
    this.#pending.get(reply.data.id)?.settle({ reply: reply.data });
  }

  #failPendingTo(nodeId: string): void {
    for (const [requestId, pending] of [...this.#pending]) {
      if (pending.nodeId !== nodeId) continue;
      pending.settle({ error: new BrokerError('NODE_DOWN', `node ${nodeId} went down`, { nodeId, requestId, type: pending.type }) });
    }
  }
}
