/**
 * Cluster mode (REDIS_URL): what spreading one room over two Noom nodes costs and buys, each
 * figure beside its baseline from the same run. A private redis-server
 * (scripts/cluster/redisServer.ts) and Noom nodes, each in its own process with one worker
 * (serverProcess.ts, REDIS_URL and NODE_ID set):
 * 1. chat fan-out in one room of 1,000 Socket.IO clients, all on node A vs alternating
 *    between A and B; the senders are on A, every member of a room in one client process,
 *    so that send and receipt are read from one clock; rounds alternate the setups;
 * 2. room:join → first RTP for a newcomer on the publisher's node vs on the other node
 *    (whose share imports the producers through a fresh SRTP pipe), joins alternating;
 * 3. CPU per forwarded stream when every stream crosses a pipe (publishers on A, viewers on
 *    B) vs the same room on one node (C, configured like A), both rooms live at once and
 *    measured in the same windows, every server process bound to one CPU;
 * 4. viewers one room carries on one node vs over two (capacity/cluster.ts, in a private
 *    network namespace: kernel-counted PlainTransport viewers, needs root).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, redisServer, type RedisServer } from '../../cluster/redisServer.js';
import { BotFleet, receiveTotals } from '../bots/fleet.js';
import type { StatsResult } from '../bots/messages.js';
import { runInNetns } from '../capacity/netns.js';
import { pin } from '../capacity/ramp.js';
import { ask, startChatClients, stopChatClients } from '../chat/clients.js';
import { cpuMeter } from '../lib/procCpu.js';
import { log, sleep } from '../lib/output.js';
import { fillRoom, waitForReceiving } from '../lib/room.js';
import { startServer, type ServerProcess } from '../lib/serverProcess.js';
import { distribution, fmt, formatMs, median, round, spreadOf, type Distribution } from '../lib/stats.js';
import { alternatingJoins } from './joinFirstRtp.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

const CAPACITY_ENTRY = fileURLToPath(new URL('../capacity/cluster.ts', import.meta.url));

/** Every node: one worker (two nodes on two cores), rooms of 1,000, shares that outlive a quiet moment. */
const NODE_ENV = { WORKERS: '1', MAX_PEERS_PER_ROOM: '2000', ROOM_GRACE_MS: '30000' };

interface Part {
  summary: string[];
  data: unknown;
}

interface ChatWindow {
  setup: string;
  round: number;
  sent: number;
  expected: number;
  delivered: number;
  sendFailures: string[];
  all: Distribution;
  /** By the receiver's node (0: the senders' node A). */
  byNode: Distribution[];
  /** Each process's CPU over the chat command (its 2 s tail included), % of one core. */
  cpuPercent: { a: number; b: number; redis: number };
  samples: number[];
}

interface CpuWindow {
  setup: string;
  round: number;
  /** Open consumers on the bots, i.e. forwarded streams. */
  streams: number;
  seconds: number;
  packetsPerSecond: number;
  lossPercent: number;
  /** The setup's server processes (Node + workers), as a share of one core. */
  coreShare: number;
  workersCoreShare: number;
  percentPerStream: number;
  workersPercentPerStream: number;
  workersMicrosPerPacket: number;
}

/** Starts nodes one after the other and waits until each has seen every other join. */
async function startNodes(redisUrl: string, ids: readonly string[]): Promise<ServerProcess[]> {
  const nodes: ServerProcess[] = [];
  try {
    for (const id of ids) nodes.push(await startServer('noom', `cluster-${id}`, { ...NODE_ENV, REDIS_URL: redisUrl, NODE_ID: id }));
    const deadline = performance.now() + 15_000;
    const seen = (n: ServerProcess, id: string) =>
      readFileSync(n.logFile, 'utf8')
        .split('\n')
        .some((l) => (l.includes('"node up"') && l.includes(`"node":"${id}"`)) || (l.includes('"joined the cluster"') && l.includes(`"${id}"`)));
    while (!nodes.every((n, i) => ids.every((id, j) => i === j || seen(n, id)))) {
      if (performance.now() > deadline) throw new Error('the cluster nodes did not see each other in 15 s');
      await sleep(100);
    }
    return nodes;
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}

/** (1) Chat fan-out in one big room: one node vs two. */
async function chatFanout(o: SuiteOptions, a: ServerProcess, b: ServerProcess, redis: RedisServer): Promise<Part> {
  const members = o.quick ? 100 : scaled(1000, o, 10);
  const rounds = o.quick ? 1 : 3;
  const durationMs = o.quick ? 4_000 : 10_000;
  const intervalMs = 200;
  const setups = [
    { key: 'one', label: 'all on node A', urls: [a.url] },
    { key: 'two', label: 'alternating over A and B', urls: [a.url, b.url] },
  ];
  log(`cluster chat: one room of ${members} clients per setup, ${1000 / intervalMs} msg/s for ${durationMs / 1000} s, senders on node A, ${rounds} round(s)`);
  const children = await startChatClients(setups.length);
  try {
    const joins = [];
    for (const [i, s] of setups.entries()) {
      const t0 = performance.now();
      const c = await ask(children[i]!, { cmd: 'connect', urls: s.urls, rooms: [`fanout-${s.key}`], membersPerRoom: members, concurrency: 10 }, 'connected', 600_000);
      joins.push({ setup: s.key, sockets: c.sockets, seconds: round((performance.now() - t0) / 1000, 1), joinMs: distribution(c.joinMs), failed: c.failed });
      log(`  ${s.label}: ${c.sockets}/${members} joined in ${round((performance.now() - t0) / 1000, 1)} s; connect + join ${formatMs(distribution(c.joinMs))}`);
    }
    const windows: ChatWindow[] = [];
    for (let r = 1; r <= rounds; r++) {
      for (const i of r % 2 === 1 ? [0, 1] : [1, 0]) {
        const s = setups[i]!;
        const meters = [a.pid, b.pid, redis.process?.pid ?? 0].map((pid) => cpuMeter(pid ? [pid] : []));
        const res = await ask(children[i]!, { cmd: 'chat', durationMs, intervalMs }, 'chatDone', durationMs + 60_000);
        const [cpuA = NaN, cpuB = NaN, cpuRedis = NaN] = meters.map((m) => round(100 * m.stop().coreShare, 1));
        const all = distribution(res.latencies);
        windows.push({
          setup: s.key,
          round: r,
          sent: res.sent,
          expected: res.expected,
          delivered: res.latencies.length,
          sendFailures: res.sendFailures,
          all,
          byNode: res.byNode.map((l) => distribution(l)),
          cpuPercent: { a: cpuA, b: cpuB, redis: cpuRedis },
          samples: res.latencies,
        });
        log(`  round ${r}, ${s.label}: ${formatMs(all)}; ${res.latencies.length}/${res.expected} delivered; CPU node A ${cpuA} %, node B ${cpuB} %, Redis ${cpuRedis} %`);
      }
    }
    const of = (key: string) => windows.filter((w) => w.setup === key);
    const pooled = (key: string) => distribution(of(key).flatMap((w) => w.samples));
    const one = pooled('one');
    const two = pooled('two');
    const ratio = (f: (d: Distribution) => number | undefined) => of('two').map((w, i) => (f(w.all) ?? NaN) / (f(of('one')[i]!.all) ?? NaN));
    const p50s = spreadOf(ratio((d) => d.p50));
    const p99s = spreadOf(ratio((d) => d.p99));
    const nodeSplit = [0, 1].map((n) => median(of('two').map((w) => w.byNode[n]?.p50 ?? NaN)));
    const nodeSplit99 = [0, 1].map((n) => median(of('two').map((w) => w.byNode[n]?.p99 ?? NaN)));
    const cpu = (key: string, node: 'a' | 'b' | 'redis') => median(of(key).map((w) => w.cpuPercent[node]));
    const delivered = (key: string) => `${of(key).reduce((n, w) => n + w.delivered, 0)}/${of(key).reduce((n, w) => n + w.expected, 0)}`;
    return {
      summary: [
        `chat fan-out, one room of ${members} clients, ${1000 / intervalMs} msg/s from senders on node A, ${rounds} round(s) of ${durationMs / 1000} s: ` +
          `all on node A p50 ${one.p50} / p99 ${one.p99} ms (${delivered('one')} delivered); alternating over A and B p50 ${two.p50} / p99 ${two.p99} ms (${delivered('two')}); ` +
          `two nodes / one, same round: p50 ${round(p50s.median, 2)}× (rounds ${fmt(ratio((d) => d.p50), 2)}), p99 ${round(p99s.median, 2)}× (rounds ${fmt(ratio((d) => d.p99), 2)})`,
        `chat over two nodes by the receiver's node (medians of rounds): on the sender's node p50 ${nodeSplit[0]} / p99 ${nodeSplit99[0]} ms, on the other node p50 ${nodeSplit[1]} / p99 ${nodeSplit99[1]} ms; ` +
          `CPU while chatting (% of a core): one node A ${cpu('one', 'a')}, Redis ${cpu('one', 'redis')}; two nodes A ${cpu('two', 'a')} + B ${cpu('two', 'b')}, Redis ${cpu('two', 'redis')}`,
      ],
      data: { members, rounds, durationMs, intervalMs, joins, pooled: { one, two }, windows: windows.map(({ samples: _s, ...w }) => w) },
    };
  } finally {
    await stopChatClients(children);
  }
}

/** (2) room:join → first RTP with the publisher on the newcomer's node vs on the other node. */
async function crossNodeJoin(o: SuiteOptions, a: ServerProcess, b: ServerProcess): Promise<Part> {
  const joins = o.quick ? 5 : 20;
  const roomId = `cluster-join-${Date.now()}`;
  const setups = [
    { key: 'same', label: "on the publisher's node", url: a.url },
    { key: 'other', label: 'on the other node', url: b.url },
  ];
  const d = await alternatingJoins(
    roomId,
    [a.url],
    setups.map((s) => s.url),
    joins,
  );
  for (const [k, s] of setups.entries()) log(`cluster join: newcomer ${s.label}: first RTP ${formatMs(d[k]!.any)}`);
  const [same, other] = d as [(typeof d)[number], (typeof d)[number]];
  const cost = round((other.any.p50 ?? NaN) - (same.any.p50 ?? NaN));
  return {
    summary: [
      `${joins} joins each, alternating, one audio + video publisher on node A: room:join → first RTP median ${same.any.p50} ms (p95 ${same.any.p95}) for a newcomer on node A vs ` +
        `${other.any.p50} ms (p95 ${other.any.p95}) on node B, through a fresh pipe between the nodes (+${cost} ms; audio ${same.audio.p50} → ${other.audio.p50} ms, video ${same.video.p50} → ${other.video.p50} ms)`,
    ],
    data: { joins, setups: setups.map((s, k) => ({ ...s, ...d[k] })), crossNodeCostMsAtMedian: cost },
  };
}

/** Receive totals of one room's peers. */
const inRoom = (stats: readonly StatsResult[], roomId: string) => receiveTotals(stats.map((s) => ({ ...s, peers: s.peers.filter((p) => p.roomId === roomId) })));

/** (3) CPU per forwarded stream: every stream through a pipe between two nodes vs one node. */
async function pipedCpu(o: SuiteOptions, a: ServerProcess, b: ServerProcess, c: ServerProcess): Promise<Part> {
  const shape = { publishers: 2, subscribers: o.quick ? 3 : scaled(20, o) };
  const rounds = o.quick ? 1 : 3;
  const windowMs = o.quick ? 5_000 : 15_000;
  const streams = shape.publishers * 2 * shape.subscribers;
  const cpu = os.availableParallelism() - 1;
  const setups = [
    { key: 'piped', label: 'publishers on A, viewers on B', servers: [a, b] },
    { key: 'direct', label: 'publishers and viewers on C', servers: [c] },
  ];
  log(`cluster CPU: ${shape.publishers} publishers × ${shape.subscribers} viewers = ${streams} streams per room, both rooms at once, servers on CPU ${cpu}, ${rounds} window(s) of ${windowMs / 1000} s`);
  const fleet = await BotFleet.start(o.botProcesses);
  try {
    await fillRoom(fleet, a.url, 'piped', shape, b.url);
    await fillRoom(fleet, c.url, 'direct', shape);
    await waitForReceiving(fleet, 2 * streams, 60_000);
    for (const s of [a, b, c]) for (const pid of [s.pid, ...s.workerPids]) await pin(pid, cpu);
    await sleep(o.quick ? 2_000 : 5_000);
    const windows: CpuWindow[] = [];
    for (let r = 1; r <= rounds; r++) {
      const rx0 = await fleet.stats();
      const meters = setups.map((s) => ({ all: cpuMeter(s.servers.flatMap((x) => [x.pid, ...x.workerPids])), workers: cpuMeter(s.servers.flatMap((x) => x.workerPids)) }));
      await sleep(windowMs);
      const used = meters.map((m) => ({ all: m.all.stop(), workers: m.workers.stop() }));
      const rx1 = await fleet.stats();
      for (const [k, s] of setups.entries()) {
        const t0 = inRoom(rx0, s.key);
        const t1 = inRoom(rx1, s.key);
        const packets = t1.packets - t0.packets;
        const u = used[k]!;
        const w: CpuWindow = {
          setup: s.key,
          round: r,
          streams: t1.consumers,
          seconds: round(u.all.seconds, 2),
          packetsPerSecond: round(packets / u.all.seconds, 0),
          lossPercent: round((100 * (t1.lost - t0.lost)) / Math.max(1, packets + t1.lost - t0.lost), 3),
          coreShare: round(u.all.coreShare, 4),
          workersCoreShare: round(u.workers.coreShare, 4),
          percentPerStream: round((100 * u.all.coreShare) / Math.max(1, t1.consumers), 4),
          workersPercentPerStream: round((100 * u.workers.coreShare) / Math.max(1, t1.consumers), 4),
          workersMicrosPerPacket: round((1e6 * u.workers.cpuSeconds) / Math.max(1, packets), 2),
        };
        windows.push(w);
        log(`  window ${r}, ${s.label}: ${w.streams} streams, ${w.packetsPerSecond} pkt/s, loss ${w.lossPercent} %, servers ${round(100 * w.coreShare, 1)} % of a core (workers ${round(100 * w.workersCoreShare, 1)} %) → ${w.percentPerStream} % per stream`);
      }
    }
    const of = (key: string) => windows.filter((w) => w.setup === key);
    const ratios = (f: (w: CpuWindow) => number) => of('piped').map((w, i) => f(w) / f(of('direct')[i]!));
    const all = spreadOf(ratios((w) => w.percentPerStream));
    const workers = spreadOf(ratios((w) => w.workersPercentPerStream));
    const m = (key: string, f: (w: CpuWindow) => number) => median(of(key).map(f));
    return {
      summary: [
        `CPU per forwarded stream, ${streams} streams per room (${shape.publishers} publishers × ${shape.subscribers} viewers), both rooms in the same ${rounds} window(s) of ${windowMs / 1000} s, server processes on one CPU: ` +
          `piped (publishers on node A, viewers on node B; nodes' Node processes + workers) ${m('piped', (w) => w.percentPerStream)} % of a core vs one node ${m('direct', (w) => w.percentPerStream)} % → ` +
          `${round(all.median, 2)}× (windows ${fmt(ratios((w) => w.percentPerStream), 2)}, ±${all.halfRangePercent} %); workers only ${m('piped', (w) => w.workersPercentPerStream)} vs ${m('direct', (w) => w.workersPercentPerStream)} % → ${round(workers.median, 2)}× ` +
          `(${m('piped', (w) => w.workersMicrosPerPacket)} vs ${m('direct', (w) => w.workersMicrosPerPacket)} µs per packet); loss ${m('piped', (w) => w.lossPercent)} vs ${m('direct', (w) => w.lossPercent)} %`,
      ],
      data: { shape, streams, rounds, windowMs, cpu, windows, ratio: all, workersRatio: workers },
    };
  } finally {
    await fleet.closeAll().catch(() => undefined);
    await fleet.stop();
  }
}

export async function cluster(o: SuiteOptions): Promise<SuiteResult> {
  const summary: string[] = o.quick ? ['QUICK RUN: a smoke test of the machinery; its figures and ratios are not results'] : [];
  const data: Record<string, unknown> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'noom-bench-redis-'));
  const redis = redisServer({ port: await freePort(), dir });
  await redis.start();
  try {
    const [a, b] = await startNodes(redis.url, ['bench-a', 'bench-b']);
    try {
      const chat = await chatFanout(o, a!, b!, redis);
      const join = await crossNodeJoin(o, a!, b!);
      const [c] = await startNodes(redis.url, ['bench-c']);
      try {
        const piped = await pipedCpu(o, a!, b!, c!);
        summary.push(...chat.summary, ...join.summary, ...piped.summary);
        Object.assign(data, { chat: chat.data, join: join.data, piped: piped.data });
      } finally {
        await c!.stop();
      }
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  try {
    const report = await runInNetns('cluster capacity', CAPACITY_ENTRY, o, (o.quick ? 6 : 20) * 60_000);
    summary.push(...report.summary);
    data.capacity = report.data;
  } catch (error) {
    summary.push(`capacity over two nodes not measured: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { name: 'cluster', summary, data };
}
