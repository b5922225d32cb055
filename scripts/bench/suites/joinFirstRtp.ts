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

export async function joinFirstRtp(o: Pick<SuiteOptions, 'quick'>, joins = o.quick ? 5 : 20): Promise<SuiteResult> {
  const server = await startServer('noom', 'join-first-rtp', {});
  const roomId = `first-rtp-${Date.now()}`;
  const firstAny: number[] = [];
  const firstAudio: number[] = [];
  const firstVideo: number[] = [];
  const publisher = await SyntheticPeer.join({ url: server.url, roomId, displayName: 'publisher', publish: { audio: true, video: true }, consume: false });
  try {
    await sleep(1000);
    for (let i = 0; i < joins; i++) {
      const t = await timeOneJoin(server.url, roomId, `joiner-${i}`);
      firstAny.push(t.any);
      firstAudio.push(t.audio);
      firstVideo.push(t.video);
      await sleep(300); // let the server forget the last joiner before the next one arrives
    }
  } finally {
    await publisher.close();
    await server.stop();
  }
  const any = distribution(firstAny);
  log(`join-first-rtp: ${joins} sequential joins: first RTP ${formatMs(any)}`);
  return {
    name: 'join-first-rtp',
    summary: [
      `${joins} sequential joins, 1 audio+video publisher: room:join → first RTP median ${any.p50} ms (audio ${distribution(firstAudio).p50} ms, video ${distribution(firstVideo).p50} ms)`,
    ],
    data: {
      joins,
      firstRtp: any,
      firstAudio: distribution(firstAudio),
      firstVideo: distribution(firstVideo),
      samplesMs: firstAny.map((v) => round(v)),
    },
  };
}
