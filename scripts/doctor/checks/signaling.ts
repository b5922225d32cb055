/**
 * WebSocket: Socket.IO over WebSocket, as the browser client connects, then a join into a
 * private, password-locked room of the doctor's own and a receive transport in it, whose
 * ICE parameters and candidates the media checks use. The join answer also carries the
 * ICE (TURN) servers clients are given.
 */
import { randomBytes } from 'node:crypto';
import { request, RequestError } from '../../../protocol/index.js';
import { connectSocket, type ProtocolSocket } from '../../loadtest/peer/signaling.js';
import { firstIssue, JoinAnswer, TransportAnswer, type IceServerAnswer } from '../answers.js';
import { fail, pass, type Outcome } from '../report.js';

export interface Probe {
  socket: ProtocolSocket;
  roomId: string;
  password: string;
  iceServers: IceServerAnswer[];
  transport: TransportAnswer;
  close(): void;
}

export interface SignalingOutcome {
  outcome: Outcome;
  probe?: Probe;
}

const PROXY_FIX = 'a proxy in front of Noom must pass WebSocket upgrades on /socket.io/ (the Upgrade and Connection headers)';

function requestFailure(step: string, error: unknown): Outcome {
  if (error instanceof RequestError) {
    const fix =
      error.code === 'TIMEOUT'
        ? 'the server does not answer requests: see its log'
        : error.code === 'INVALID_STATE'
          ? 'the node is not taking joins now (starting, draining, or cut off from Redis): retry, or see its log'
          : `see the server log for the ${error.code} answer`;
    return fail(`${step}: ${error.code}: ${error.reason}`, fix);
  }
  return fail(`${step}: ${(error as Error).message}`, 'see the server log');
}

export async function openProbe(origin: string, timeoutMs: number): Promise<SignalingOutcome> {
  const started = performance.now();
  let socket: ProtocolSocket;
  try {
    socket = await connectSocket(origin, timeoutMs);
  } catch (error) {
    return { outcome: fail(`Socket.IO over WebSocket failed: ${(error as Error).message}`, PROXY_FIX) };
  }
  const connectedMs = Math.round(performance.now() - started);
  const roomId = `doctor-${randomBytes(6).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  try {
    const joined = JoinAnswer.safeParse(
      await request(socket, 'room:join', { roomId, displayName: 'Noom doctor', password, public: false }, timeoutMs),
    );
    if (!joined.success) {
      socket.disconnect();
      return { outcome: fail(`the room:join answer is malformed (${firstIssue(joined.error)})`, 'run the doctor of the same Noom version as the server') };
    }
    const created = TransportAnswer.safeParse(await request(socket, 'transport:create', { direction: 'recv' }, timeoutMs));
    if (!created.success) {
      socket.disconnect();
      return { outcome: fail(`the transport:create answer is malformed (${firstIssue(created.error)})`, 'run the doctor of the same Noom version as the server') };
    }
    const probe: Probe = {
      socket,
      roomId,
      password,
      iceServers: joined.data.iceServers,
      transport: created.data,
      close: () => socket.disconnect(),
    };
    const candidates = created.data.iceCandidates.map((c) => `${c.address}:${c.port}/${c.protocol}`);
    return {
      outcome: pass(`connected over WebSocket in ${connectedMs} ms, joined a private test room, got ICE candidates ${candidates.join(', ')}`, {
        connectMs: connectedMs,
        candidates,
      }),
      probe,
    };
  } catch (error) {
    socket.disconnect();
    return { outcome: requestFailure('joining a test room', error) };
  }
}
