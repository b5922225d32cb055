/**
 * TURN allocation and relay: every TURN URL of the join answer allocates a relay with the
 * credentials the answer carries, and a STUN Binding relayed through it reaches the media
 * server's UDP port (coturn refuses private and loopback peers unless told otherwise).
 */
import type { IceServerAnswer } from '../answers.js';
import { fail, pass, skip, type Outcome } from '../report.js';
import type { IceCredentials, StunTarget } from '../stun.js';
import { TurnError, TurnSession, turnTargets, type TurnFailure, type TurnTarget } from '../turn.js';

const NO_TURN =
  'no TURN server in the join answer (TURN_URLS and TURN_SECRET, or ICE_SERVERS): users whose network blocks UDP and the RTC ports cannot connect';

function allocationFix(reason: TurnFailure, target: TurnTarget): string {
  switch (reason) {
    case 'unauthorized':
      return `the TURN server refused the issued credentials: TURN_SECRET must equal coturn's static-auth-secret (use-auth-secret), and both clocks must be right`;
    case 'forbidden':
      return `the TURN server forbids this client: check coturn's denied-peer-ip and user settings`;
    case 'quota':
      return `raise coturn's user-quota / total-quota, or add TURN capacity`;
    case 'refused':
      return `start the TURN server on ${target.host}:${target.port} or fix that URL in TURN_URLS`;
    case 'tls':
      return `give the TURN server a valid certificate for ${target.host} (coturn's cert and pkey)`;
    case 'timeout':
      return `start the TURN server and let ${target.transport === 'udp' ? 'UDP' : 'TCP'} port ${target.port} through the firewall to it`;
    default:
      return `check the TURN server at ${target.host}:${target.port} and its log`;
  }
}

/** `expiry:peerId` (coturn's REST scheme): seconds until the credential expires, if it is one. */
function secondsValid(username: string | undefined): number | undefined {
  const m = /^(\d{9,12}):/.exec(username ?? '');
  return m ? Number(m[1]) - Math.floor(Date.now() / 1000) : undefined;
}

export interface TurnOutcomes {
  turn: Outcome;
  relay: Outcome;
}

export async function checkTurn(
  iceServers: IceServerAnswer[],
  media: StunTarget | undefined,
  ice: IceCredentials,
  timeoutMs: number,
): Promise<TurnOutcomes> {
  const { targets, invalid } = turnTargets(iceServers);
  if (invalid.length > 0) {
    const bad = fail(`not a TURN URL: ${invalid.join(', ')}`, `write TURN URLs as turn:host:port?transport=udp|tcp or turns:host:port`);
    return { turn: bad, relay: skip('needs a valid TURN URL') };
  }
  if (targets.length === 0) return { turn: skip(NO_TURN), relay: skip('no TURN server configured') };

  const sessions: [TurnTarget, TurnSession][] = [];
  try {
    for (const target of targets) {
      try {
        sessions.push([target, await TurnSession.allocate(target, timeoutMs)]);
      } catch (error) {
        const e = error instanceof TurnError ? error : new TurnError('error', (error as Error).message);
        return {
          turn: fail(`${target.url}: ${e.message}`, allocationFix(e.reason, target), { url: target.url, reason: e.reason }),
          relay: skip('needs a TURN allocation'),
        };
      }
    }
    const validity = secondsValid(targets[0]!.username);
    const turn = pass(
      `${sessions.map(([t, s]) => `${t.url} allocated ${s.relayed}`).join('; ')} with the issued credentials` +
        (validity !== undefined ? ` (valid for ${Math.round(validity / 60)} more minutes)` : ''),
      { urls: targets.map((t) => t.url), relayed: sessions.map(([, s]) => s.relayed ?? '') },
    );
    if (!media) return { turn, relay: skip('the server offers no UDP candidate to relay to') };
    for (const [target, session] of sessions) {
      const relayed = await session.relayBinding(media, ice);
      if (!relayed.ok) {
        const fix =
          relayed.reason === 'rejected'
            ? `allow the media server's address in coturn (allowed-peer-ip=${media.address}; loopback needs allow-loopback-peers): it refuses private and loopback peers by default`
            : `let the TURN server reach ${media.address}:${media.port}/udp (ANNOUNCED_IP must be an address the TURN server can reach)`;
        return { turn, relay: fail(`${target.url}: ${relayed.message}`, fix, { url: target.url, reason: relayed.reason }) };
      }
    }
    return {
      turn,
      relay: pass(`a STUN binding relayed through ${sessions.length === 1 ? 'the TURN server' : `each of ${sessions.length} TURN URLs`} reached the media server at ${media.address}:${media.port}/udp`),
    };
  } finally {
    await Promise.all(sessions.map(([, s]) => s.release()));
  }
}
