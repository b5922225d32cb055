/**
 * Announced IP: the address in the server's ICE candidates (ANNOUNCED_IP) is where every
 * client sends its media. On the server host it must be one of the host's own addresses,
 * or a public address whose NAT forwards the RTC ports here (then those ports answer
 * through it); seen from elsewhere, it must at least not be private or loopback while the
 * server's URL is public.
 */
import { addressKind, KIND_WORDS, sameAddress } from '../addresses.js';
import { fail, pass, warn, type CheckStatus, type Outcome } from '../report.js';

export interface AnnouncedIpFacts {
  /** Distinct addresses of the server's ICE candidates. */
  announced: string[];
  urlHost: string;
  /** What the URL's host name resolves to. */
  urlAddresses: string[];
  /** This host's interface addresses. */
  hostAddresses: string[];
  /** Whether a signed STUN check reached the RTC ports at this address (UDP or TCP). */
  reached(address: string): boolean;
}

interface Verdict {
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** The host's addresses worth naming: link-local ones are noise in a message. */
const shown = (addresses: string[]) => addresses.filter((a) => addressKind(a) !== 'link-local').join(', ');

const RANK: Record<CheckStatus, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };

/** The doctor runs where the server does: the URL leads to this host. */
export function onServerHost(f: Pick<AnnouncedIpFacts, 'urlAddresses' | 'hostAddresses'>): boolean {
  return f.urlAddresses.some((a) => addressKind(a) === 'loopback' || f.hostAddresses.some((h) => sameAddress(h, a)));
}

function judge(ip: string, f: AnnouncedIpFacts): Verdict {
  const kind = addressKind(ip);
  const urlLoopback = f.urlAddresses.length > 0 && f.urlAddresses.every((a) => addressKind(a) === 'loopback');
  const urlPublic = f.urlAddresses.find((a) => addressKind(a) === 'public');
  const set = 'set ANNOUNCED_IP to the address clients reach the server at';
  if (kind === 'unspecified') return { status: 'fail', detail: `${ip} is ${KIND_WORDS[kind]}`, fix: set };
  if (kind === 'loopback' && !urlLoopback) {
    return { status: 'fail', detail: `${ip} is ${KIND_WORDS[kind]}, but clients come through ${f.urlHost}`, fix: set };
  }
  if (urlPublic && kind !== 'public') {
    return {
      status: 'fail',
      detail: `${ip} is ${KIND_WORDS[kind]}, but the server's URL is public (${f.urlHost} is ${urlPublic})`,
      fix: `set ANNOUNCED_IP to the server's public address and forward the RTC ports (UDP and TCP) to this host`,
    };
  }
  if (onServerHost(f)) {
    if (f.hostAddresses.some((h) => sameAddress(h, ip))) {
      const local = kind === 'loopback' ? ' (only this machine reaches it: fine for local use)' : '';
      return { status: 'pass', detail: `${ip} is an address of this host${local}` };
    }
    if (f.reached(ip)) return { status: 'pass', detail: `${ip} is not an address of this host, but its RTC ports answer there: it is forwarded here` };
    return {
      status: 'fail',
      detail: `${ip} is not an address of this host (${shown(f.hostAddresses)}) and its RTC ports do not answer there`,
      fix: `set ANNOUNCED_IP to this host's address that clients reach, or to the public address of a NAT that forwards the RTC ports here`,
    };
  }
  if (f.reached(ip)) return { status: 'pass', detail: `${ip} (${KIND_WORDS[kind]}) answers on its RTC ports` };
  if (kind === 'documentation') return { status: 'fail', detail: `${ip} is ${KIND_WORDS[kind]}`, fix: set };
  return {
    status: 'warn',
    detail: `cannot tell from here whether ${ip} is the server's: its RTC ports did not answer`,
    fix: `run the doctor on the server itself, which compares ANNOUNCED_IP with the host's addresses`,
  };
}

export function assessAnnouncedIp(f: AnnouncedIpFacts): Outcome {
  const verdicts = f.announced.map((ip) => judge(ip, f));
  const worst = verdicts.reduce<Verdict | undefined>((w, v) => (!w || RANK[v.status] > RANK[w.status] ? v : w), undefined);
  const data = { announced: f.announced, hostAddresses: f.hostAddresses, serverHost: onServerHost(f) };
  if (!worst) return fail('the server gave no ICE candidate', 'see the server log: its WebRtcServer has no listening address', data);
  const detail = verdicts.map((v) => v.detail).join('; ');
  if (worst.status === 'fail') return fail(detail, worst.fix!, data);
  if (worst.status === 'warn') return warn(detail, worst.fix!, data);
  return pass(detail, data);
}
