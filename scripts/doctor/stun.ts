/**
 * ICE connectivity checks against mediasoup's WebRtcServer ports. mediasoup is ICE-lite:
 * it answers only a Binding request whose USERNAME starts with a transport's ICE username
 * fragment and whose MESSAGE-INTEGRITY is keyed with that transport's ICE password (the
 * same check a browser's first packet passes). The answer is signed the same way, so a
 * valid one proves that this very server holds the port. Over TCP every STUN message is
 * framed with a 2-byte length (RFC 4571), as ICE-TCP does.
 *
 * Messages are built and parsed with werift's STUN code (the synthetic peers' WebRTC stack).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { werift } from '../loadtest/peer/werift.js';

export interface IceCredentials {
  usernameFragment: string;
  password: string;
}

export interface StunTarget {
  address: string;
  port: number;
  protocol: 'udp' | 'tcp';
}

export type StunFailure = 'timeout' | 'refused' | 'unauthenticated' | 'rejected' | 'error';

export type StunOutcome =
  | { ok: true; rttMs: number; mapped?: string }
  | { ok: false; reason: StunFailure; message: string };

type Message = InstanceType<typeof werift.Message>;

/** The client's half of the ICE username; any value works with an ICE-lite server. */
const LOCAL_UFRAG = 'noomdoctor';
/** A peer-reflexive candidate's priority, as a browser would send it (RFC 8445 §5.1.2). */
const PRIORITY = 0x6e_00_01_ff;

/** A Binding request as the controlling agent of a connectivity check would send it. */
export function bindingRequest(ice: IceCredentials): Message {
  return new werift.Message(werift.methods.BINDING, werift.classes.REQUEST)
    .setAttribute('USERNAME', `${ice.usernameFragment}:${LOCAL_UFRAG}`)
    .setAttribute('PRIORITY', PRIORITY)
    .setAttribute('ICE-CONTROLLING', randomBytes(8).readBigUInt64BE())
    .addMessageIntegrity(Buffer.from(ice.password, 'utf8'))
    .addFingerprint();
}

/**
 * The answer to `request` in `data`, if it is one: `undefined` for anything else (another
 * transaction, not STUN), so that the caller keeps waiting.
 */
export function readBindingAnswer(data: Buffer, request: Message, password: string, sentAt: number): StunOutcome | undefined {
  const plain = werift.parseMessage(data);
  if (!plain || !plain.transactionId.equals(request.transactionId)) return undefined;
  const signed = werift.parseMessage(data, Buffer.from(password, 'utf8'));
  if (!signed) {
    return { ok: false, reason: 'unauthenticated', message: 'answered without a valid signature of this transport: another program holds the port' };
  }
  if (signed.messageClass === werift.classes.ERROR) {
    const error = signed.getAttributeValue('ERROR-CODE') as [number, string] | undefined;
    return { ok: false, reason: 'rejected', message: `refused the check with STUN error ${error?.[0] ?? '?'} ${error?.[1] ?? ''}`.trim() };
  }
  if (signed.messageClass !== werift.classes.RESPONSE) return undefined;
  const mapped = signed.getAttributeValue('XOR-MAPPED-ADDRESS') as [string, number] | undefined;
  return { ok: true, rttMs: Math.round((performance.now() - sentAt) * 10) / 10, ...(mapped ? { mapped: `${mapped[0]}:${mapped[1]}` } : {}) };
}

function errorOutcome(error: NodeJS.ErrnoException, target: StunTarget): StunOutcome {
  const where = `${target.address}:${target.port}/${target.protocol}`;
  if (error.code === 'ECONNREFUSED') return { ok: false, reason: 'refused', message: `${where}: connection refused (nothing listens there)` };
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') {
    return { ok: false, reason: 'timeout', message: `${where}: no route to ${target.address} (${error.code})` };
  }
  return { ok: false, reason: 'error', message: `${where}: ${error.code ?? error.message}` };
}

/** One connectivity check over UDP, retransmitted (250 ms, then doubling) until `timeoutMs`. */
function checkUdp(target: StunTarget, ice: IceCredentials, timeoutMs: number): Promise<StunOutcome> {
  const socket = dgram.createSocket(net.isIPv6(target.address) ? 'udp6' : 'udp4');
  const request = bindingRequest(ice);
  const bytes = request.bytes;
  const sentAt = performance.now();
  return new Promise<StunOutcome>((resolve) => {
    let retransmit: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (outcome: StunOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(retransmit);
      clearTimeout(deadline);
      socket.close();
      resolve(outcome);
    };
    const deadline = setTimeout(
      () => finish({ ok: false, reason: 'timeout', message: `${target.address}:${target.port}/udp: no answer in ${timeoutMs} ms` }),
      timeoutMs,
    );
    let interval = 250;
    const send = () => {
      socket.send(bytes);
      retransmit = setTimeout(send, interval);
      interval *= 2;
    };
    // A connected socket hears the ICMP "port unreachable" a closed port answers with.
    socket.on('error', (error) => finish(errorOutcome(error, target)));
    socket.on('message', (data) => {
      const outcome = readBindingAnswer(data, request, ice.password, sentAt);
      if (outcome) finish(outcome);
    });
    socket.connect(target.port, target.address, send);
  });
}

/** One connectivity check over TCP (RFC 4571 framing); reliable, so sent once. */
function checkTcp(target: StunTarget, ice: IceCredentials, timeoutMs: number): Promise<StunOutcome> {
  const request = bindingRequest(ice);
  const sentAt = performance.now();
  return new Promise<StunOutcome>((resolve) => {
    const socket = net.connect({ host: target.address, port: target.port });
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: StunOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(outcome);
    };
    const deadline = setTimeout(
      () => finish({ ok: false, reason: 'timeout', message: `${target.address}:${target.port}/tcp: no answer in ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('error', (error) => finish(errorOutcome(error, target)));
    socket.on('connect', () => socket.write(werift.encodeTcpFrame(request.bytes)));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const { frames, rest } = werift.splitTcpFrames(buffered);
      buffered = rest;
      for (const frame of frames) {
        const outcome = readBindingAnswer(frame, request, ice.password, sentAt);
        if (outcome) return finish(outcome);
      }
    });
    socket.on('close', () => finish({ ok: false, reason: 'error', message: `${target.address}:${target.port}/tcp: closed without an answer` }));
  });
}

/** Sends a signed Binding request to one ICE candidate and waits for its signed answer. */
export function checkCandidate(target: StunTarget, ice: IceCredentials, timeoutMs: number): Promise<StunOutcome> {
  return target.protocol === 'udp' ? checkUdp(target, ice, timeoutMs) : checkTcp(target, ice, timeoutMs);
}
