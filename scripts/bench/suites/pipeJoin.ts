/**
 * What the on-demand pipe costs a newcomer: room:join → first RTP when the publisher is on
 * the newcomer's own router, and when it is on another worker's router of the same room
 * (the first consume there pipes the producer over). Two servers run side by side with two
 * workers each: one keeps the whole room on one router, the other holds one peer per
 * router, so every joiner lands on the second router, and since the previous joiner took
 * the last consumer with it when it left, every join opens a fresh pipe. Joins alternate
 * between the two servers so that the machine's noise falls on both alike.
 */
import { log } from '../lib/output.js';
import { startServer } from '../lib/serverProcess.js';
import { formatMs, round } from '../lib/stats.js';
import { alternatingJoins } from './joinFirstRtp.js';
import type { SuiteOptions, SuiteResult } from './types.js';

export async function pipeJoin(o: Pick<SuiteOptions, 'quick'>, joins = o.quick ? 5 : 20): Promise<SuiteResult> {
  const setups = [
    { name: 'same router', env: { WORKERS: '2', ROOM_PEERS_PER_ROUTER: '100' } },
    { name: 'piped from the other worker', env: { WORKERS: '2', ROOM_PEERS_PER_ROUTER: '1' } },
  ];
  const servers = await Promise.all(setups.map((s, i) => startServer('noom', `pipe-join-${i}`, s.env)));
  const roomId = `pipe-join-${Date.now()}`;
  const urls = servers.map((s) => s.url);
  const dists = await alternatingJoins(roomId, urls, urls, joins).finally(() => Promise.all(servers.map((s) => s.stop())));
  const cost = round((dists[1]!.any.p50 ?? NaN) - (dists[0]!.any.p50 ?? NaN));
  for (const [k, s] of setups.entries()) log(`pipe-join: ${s.name}: first RTP ${formatMs(dists[k]!.any)}`);
  log(`pipe-join: the on-demand pipe adds ${cost} ms at the median`);
  return {
    name: 'pipe-join',
    summary: [
      `${joins} joins each, alternating: room:join → first RTP median ${dists[0]!.any.p50} ms on the publisher's router vs ${dists[1]!.any.p50} ms piped from another worker (+${cost} ms; audio ${dists[0]!.audio.p50} → ${dists[1]!.audio.p50} ms, video ${dists[0]!.video.p50} → ${dists[1]!.video.p50} ms)`,
    ],
    data: {
      joins,
      setups: setups.map((s, k) => ({ ...s, firstRtp: dists[k]!.any, firstAudio: dists[k]!.audio, firstVideo: dists[k]!.video, samplesMs: dists[k]!.samplesMs })),
      pipeCostMsAtMedian: cost,
    },
  };
}
