/** Filling a room with bots and waiting for their media: the common first act of the media benchmarks. */
import { BotFleet, receiveTotals } from '../bots/fleet.js';
import type { JoinResult } from '../bots/messages.js';
import { sleep } from './output.js';

/** Publishers send audio + video and consume nothing; subscribers consume everything. */
export interface RoomShape {
  publishers: number;
  subscribers: number;
}

/**
 * Joins the publishers, then the subscribers, spreading them over the bot processes. Within
 * a bot joins are sequential, across bots they overlap: a ramp the server can follow. The
 * subscribers may join another node of a cluster than the publishers.
 */
export async function fillRoom(fleet: BotFleet, url: string, roomId: string, shape: RoomShape, subscriberUrl = url): Promise<JoinResult[]> {
  const results: JoinResult[] = [];
  const wave = async (count: number, role: 'pub' | 'sub', offset: number) => {
    const queues: number[][] = Array.from({ length: fleet.size }, () => []);
    for (let i = 0; i < count; i++) queues[(offset + i) % fleet.size]!.push(i);
    await Promise.all(
      queues.map(async (q, bot) => {
        for (const i of q) {
          results.push(
            await fleet.join(bot, {
              url: role === 'pub' ? url : subscriberUrl,
              roomId,
              displayName: `${role}-${i}`,
              publish: role === 'pub' ? { audio: true, video: true } : { audio: false, video: false },
              consume: role === 'sub',
            }),
          );
        }
      }),
    );
  };
  await wave(shape.publishers, 'pub', 0);
  await wave(shape.subscribers, 'sub', shape.publishers);
  return results;
}

/** Resolves once `consumers` consumers have each received a packet; rejects after the timeout. */
export async function waitForReceiving(fleet: BotFleet, consumers: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const t = receiveTotals(await fleet.stats());
    if (t.receiving >= consumers) return;
    if (performance.now() > deadline) {
      throw new Error(`only ${t.receiving}/${consumers} consumers received media within ${timeoutMs} ms`);
    }
    await sleep(250);
  }
}
