/**
 * The parent side of the bot processes: forks them, sends requests, parses replies. A
 * request that gets no reply in time rejects, so a wedged bot cannot hang a benchmark.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { allReady, ChildRpc } from '../lib/childRpc.js';
import { JoinResult, StatsResult, type JoinArgs } from './messages.js';

const ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));

export class BotFleet {
  private constructor(readonly bots: readonly ChildRpc[]) {}

  static async start(count: number, readyTimeoutMs = 60_000): Promise<BotFleet> {
    const fleet = new BotFleet(Array.from({ length: count }, () => new ChildRpc(ENTRY, 'bot')));
    try {
      await allReady(fleet.bots, readyTimeoutMs, 'bot processes');
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  get pids(): number[] {
    return this.bots.map((b) => b.pid);
  }

  get size(): number {
    return this.bots.length;
  }

  join(bot: number, args: JoinArgs, timeoutMs = 30_000): Promise<JoinResult> {
    return this.#bot(bot).call({ cmd: 'join', args }, JoinResult, timeoutMs);
  }

  async stats(timeoutMs = 15_000): Promise<StatsResult[]> {
    return Promise.all(this.bots.map((b) => b.call({ cmd: 'stats' }, StatsResult, timeoutMs)));
  }

  async closeAll(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.bots.map((b) => b.call({ cmd: 'closeAll' }, z.unknown(), timeoutMs)));
  }

  /** Disconnects the IPC channels (children close their peers and exit), then kills stragglers. */
  async stop(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.bots.map((b) => b.stop(timeoutMs)));
  }

  #bot(i: number): ChildRpc {
    const b = this.bots[i % this.bots.length];
    if (!b) throw new Error('empty fleet');
    return b;
  }
}

/** Totals over every bot's peers: packets received, lost, and open consumers. */
export function receiveTotals(stats: readonly StatsResult[]): { packets: number; lost: number; consumers: number; receiving: number } {
  let packets = 0;
  let lost = 0;
  let consumers = 0;
  let receiving = 0;
  for (const s of stats) {
    for (const p of s.peers) {
      for (const c of p.consumers) {
        if (c.closed) continue;
        packets += c.packets;
        lost += c.lost;
        consumers++;
        if (c.packets > 0) receiving++;
      }
    }
  }
  return { packets, lost, consumers, receiving };
}
