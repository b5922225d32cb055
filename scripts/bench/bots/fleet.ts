/**
 * The parent side of the bot processes: forks them, sends requests, parses replies. A
 * request that gets no reply in time rejects, so a wedged bot cannot hang a benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BotReply, JoinResult, ReadyMessage, StatsResult, type JoinArgs } from './messages.js';

const ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

class Bot {
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(readonly process: ChildProcess) {
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.exited = new Promise((resolve) => process.once('exit', () => resolve()));
    process.on('message', (raw: unknown) => {
      if (ReadyMessage.safeParse(raw).success) return markReady();
      const reply = BotReply.safeParse(raw);
      if (!reply.success) return;
      const p = this.#pending.get(reply.data.id);
      if (!p) return;
      this.#pending.delete(reply.data.id);
      clearTimeout(p.timer);
      if (reply.data.ok) p.resolve(reply.data.result);
      else p.reject(new Error(reply.data.error));
    });
    process.once('exit', (code, signal) => {
      const error = new Error(`bot process ${process.pid} exited (${signal ?? code})`);
      failReady(error);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(error);
      }
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  call<S extends z.ZodType>(message: Record<string, unknown>, schema: S, timeoutMs: number): Promise<z.output<S>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`bot ${this.pid}: no answer to ${String(message.cmd)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => resolve(schema.parse(v)), reject, timer });
      this.process.send({ id, ...message });
    });
  }
}

export class BotFleet {
  private constructor(readonly bots: readonly Bot[]) {}

  static async start(count: number, readyTimeoutMs = 60_000): Promise<BotFleet> {
    const bots = Array.from(
      { length: count },
      () => new Bot(fork(ENTRY, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' })),
    );
    const fleet = new BotFleet(bots);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(bots.map((b) => b.ready)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`bot processes not ready in ${readyTimeoutMs} ms`)), readyTimeoutMs);
        }),
      ]);
    } catch (error) {
      await fleet.stop();
      throw error;
    } finally {
      clearTimeout(timer);
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
    for (const b of this.bots) if (b.process.connected) b.process.disconnect();
    const all = Promise.all(this.bots.map((b) => b.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (late) for (const b of this.bots) if (b.process.exitCode === null && b.process.signalCode === null) b.process.kill('SIGKILL');
    await all;
  }

  #bot(i: number): Bot {
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
