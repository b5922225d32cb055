/**
 * (b) Join → first RTP in rooms of 10 and 50 peers, and with 100 peers in ten rooms of ten:
 * per room one publisher (audio + video), the rest subscribers joining at a steady pace, as
 * people do when a meeting starts. For each subscriber: room:join sent → first RTP packet on
 * its first consumer, on its audio and on its video consumer, all in that bot's own clock.
 */
import { BotFleet } from '../bots/fleet.js';
import type { JoinResult } from '../bots/messages.js';
import { log, sleep } from '../lib/output.js';
import { waitForReceiving } from '../lib/room.js';
import { cpuMeter } from '../lib/procCpu.js';
import { startServer, type ServerProcess } from '../lib/serverProcess.js';
import { distribution, formatMs, round, type Distribution } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

interface RoomRun {
  rooms: number;
  /** Peers in all rooms together, publishers included. */
  peers: number;
  paceMs: number;
  joinAck: Distribution;
  firstRtp: Distribution;
  firstAudio: Distribution;
  firstVideo: Distribution;
  failedJoins: string[];
  /** CPU during the joins, as shares of one core: the server's Node process, its workers, all bots. */
  cpu: { server: number; workers: number; bots: number };
}

async function runRooms(fleet: BotFleet, server: ServerProcess, rooms: number, peersPerRoom: number, paceMs: number): Promise<RoomRun> {
  const url = server.url;
  const meters = { server: cpuMeter([server.pid]), workers: cpuMeter(server.workerPids), bots: cpuMeter(fleet.pids) };
  const stamp = Date.now();
  const roomIds = Array.from({ length: rooms }, (_, r) => `join-${peersPerRoom}-${r}-${stamp}`);
  for (const [r, roomId] of roomIds.entries()) {
    await fleet.join(r, { url, roomId, displayName: 'publisher', publish: { audio: true, video: true }, consume: false });
  }
  await sleep(1000); // the publishers' media is flowing before anyone arrives
  const joins: Promise<JoinResult | string>[] = [];
  for (let i = 0; i < rooms * (peersPerRoom - 1); i++) {
    const roomId = roomIds[i % rooms]!;
    joins.push(
      fleet
        .join(i, { url, roomId, displayName: `sub-${i}`, publish: { audio: false, video: false }, consume: true })
        .catch((error: unknown) => (error instanceof Error ? error.message : String(error))),
    );
    await sleep(paceMs);
  }
  const results = await Promise.all(joins);
  const ok = results.filter((r): r is JoinResult => typeof r !== 'string');
  const failedJoins = results.filter((r): r is string => typeof r === 'string');
  const cpu = {
    server: round(meters.server.stop().coreShare, 3),
    workers: round(meters.workers.stop().coreShare, 3),
    bots: round(meters.bots.stop().coreShare, 3),
  };
  await waitForReceiving(fleet, ok.length * 2, 30_000).catch((error: unknown) => log(`  warning: ${String(error)}`));

  const subscribers = (await fleet.stats()).flatMap((s) => s.peers).filter((p) => roomIds.includes(p.roomId) && p.consumers.length > 0);
  const firstOf = (kind?: 'audio' | 'video') =>
    subscribers.flatMap((p) => {
      const times = p.consumers.filter((c) => (!kind || c.kind === kind) && c.firstPacketMs !== undefined).map((c) => c.firstPacketMs!);
      return times.length > 0 ? [Math.min(...times)] : [];
    });
  await fleet.closeAll();
  return {
    rooms,
    peers: rooms * peersPerRoom,
    paceMs,
    joinAck: distribution(ok.map((r) => r.joinAckMs)),
    firstRtp: distribution(firstOf()),
    firstAudio: distribution(firstOf('audio')),
    firstVideo: distribution(firstOf('video')),
    failedJoins,
    cpu,
  };
}

export async function joinLatency(o: SuiteOptions): Promise<SuiteResult> {
  const cases = o.quick
    ? [{ rooms: 1, peersPerRoom: 5 }, { rooms: 2, peersPerRoom: 5 }]
    : [
        { rooms: 1, peersPerRoom: scaled(10, o, 2) },
        { rooms: 1, peersPerRoom: scaled(50, o, 2) },
        { rooms: scaled(10, o), peersPerRoom: 10 },
      ];
  const paceMs = 200;
  const server = await startServer('noom', 'join-latency', {});
  const fleet = await BotFleet.start(o.botProcesses);
  const runs: RoomRun[] = [];
  try {
    for (const c of cases) {
      log(`join-latency: ${c.rooms} room(s) of ${c.peersPerRoom} peers (1 publisher each, subscribers joining every ${paceMs} ms)`);
      const run = await runRooms(fleet, server, c.rooms, c.peersPerRoom, paceMs);
      log(`  first RTP ${formatMs(run.firstRtp)}; audio ${formatMs(run.firstAudio)}; video ${formatMs(run.firstVideo)}`);
      log(`  CPU while joining (cores): server ${run.cpu.server}, workers ${run.cpu.workers}, bots ${run.cpu.bots}`);
      runs.push(run);
    }
  } finally {
    await fleet.stop();
    await server.stop();
  }
  return {
    name: 'join-latency',
    summary: runs.map(
      (r) =>
        `${r.peers} peers${r.rooms > 1 ? ` in ${r.rooms} rooms` : ' in one room'}: room:join → first RTP p50 ${r.firstRtp.p50} / p95 ${r.firstRtp.p95} ms (audio p50 ${r.firstAudio.p50}, video p50 ${r.firstVideo.p50} / p95 ${r.firstVideo.p95}; join ack p50 ${r.joinAck.p50} ms; n=${r.firstRtp.n}, failed joins ${r.failedJoins.length}; target p50 ≤ 300 ms)`,
    ),
    data: { runs },
  };
}
