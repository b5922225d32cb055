/**
 * (b) Join → first RTP in rooms of 10 and 50 peers: one publisher (audio + video), the rest
 * subscribers joining at a steady pace, as people do when a meeting starts. For each
 * subscriber: room:join sent → first RTP packet on its first consumer, on its audio and on
 * its video consumer, all in that bot's own clock.
 */
import { BotFleet } from '../bots/fleet.js';
import type { JoinResult } from '../bots/messages.js';
import { log, sleep } from '../lib/output.js';
import { waitForReceiving } from '../lib/room.js';
import { startServer } from '../lib/serverProcess.js';
import { distribution, formatMs, type Distribution } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

interface RoomRun {
  peers: number;
  paceMs: number;
  joinAck: Distribution;
  firstRtp: Distribution;
  firstAudio: Distribution;
  firstVideo: Distribution;
  failedJoins: string[];
}

async function runRoom(fleet: BotFleet, url: string, peers: number, paceMs: number): Promise<RoomRun> {
  const roomId = `join-${peers}-${Date.now()}`;
  await fleet.join(0, { url, roomId, displayName: 'publisher', publish: { audio: true, video: true }, consume: false });
  await sleep(1000); // the publisher's media is flowing before anyone arrives
  const joins: Promise<JoinResult | string>[] = [];
  for (let i = 1; i < peers; i++) {
    joins.push(
      fleet
        .join(i % fleet.size, { url, roomId, displayName: `sub-${i}`, publish: { audio: false, video: false }, consume: true })
        .catch((error: unknown) => (error instanceof Error ? error.message : String(error))),
    );
    await sleep(paceMs);
  }
  const results = await Promise.all(joins);
  const ok = results.filter((r): r is JoinResult => typeof r !== 'string');
  const failedJoins = results.filter((r): r is string => typeof r === 'string');
  await waitForReceiving(fleet, ok.length * 2, 30_000).catch((error: unknown) => log(`  warning: ${String(error)}`));

  const subscribers = (await fleet.stats()).flatMap((s) => s.peers).filter((p) => p.roomId === roomId && p.consumers.length > 0);
  const firstOf = (kind?: 'audio' | 'video') =>
    subscribers.flatMap((p) => {
      const times = p.consumers.filter((c) => (!kind || c.kind === kind) && c.firstPacketMs !== undefined).map((c) => c.firstPacketMs!);
      return times.length > 0 ? [Math.min(...times)] : [];
    });
  await fleet.closeAll();
  return {
    peers,
    paceMs,
    joinAck: distribution(ok.map((r) => r.joinAckMs)),
    firstRtp: distribution(firstOf()),
    firstAudio: distribution(firstOf('audio')),
    firstVideo: distribution(firstOf('video')),
    failedJoins,
  };
}

export async function joinLatency(o: SuiteOptions): Promise<SuiteResult> {
  const sizes = o.quick ? [5, 10] : [scaled(10, o, 2), scaled(50, o, 2)];
  const paceMs = 200;
  const server = await startServer('noom', 'join-latency', {});
  const fleet = await BotFleet.start(o.botProcesses);
  const runs: RoomRun[] = [];
  try {
    for (const peers of sizes) {
      log(`join-latency: room of ${peers} peers (1 publisher, ${peers - 1} subscribers joining every ${paceMs} ms)`);
      const run = await runRoom(fleet, server.url, peers, paceMs);
      log(`  first RTP ${formatMs(run.firstRtp)}; audio ${formatMs(run.firstAudio)}; video ${formatMs(run.firstVideo)}`);
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
        `${r.peers} peers: room:join → first RTP p50 ${r.firstRtp.p50} / p95 ${r.firstRtp.p95} ms (audio p50 ${r.firstAudio.p50}, video p50 ${r.firstVideo.p50} / p95 ${r.firstVideo.p95}; join ack p50 ${r.joinAck.p50} ms; n=${r.firstRtp.n}, failed joins ${r.failedJoins.length}; target p50 ≤ 300 ms)`,
    ),
    data: { runs },
  };
}
