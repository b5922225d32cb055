/**
 * The parent side of a benchmark helper process spoken to over Node IPC (JSON): requests
 * `{ id, cmd, ... }` answered by `{ id, ok, result | error }`, and a `{ ready: true }` once
 * the child can take them. A request without an answer in time rejects, and so does every
 * pending one when the child exits, so a wedged or dead child cannot hang a benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { z } from 'zod';

const TSX = import.meta.resolve('tsx');

const Reply = z.union([
  z.object({ id: z.number(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number(), ok: z.literal(false), error: z.string() }),
]);
const ReadyMessage = z.object({ ready: z.literal(true) });

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class ChildRpc {
  readonly process: ChildProcess;
  /** Resolves on the child's ready message; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly #name: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  /** Forks `entry` (a TypeScript file, run with tsx); `name` goes into error messages. */
  constructor(entry: string, name: string) {
    this.#name = name;
    const child = fork(entry, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    this.process = child;
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // Nobody may be waiting for readiness when the child dies later: that is not an unhandled failure.
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (raw: unknown) => {
      if (ReadyMessage.safeParse(raw).success) return markReady();
      const reply = Reply.safeParse(raw);
      if (!reply.success) return;
      const p = this.#pending.get(reply.data.id);
      if (!p) return;
      this.#pending.delete(reply.data.id);
      clearTimeout(p.timer);
      if (reply.data.ok) p.resolve(reply.data.result);
      else p.reject(new Error(reply.data.error));
    });
    child.once('exit', (code, signal) => {
      const error = new Error(`${name} process ${child.pid} exited (${signal ?? code})`);
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
        reject(new Error(`${this.#name} ${this.pid}: no answer to ${String(message.cmd)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => resolve(schema.parse(v)), reject, timer });
      this.process.send({ id, ...message });
    });
  }

  /** Disconnects the IPC channel (the child closes what it holds and exits), then kills it if it is late. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    if (this.process.connected) this.process.disconnect();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Resolves when every child is ready; rejects after `timeoutMs` or when one of them dies first. */
export async function allReady(children: readonly ChildRpc[], timeoutMs: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(children.map((c) => c.ready)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} not ready in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
