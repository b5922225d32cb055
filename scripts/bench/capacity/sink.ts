/**
 * The receiving end of every viewer: a UDP port on 127.0.0.1 where nothing listens. The
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

/** One sink port per target measured at the same time ("discard" and the next ones). */
export const SINK_PORTS = [9, 10, 11] as const;
const SINK_DEV = 'capsink0';
/** tc filter priorities of a port's RTCP and RTP counters. */
const prios = (i: number) => ({ rtcp: 10 + 2 * i, rtp: 11 + 2 * i });

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
 * Installs the counting filters on `lo` (for every port of SINK_PORTS) and checks them with
 * a few packets of each kind.
 * `outerNetns` is the namespace of the process that started this one: the filters go in
 * only if this process runs in another, its own.
 */
export async function installSink(outerNetns: string): Promise<void> {
  if (netnsId() === outerNetns) throw new Error('the sink is only installed inside a private network namespace');
  await sh('ip', 'link', 'set', 'lo', 'up');
  await sh('ip', 'link', 'add', SINK_DEV, 'type', 'veth', 'peer', 'name', `${SINK_DEV}p`);
  await sh('ip', 'link', 'set', SINK_DEV, 'up');
  await sh('tc', 'qdisc', 'add', 'dev', 'lo', 'ingress');
  const steal = ['action', 'mirred', 'egress', 'redirect', 'dev', SINK_DEV];
  for (const [i, port] of SINK_PORTS.entries()) {
    const match = ['match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', String(port), '0xffff'];
    const filter = (prio: number) => ['filter', 'add', 'dev', 'lo', 'parent', 'ffff:', 'protocol', 'ip', 'prio', String(prio), 'u32', ...match];
    // Loopback IPv4 carries no options: the UDP payload starts at byte 28, its second byte is 29.
    await sh('tc', ...filter(prios(i).rtcp), 'match', 'u8', '0xc0', '0xe0', 'at', '29', ...steal);
    await sh('tc', ...filter(prios(i).rtp), ...steal);
  }
  for (const port of SINK_PORTS) await selfTest(port);
}

const TcFilters = z.array(
  z.object({
    pref: z.number(),
    options: z.object({ actions: z.array(z.object({ kind: z.string(), stats: z.object({ packets: z.number() }) })).optional() }).optional(),
  }),
);

/** Packets counted so far, by sink port. */
export async function readSink(): Promise<Map<number, SinkCounts>> {
  const filters = TcFilters.parse(JSON.parse(await sh('tc', '-s', '-j', 'filter', 'show', 'dev', 'lo', 'parent', 'ffff:')));
  const count = (pref: number) =>
    filters.filter((f) => f.pref === pref).reduce((a, f) => a + (f.options?.actions ?? []).reduce((b, x) => b + x.stats.packets, 0), 0);
  return new Map(SINK_PORTS.map((port, i) => [port, { rtcp: count(prios(i).rtcp), rtp: count(prios(i).rtp) }]));
}

async function selfTest(port: number): Promise<void> {
  const read = async () => (await readSink()).get(port)!;
  const before = await read();
  const socket = dgram.createSocket('udp4');
  const send = (b: Buffer) => new Promise<void>((resolve, reject) => socket.send(b, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  try {
    for (let i = 0; i < 3; i++) await send(Buffer.from([0x80, 0xe5, 0, i, 0, 0, 0, 0, 0, 0, 0, 1])); // RTP, marker, PT 101
    for (let i = 0; i < 2; i++) await send(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 1])); // RTCP SR
  } finally {
    socket.close();
  }
  const after = await read();
  if (after.rtp - before.rtp !== 3 || after.rtcp - before.rtcp !== 2) {
    throw new Error(`sink self-test, port ${port}: counted ${after.rtp - before.rtp} RTP / ${after.rtcp - before.rtcp} RTCP of 3 / 2`);
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
