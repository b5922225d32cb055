/**
 * TURN as a client behind a strict firewall would use it: the `turn:`/`turns:` URLs of the
 * join answer's `iceServers` (RFC 7065), an Allocate with the long-term credentials that
 * came with them (RFC 8656: unsigned request → 401 with realm and nonce → signed request),
 * and a STUN Binding relayed through the allocation (CreatePermission, Send and Data
 * indications) to the media server: the path a relay-only client's media takes.
 *
 * The session is small and our own, rather than werift's TURN client, because a wrong
 * secret must be named as such: coturn's 401 to a badly signed request is unsigned, and
 * werift drops unsigned answers, so a wrong secret would look like a server that never
 * answers. Messages are still built and parsed with werift's STUN code.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { werift } from '../loadtest/peer/werift.js';
import type { IceServerAnswer } from './answers.js';
import { bindingRequest, readBindingAnswer, type IceCredentials, type StunOutcome, type StunTarget } from './stun.js';

export interface TurnTarget {
  url: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  username?: string;
  credential?: string;
}

export type TurnFailure = 'unauthorized' | 'forbidden' | 'quota' | 'timeout' | 'refused' | 'tls' | 'error';

export class TurnError extends Error {
  constructor(
    readonly reason: TurnFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TurnError';
  }
}

type Message = InstanceType<typeof werift.Message>;
type Address = [string, number];

const TURN_URL = /^(turns?):(\[[0-9a-fA-F:.]+\]|[^?:/[\]]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;
/** REQUESTED-TRANSPORT: UDP (protocol 17) in the attribute's first byte. */
const UDP_TRANSPORT = 17 << 24;
const ALLOCATION_LIFETIME_S = 300;

/** The TURN URLs of the ICE servers with their credentials, and the entries that are not valid URLs. */
export function turnTargets(servers: IceServerAnswer[]): { targets: TurnTarget[]; invalid: string[] } {
  const targets: TurnTarget[] = [];
  const invalid: string[] = [];
  for (const server of servers) {
    for (const url of typeof server.urls === 'string' ? [server.urls] : server.urls) {
      if (!/^turns?:/i.test(url)) continue;
      const m = TURN_URL.exec(url);
      const port = m?.[3] === undefined ? undefined : Number(m[3]);
      if (!m || (port !== undefined && (port < 1 || port > 65535))) {
        invalid.push(url);
        continue;
      }
      const secure = m[1] === 'turns';
      targets.push({
        url,
        host: m[2]!.replace(/^\[|\]$/g, ''),
        port: port ?? (secure ? 5349 : 3478),
        transport: secure ? 'tls' : ((m[4] as 'udp' | 'tcp' | undefined) ?? 'udp'),
        ...(server.username !== undefined ? { username: server.username } : {}),
        ...(server.credential !== undefined ? { credential: server.credential } : {}),
      });
    }
  }
  return { targets, invalid };
}

/** Whole STUN messages (and ChannelData, padded to 4 over a stream) out of a TCP/TLS byte stream. */
function splitStream(buffer: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  while (buffer.length - at >= 4) {
    const length = buffer.readUInt16BE(at + 2);
    const size = (buffer[at]! & 0xc0) === 0 ? 20 + length : 4 + ((length + 3) & ~3);
    if (buffer.length - at < size) break;
    frames.push(buffer.subarray(at, at + size));
    at += size;
  }
  return { frames, rest: buffer.subarray(at) };
}

interface Wire {
  send(data: Buffer): void;
  close(): void;
}

/** One allocation on one TURN server; `close()` gives it back. */
export class TurnSession {
  readonly #target: TurnTarget;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, (answer: Message, raw: Buffer) => void>();
  readonly #dataListeners = new Set<(data: Buffer, from: Address) => void>();
  #wire?: Wire;
  #failure?: (error: TurnError) => void;
  #auth?: { realm: string; nonce: Buffer; key: Buffer };
  #closed = false;
  relayed?: string;

  private constructor(target: TurnTarget, timeoutMs: number) {
    this.#target = target;
    this.#timeoutMs = timeoutMs;
  }

  get #where(): string {
    return `${this.#target.host}:${this.#target.port}/${this.#target.transport}`;
  }

  /** Connects and allocates a UDP relay; rejects with a TurnError naming what went wrong. */
  static async allocate(target: TurnTarget, timeoutMs: number): Promise<TurnSession> {
    if (target.username === undefined || target.credential === undefined) {
      throw new TurnError('unauthorized', `${target.url} comes without a username and credential`);
    }
    const session = new TurnSession(target, timeoutMs);
    try {
      await session.#connect();
      await session.#allocate(target.username, target.credential);
      return session;
    } catch (error) {
      session.close();
      throw error;
    }
  }

  async #connect(): Promise<void> {
    const { host, port, transport } = this.#target;
    const onMessage = (data: Buffer) => this.#received(data);
    if (transport === 'udp') {
      const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      }).catch((error: NodeJS.ErrnoException) => {
        socket.close();
        throw new TurnError('error', `${this.#where}: ${error.code ?? error.message}`);
      });
      socket.on('message', onMessage);
      socket.on('error', (error: NodeJS.ErrnoException) => this.#fail(error));
      this.#wire = { send: (data) => socket.send(data), close: () => socket.close() };
      return;
    }
    const socket =
      transport === 'tls' ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TurnError('timeout', `${this.#where}: no connection in ${this.#timeoutMs} ms`)), this.#timeoutMs);
      socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(this.#describe(error));
      });
    }).catch((error: unknown) => {
      socket.destroy();
      throw error;
    });
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const { frames, rest } = splitStream(Buffer.concat([buffered, chunk]));
      buffered = Buffer.from(rest);
      for (const frame of frames) onMessage(frame);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the TURN server closed the connection')));
    this.#wire = { send: (data) => socket.write(data), close: () => socket.destroy() };
  }

  #describe(error: NodeJS.ErrnoException): TurnError {
    if (error.code === 'ECONNREFUSED') return new TurnError('refused', `${this.#where}: connection refused (nothing listens there)`);
    if (this.#target.transport === 'tls' && (error.code?.startsWith('ERR_TLS') || /certificate|self.signed/i.test(error.message))) {
      return new TurnError('tls', `${this.#where}: TLS certificate not valid (${error.code ?? error.message})`);
    }
    return new TurnError('error', `${this.#where}: ${error.code ?? error.message}`);
  }

  #fail(error: NodeJS.ErrnoException): void {
    if (this.#closed) return;
    this.#failure?.(this.#describe(error));
  }

  #received(data: Buffer): void {
    const message = werift.parseMessage(data);
    if (!message) return;
    if (message.messageMethod === werift.methods.DATA && message.messageClass === werift.classes.INDICATION) {
      const payload = message.getAttributeValue('DATA') as Buffer | undefined;
      const from = message.getAttributeValue('XOR-PEER-ADDRESS') as Address | undefined;
      if (payload && from) for (const listener of this.#dataListeners) listener(payload, from);
      return;
    }
    this.#pending.get(message.transactionIdHex)?.(message, data);
  }

  /** Sends a request (signed once authenticated), retransmitting over UDP; resolves with any answer. */
  async #transact(request: Message): Promise<Message> {
    if (this.#auth) {
      request
        .setAttribute('USERNAME', this.#target.username!)
        .setAttribute('REALM', this.#auth.realm)
        .setAttribute('NONCE', this.#auth.nonce)
        .addMessageIntegrity(this.#auth.key)
        .addFingerprint();
    }
    const id = request.transactionIdHex;
    const bytes = request.bytes;
    return new Promise<Message>((resolve, reject) => {
      let retransmit: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(retransmit);
        clearTimeout(deadline);
        this.#pending.delete(id);
        this.#failure = undefined;
      };
      const deadline = setTimeout(() => {
        done();
        reject(new TurnError('timeout', `${this.#where}: no answer in ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#failure = (error) => {
        done();
        reject(error);
      };
      this.#pending.set(id, (answer, raw) => {
        done();
        // A success must carry our signature; an error answer to a badly signed request cannot.
        if (this.#auth && answer.messageClass === werift.classes.RESPONSE && !werift.parseMessage(raw, this.#auth.key)) {
          reject(new TurnError('error', `${this.#where}: an answer without a valid signature`));
          return;
        }
        resolve(answer);
      });
      let interval = 250;
      const send = () => {
        this.#wire?.send(bytes);
        if (this.#target.transport !== 'udp') return;
        retransmit = setTimeout(send, interval);
        interval *= 2;
      };
      send();
    });
  }

  #errorOf(answer: Message): TurnError | undefined {
    if (answer.messageClass !== werift.classes.ERROR) return undefined;
    const [code, text] = (answer.getAttributeValue('ERROR-CODE') as [number, string] | undefined) ?? [0, ''];
    const what = `${this.#where} answered ${code} ${text}`.trim();
    if (code === 401) return new TurnError('unauthorized', `${this.#where} refused the credentials (401 ${text || 'Unauthorized'})`);
    if (code === 403) return new TurnError('forbidden', what);
    if (code === 486 || code === 508) return new TurnError('quota', what);
    return new TurnError('error', what);
  }

  async #allocate(username: string, password: string): Promise<void> {
    const allocateRequest = () =>
      new werift.Message(werift.methods.ALLOCATE, werift.classes.REQUEST)
        .setAttribute('LIFETIME', ALLOCATION_LIFETIME_S)
        .setAttribute('REQUESTED-TRANSPORT', UDP_TRANSPORT);
    let answer = await this.#transact(allocateRequest());
    // An open server allocates at once; otherwise the 401 names the realm and a nonce.
    if (answer.messageClass === werift.classes.ERROR) {
      const [code] = (answer.getAttributeValue('ERROR-CODE') as [number, string] | undefined) ?? [0];
      const realm = answer.getAttributeValue('REALM') as string | undefined;
      const nonce = answer.getAttributeValue('NONCE') as Buffer | undefined;
      if (code !== 401 || realm === undefined || nonce === undefined) throw this.#errorOf(answer)!;
      this.#auth = { realm, nonce, key: werift.makeIntegrityKey(username, realm, password) };
      answer = await this.#transact(allocateRequest());
      const [again] = (answer.getAttributeValue('ERROR-CODE') as [number, string] | undefined) ?? [0];
      if (again === 438) {
        this.#auth.nonce = (answer.getAttributeValue('NONCE') as Buffer | undefined) ?? nonce;
        answer = await this.#transact(allocateRequest());
      }
    }
    const error = this.#errorOf(answer);
    if (error) throw error;
    const relayed = answer.getAttributeValue('XOR-RELAYED-ADDRESS') as Address | undefined;
    if (!relayed) throw new TurnError('error', `${this.#where}: an Allocate answer without a relayed address`);
    this.relayed = `${relayed[0]}:${relayed[1]}`;
  }

  /**
   * Relays a signed Binding request through the allocation to a media server UDP candidate
   * and waits for its signed answer.
   */
  async relayBinding(target: StunTarget, ice: IceCredentials): Promise<StunOutcome> {
    const where = `${target.address}:${target.port}/udp`;
    try {
      const permission = new werift.Message(werift.methods.CREATE_PERMISSION, werift.classes.REQUEST).setAttribute(
        'XOR-PEER-ADDRESS',
        [target.address, target.port],
      );
      const answer = await this.#transact(permission);
      const error = this.#errorOf(answer);
      if (error) {
        const forbidden = error.reason === 'forbidden';
        return {
          ok: false,
          reason: 'rejected',
          message: forbidden ? `the TURN server forbids relaying to ${target.address} (403 Forbidden)` : `CreatePermission for ${target.address}: ${error.message}`,
        };
      }
    } catch (error) {
      const reason = error instanceof TurnError && error.reason === 'timeout' ? 'timeout' : 'error';
      return { ok: false, reason, message: `CreatePermission for ${target.address}: ${(error as Error).message}` };
    }
    const request = bindingRequest(ice);
    const sentAt = performance.now();
    return new Promise<StunOutcome>((resolve) => {
      let retransmit: NodeJS.Timeout | undefined;
      const finish = (outcome: StunOutcome) => {
        clearTimeout(retransmit);
        clearTimeout(deadline);
        this.#dataListeners.delete(listener);
        resolve(outcome);
      };
      const listener = (data: Buffer) => {
        const outcome = readBindingAnswer(data, request, ice.password, sentAt);
        if (outcome) finish(outcome);
      };
      this.#dataListeners.add(listener);
      const deadline = setTimeout(
        () => finish({ ok: false, reason: 'timeout', message: `no answer from ${where} through the relay in ${this.#timeoutMs} ms` }),
        this.#timeoutMs,
      );
      const indication = new werift.Message(werift.methods.SEND, werift.classes.INDICATION, randomBytes(12))
        .setAttribute('XOR-PEER-ADDRESS', [target.address, target.port])
        .setAttribute('DATA', request.bytes).bytes;
      let interval = 250;
      const send = () => {
        this.#wire?.send(indication);
        retransmit = setTimeout(send, interval);
        interval *= 2;
      };
      send();
    });
  }

  /** Gives the allocation back (a Refresh with lifetime 0) and closes the connection. */
  async release(): Promise<void> {
    if (this.#closed) return;
    const refresh = new werift.Message(werift.methods.REFRESH, werift.classes.REQUEST).setAttribute('LIFETIME', 0);
    await this.#transact(refresh).catch(() => undefined);
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wire?.close();
  }
}
