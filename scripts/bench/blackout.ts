/**
 * `node --import tsx scripts/bench/blackout.ts [--seconds 5,20,60] [--cases werift,chromium,chromium-udp]`:
 * how long media takes to come back after the network under a call goes dark. Two peers in
 * a room on an in-process server; once media flows both ways, the media path is cut for N
 * seconds with nftables inside a private network namespace (test/support/blackout.ts:
 * packets dropped on arrival, signaling left alone), then let through again. Reported per
 * case and length: for every direction of media (each receiver's audio, and video where
 * there is some) when it first moved again, relative to the end of the blackout (negative:
 * it came back during the blackout, over another path); the ICE restarts the server
 * answered; and whether the peers had to rejoin (they should not).
 *
 * Cases:
 * - werift: two load-tester peers (mediasoup-client on werift), every UDP packet dropped.
 *   werift speaks ICE over UDP only.
 * - chromium: two pages of the built client in Chromium, UDP and the WebRtcServer's TCP
 *   port dropped: the whole media path is down, as on a Wi-Fi switch.
 * - chromium-udp: the same pages, UDP only: ICE may find the server's TCP candidate.
 *
 * Figures only, no assertions; results also go to artifacts/bench/blackout.json. Started
 * outside a private network namespace it starts itself again inside one (root needed), set
 * up as scripts/test.sh sets up the tests' one. About 2 minutes per case with the default
 * lengths.
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { prepareMedia, SyntheticPeer } from '../loadtest/peer/index.js';
import { parsePrometheusText } from '../loadtest/prometheus.js';
import { blackoutUnavailable, startBlackout } from '../../test/support/blackout.js';
import {
  inboundTotals,
  joinByLink,
  launchBrowser,
  newPeer,
  peerConnectionCount,
  startServer,
  waitForMedia,
  type TestServer,
} from '../../test/e2e/harness.js';
import { machineInfo } from './lib/machine.js';
import { log, sleep, writeResult } from './lib/output.js';

const CASES = ['werift', 'chromium', 'chromium-udp'] as const;
type Case = (typeof CASES)[number];
/** How long to wait for media after the blackout before calling it lost. */
const GIVE_UP_MS = 60_000;
const POLL_MS = 50;
/** As scripts/test.sh: loopback, and a default route into a veth pair that ends inside the namespace. */
const NETNS_SETUP =
  'ip link set lo up && ip link add noom0 type veth peer name noom1 && ip addr add 192.0.2.1/32 dev noom0 && ' +
  'ip link set noom1 up && ip link set noom0 up && ip route add default dev noom0';

const program = new Command()
  .name('blackout')
  .option('--seconds <list>', 'blackout lengths, in seconds', '5,20,60')
  .option('--cases <list>', `which peers and what is cut: ${CASES.join(', ')}`, CASES.join(','));
program.parse();
const flags = program.opts<{ seconds: string; cases: string }>();
const lengths = flags.seconds.split(',').map(Number);
const cases = flags.cases.split(',') as Case[];
if (lengths.some((s) => !(s > 0 && s <= 600)) || cases.some((c) => !CASES.includes(c))) {
  program.error(`--seconds takes numbers in (0, 600], --cases some of ${CASES.join(', ')}`);
}

if (blackoutUnavailable() && !process.env.NOOM_BLACKOUT_NETNS) {
  // Run again inside a private network namespace of our own.
  const args = [process.execPath, '--import', 'tsx', ...process.argv.slice(1)];
  const result = spawnSync('unshare', ['-n', '--', 'bash', '-c', `${NETNS_SETUP} && exec "$@"`, '_', ...args], {
    stdio: 'inherit',
    env: { ...process.env, NOOM_BLACKOUT_NETNS: '1' },
  });
  process.exit(result.status ?? 1);
}
const unavailable = blackoutUnavailable();
if (unavailable) {
  log(`blackout: ${unavailable}`);
  process.exit(1);
}

/** A call under test: its receive counters by direction, and what tells a rejoin. */
interface Call {
  /** Cumulative counter per direction, e.g. "Bob ← Ada video". */
  counters(): Promise<Record<string, number>>;
  /** Something that changes if a peer had to rejoin (peer ids, peer connection counts). */
  identity(): Promise<string>;
  tcpPorts: number[];
  close(): Promise<void>;
}

async function rtcTcpPorts(server: TestServer): Promise<number[]> {
  const ports: number[] = [];
  for (const slot of server.noom.pool.slots) for (const tcp of (await slot.webRtcServer.dump()).tcpServers) ports.push(tcp.port);
  return ports;
}

async function weriftCall(server: TestServer): Promise<Call> {
  const ada = await SyntheticPeer.join({ url: server.url, roomId: 'dark', displayName: 'Ada', publish: { audio: true, video: true } });
  const bob = await SyntheticPeer.join({ url: server.url, roomId: 'dark', displayName: 'Bob', publish: { audio: true } });
  await bob.waitForMedia({ consumers: 2, minPackets: 20, timeoutMs: 20_000 });
  await ada.waitForMedia({ consumers: 1, minPackets: 20, timeoutMs: 20_000 });
  const packets = (p: SyntheticPeer, kind: 'audio' | 'video') =>
    p.consumerStats().filter((c) => c.kind === kind).reduce((n, c) => n + c.packets, 0);
  return {
    counters: async () => ({ 'Ada ← Bob audio': packets(ada, 'audio'), 'Bob ← Ada audio': packets(bob, 'audio'), 'Bob ← Ada video': packets(bob, 'video') }),
    identity: async () => JSON.stringify([ada.peerId, bob.peerId, ...[ada, bob].map((p) => p.consumerStats().map((c) => c.consumerId))]),
    tcpPorts: [],
    close: async () => {
      await Promise.all([ada.close(), bob.close()]);
    },
  };
}

async function chromiumCall(server: TestServer, cutTcp: boolean): Promise<Call> {
  const browser = await launchBrowser();
  const pages = [await newPeer(browser, 'Alice'), await newPeer(browser, 'Bob')];
  for (const p of pages) await joinByLink(p, server.url, 'dark');
  for (const p of pages) await waitForMedia(p.page, `${p.name} to receive media`);
  return {
    counters: async () => {
      const out: Record<string, number> = {};
      for (const [i, p] of pages.entries()) {
        const other = pages[1 - i]!.name;
        const t = await inboundTotals(p.page);
        out[`${p.name} ← ${other} audio`] = t.audio.packetsReceived;
        out[`${p.name} ← ${other} video`] = t.video.framesDecoded;
      }
      return out;
    },
    identity: async () => {
      const ids = [...(server.noom.rooms.get('dark')?.peers.keys() ?? [])].sort();
      return JSON.stringify([ids, await Promise.all(pages.map((p) => peerConnectionCount(p.page)))]);
    },
    tcpPorts: cutTcp ? await rtcTcpPorts(server) : [],
    close: () => browser.close(),
  };
}

async function iceRestarts(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return parsePrometheusText(text)
    .filter((s) => s.name === 'noom_requests_total' && s.labels.event === 'transport:restartIce' && s.labels.result === 'ok')
    .reduce((n, s) => n + s.value, 0);
}

interface Outcome {
  case: Case;
  seconds: number;
  /** Per direction: ms from the end of the blackout to the first packet or frame (null: never within GIVE_UP_MS). */
  backMs: Record<string, number | null>;
  /** The slowest direction. */
  allBackMs: number | null;
  iceRestarts: number;
  rejoined: boolean;
}

async function measure(kind: Case, seconds: number): Promise<Outcome> {
  const server = await startServer();
  const call = kind === 'werift' ? await weriftCall(server) : await chromiumCall(server, kind === 'chromium');
  let blackout: ReturnType<typeof startBlackout> | undefined;
  try {
    const identity = await call.identity();
    const restartsBefore = await iceRestarts(server);
    blackout = startBlackout({ tcpPorts: call.tcpPorts });
    const startedAt = performance.now();
    // Whatever was in flight lands within a second; from then on, movement means media is back.
    await sleep(Math.min(1000, seconds * 500));
    const base = await call.counters();
    const backAt: Record<string, number | null> = Object.fromEntries(Object.keys(base).map((k) => [k, null]));
    const watch = async (until: number) => {
      while (performance.now() < until && Object.values(backAt).some((v) => v === null)) {
        const now = await call.counters();
        for (const [k, v] of Object.entries(now)) if (backAt[k] === null && v > base[k]!) backAt[k] = performance.now();
        await sleep(POLL_MS);
      }
    };
    await watch(startedAt + seconds * 1000);
    // Media may have found another path already (ICE over TCP): the blackout still lasts its length.
    await sleep(startedAt + seconds * 1000 - performance.now());
    blackout.end();
    const endedAt = performance.now();
    await watch(endedAt + GIVE_UP_MS);
    const backMs = Object.fromEntries(Object.entries(backAt).map(([k, at]) => [k, at === null ? null : Math.round(at - endedAt)]));
    const values = Object.values(backMs);
    return {
      case: kind,
      seconds,
      backMs,
      allBackMs: values.some((v) => v === null) ? null : Math.max(...(values as number[])),
      iceRestarts: (await iceRestarts(server)) - restartsBefore,
      rejoined: (await call.identity()) !== identity,
    };
  } finally {
    blackout?.end();
    await call.close();
    await server.close();
  }
}

const machine = machineInfo();
log(`machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverage.join(' ')}`);
await prepareMedia();
const outcomes: Outcome[] = [];
for (const kind of cases) {
  for (const seconds of lengths) {
    const o = await measure(kind, seconds);
    outcomes.push(o);
    const directions = Object.entries(o.backMs).map(([k, v]) => `${k} ${v === null ? 'never' : `${v} ms`}`).join(', ');
    log(
      `${kind.padEnd(12)} ${String(seconds).padStart(3)} s blackout: all media back ${o.allBackMs === null ? 'NEVER' : `${o.allBackMs} ms`} after it ended ` +
        `(${directions}); ${o.iceRestarts} ICE restarts; ${o.rejoined ? 'REJOINED' : 'no rejoin'}`,
    );
  }
}
const file = await writeResult('blackout', { machine, outcomes });
log(`(${file})`);
process.exit(0);
