/**
 * The receiving end of every viewer: one UDP port on 127.0.0.1 where nothing listens. The
 * kernel counts what arrives there and drops it at the loopback's ingress, before the IP
 * stack: a tc u32 filter on `lo` matches the port, sorts RTCP (second byte 192–223, RFC
 * 5761) from RTP, and its mirred action steals the packet into a veth whose peer is down,
 * where it is discarded. The action counters are the figures; no process reads a byte, no
 * ICMP "port unreachable" is generated. Linux only, root only, and only inside a private
 * network namespace: the benchmark never touches the host's networking.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);

export const SINK_PORT = 9; // "discard"
const SINK_DEV = 'capsink0';

export interface SinkCounts {
  rtp: number;
  rtcp: number;
}

/** This process's network namespace, e.g. `net:[4026531833]`. */
export function netnsId(): string {
  return readlinkSync('/proc/self/ns/net');
}

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { timeout: 10_000 });
  return stdout;
}

/**
 * Installs the counting filters on `lo` and checks them with a few packets of each kind.
 * `outerNetns` is the namespace of the process that started this one: the filters go in
 * only if this process runs in another, its own.
 */
export async function installSink(outerNetns: string): Promise<void> {
  if (netnsId() === outerNetns) throw new Error('the sink is only installed inside a private network namespace');
  await sh('ip', 'link', 'set', 'lo', 'up');
  await sh('ip', 'link', 'add', SINK_DEV, 'type', 'veth', 'peer', 'name', `${SINK_DEV}p`);
  await sh('ip', 'link', 'set', SINK_DEV, 'up');
  await sh('tc', 'qdisc', 'add', 'dev', 'lo', 'ingress');
  const match = ['match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', String(SINK_PORT), '0xffff'];
  const steal = ['action', 'mirred', 'egress', 'redirect', 'dev', SINK_DEV];
  // Loopback IPv4 carries no options: the UDP payload starts at byte 28, its second byte is 29.
  await sh('tc', 'filter', 'add', 'dev', 'lo', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32', ...match, 'match', 'u8', '0xc0', '0xe0', 'at', '29', ...steal);
  await sh('tc', 'filter', 'add', 'dev', 'lo', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '2', 'u32', ...match, ...steal);
  await selfTest();
}

const TcFilters = z.array(
  z.object({
    pref: z.number(),
    options: z.object({ actions: z.array(z.object({ kind: z.string(), stats: z.object({ packets: z.number() }) })).optional() }).optional(),
  }),
);

export async function readSink(): Promise<SinkCounts> {
  const filters = TcFilters.parse(JSON.parse(await sh('tc', '-s', '-j', 'filter', 'show', 'dev', 'lo', 'parent', 'ffff:')));
  const count = (pref: number) =>
    filters.filter((f) => f.pref === pref).reduce((a, f) => a + (f.options?.actions ?? []).reduce((b, x) => b + x.stats.packets, 0), 0);
  return { rtcp: count(1), rtp: count(2) };
}

async function selfTest(): Promise<void> {
  const before = await readSink();
  const socket = dgram.createSocket('udp4');
  const send = (b: Buffer) => new Promise<void>((resolve, reject) => socket.send(b, SINK_PORT, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  try {
    for (let i = 0; i < 3; i++) await send(Buffer.from([0x80, 0xe5, 0, i, 0, 0, 0, 0, 0, 0, 0, 1])); // RTP, marker, PT 101
    for (let i = 0; i < 2; i++) await send(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 1])); // RTCP SR
  } finally {
    socket.close();
  }
  const after = await readSink();
  if (after.rtp - before.rtp !== 3 || after.rtcp - before.rtcp !== 2) {
    throw new Error(`sink self-test: counted ${after.rtp - before.rtp} RTP / ${after.rtcp - before.rtcp} RTCP of 3 / 2`);
  }
}

/** UDP counters of this network namespace (/proc/net/snmp): drops at the workers' and the sender's sockets. */
export function udpCounters(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp: '));
  const names = lines[0]?.split(/\s+/).slice(1) ?? [];
  const values = lines[1]?.split(/\s+/).slice(1).map(Number) ?? [];
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? NaN]));
}
