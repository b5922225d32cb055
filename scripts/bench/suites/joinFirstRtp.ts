/**
 * The README's join figure: 20 sequential joins into a room holding one audio + video
 * publisher; each joiner measures room:join sent → its first RTP packet, then leaves, so
 * that every join meets the same room. The joiners run in this process, the server in its own.
 */
import { SyntheticPeer } from '../../loadtest/peer/index.js';
import { log, sleep } from '../lib/output.js';
import { startServer } from '../lib/serverProcess.js';
import { distribution, formatMs, round } from '../lib/stats.js';
import type { SuiteOptions, SuiteResult } from './types.js';

/**
 * One peer joins a room that holds one audio + video publisher, consumes both, and leaves:
 * room:join sent → first RTP packet, in ms, of any kind and per kind.
 */
export async function timeOneJoin(url: string, roomId: string, displayName: string): Promise<{ any: number; audio: number; video: number }> {
  const peer = await SyntheticPeer.join({ url, roomId, displayName, consume: true });
  try {
    await peer.waitForMedia({ consumers: 2, minPackets: 1, timeoutMs: 10_000 });
    const stats = peer.consumerStats();
    const at = (kind?: 'audio' | 'video') =>
      Math.min(...stats.filter((s) => (!kind || s.kind === kind) && s.firstPacketAt !== undefined).map((s) => s.firstPacketAt!)) - peer.joinSentAt;
    return { any: at(), audio: at('audio'), video: at('video') };
  } finally {
    await peer.close();
  }
}

/**
 * One audio + video publisher joins `roomId` at each of `publisherUrls`; then `joins` rounds
 * of one timed join at each of `joinUrls` in turn, so that the machine's noise falls on all
 * alike. Distributions of room:join → first RTP per join URL (any kind, audio, video) and
 * the raw samples of any kind.
 */
export async function alternatingJoins(roomId: string, publisherUrls: readonly string[], joinUrls: readonly string[], joins: number) {
  const samples = joinUrls.map(() => ({ any: [] as number[], audio: [] as number[], video: [] as number[] }));
  const publishers: SyntheticPeer[] = [];
  try {
    for (const url of publisherUrls) {
      publishers.push(await SyntheticPeer.join({ url, roomId, displayName: 'publisher', publish: { audio: true, video: true }, consume: false }));
    }
    await sleep(1000);
    for (let i = 0; i < joins; i++) {
      for (const [k, url] of joinUrls.entries()) {
        const t = await timeOneJoin(url, roomId, `joiner-${i}`);
        samples[k]!.any.push(t.any);
        samples[k]!.audio.push(t.audio);
        samples[k]!.video.push(t.video);
        await sleep(300); // let the server forget the last joiner before the next one arrives
      }
    }
  } finally {
    await Promise.all(publishers.map((p) => p.close()));
  }
  return samples.map((s) => ({ any: distribution(s.any), audio: distribution(s.audio), video: distribution(s.video), samplesMs: s.any.map((v) => round(v)) }));
}

export async function joinFirstRtp(o: Pick<SuiteOptions, 'quick'>, joins = o.quick ? 5 : 20): Promise<SuiteResult> {
  const server = await startServer('noom', 'join-first-rtp', {});
  const [d] = await alternatingJoins(`first-rtp-${Date.now()}`, [server.url], [server.url], joins).finally(() => server.stop());
  if (!d) throw new Error('no joins');
  log(`join-first-rtp: ${joins} sequential joins: first RTP ${formatMs(d.any)}`);
  return {
    name: 'join-first-rtp',
    summary: [
      `${joins} sequential joins, 1 audio+video publisher: room:join → first RTP median ${d.any.p50} ms (audio ${d.audio.p50} ms, video ${d.video.p50} ms)`,
    ],
    data: { joins, firstRtp: d.any, firstAudio: d.audio, firstVideo: d.video, samplesMs: d.samplesMs },
  };
}
