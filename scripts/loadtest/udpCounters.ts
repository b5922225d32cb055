/**
 * The kernel's UDP counters of this machine's network namespace (/proc/net/snmp): datagrams
 * dropped because a socket's receive buffer was full are loss that no server caused.
 */
import { readFileSync } from 'node:fs';

export interface UdpCounters {
  inDatagrams: number;
  inErrors: number;
  rcvbufErrors: number;
}

/** The counters now; undefined where there is no /proc/net/snmp (not Linux). */
export function readUdpCounters(path = '/proc/net/snmp'): UdpCounters | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // Two "Udp:" lines: the field names, then their values.
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Udp:')).map((l) => l.split(/\s+/).slice(1));
  if (!names || !values) return undefined;
  const field = (name: string) => Number(values[names.indexOf(name)] ?? NaN);
  const c = { inDatagrams: field('InDatagrams'), inErrors: field('InErrors'), rcvbufErrors: field('RcvbufErrors') };
  return Object.values(c).every(Number.isFinite) ? c : undefined;
}

export function udpDelta(from: UdpCounters | undefined, to: UdpCounters | undefined): UdpCounters | undefined {
  if (!from || !to) return undefined;
  return { inDatagrams: to.inDatagrams - from.inDatagrams, inErrors: to.inErrors - from.inErrors, rcvbufErrors: to.rcvbufErrors - from.rcvbufErrors };
}
