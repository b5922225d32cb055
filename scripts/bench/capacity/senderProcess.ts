/**
 * The parent side of the publisher process (sender.ts): forks it, asks it to publish, reads
 * its counts. A request without an answer in time rejects, so a wedged sender cannot hang
 * the benchmark; the process goes down with the benchmark's.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ReadyMessage, SenderCounts, SenderReply, type SenderTarget } from './messages.js';

const ENTRY = fileURLToPath(new URL('./sender.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class SenderProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #nextId = 1;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (raw: unknown) => {
      const reply = SenderReply.safeParse(raw);
      if (!reply.success) return;
      const p = this.#pending.get(reply.data.id);
      if (!p) return;
      this.#pending.delete(reply.data.id);
      clearTimeout(p.timer);
      if (reply.data.ok) p.resolve(reply.data.result);
      else p.reject(new Error(reply.data.error));
    });
    child.once('exit', (code, signal) => {
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`sender process exited (${signal ?? code})`));
      }
      this.#pending.clear();
    });
  }

  static async start(readyTimeoutMs = 30_000): Promise<SenderProcess> {
    const child = fork(ENTRY, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const sender = new SenderProcess(child);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`sender not ready in ${readyTimeoutMs} ms`)), readyTimeoutMs);
        child.on('message', (raw: unknown) => {
          if (ReadyMessage.safeParse(raw).success) resolve();
        });
        child.once('exit', () => reject(new Error('sender exited during startup')));
      });
    } catch (error) {
      await sender.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return sender;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  #call<S extends z.ZodType>(message: Record<string, unknown>, schema: S, timeoutMs = 10_000): Promise<z.output<S>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`sender: no answer to ${String(message.cmd)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => resolve(schema.parse(v)), reject, timer });
      this.#child.send({ id, ...message });
    });
  }

  publish(target: SenderTarget): Promise<unknown> {
    return this.#call({ cmd: 'publish', target }, z.unknown());
  }

  unpublishAll(): Promise<unknown> {
    return this.#call({ cmd: 'unpublishAll' }, z.unknown());
  }

  counts(): Promise<SenderCounts> {
    return this.#call({ cmd: 'counts' }, SenderCounts);
  }

  pause(): Promise<SenderCounts> {
    return this.#call({ cmd: 'pause' }, SenderCounts);
  }

  resume(): Promise<SenderCounts> {
    return this.#call({ cmd: 'resume' }, SenderCounts);
  }

  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.disconnect();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }
}
