/**
 * The child processes of a load test: one per core by default, each running a share of the
 * synthetic peers (child.ts), spoken to over Node's IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, FinalMessage, ParentMessage, PeerSummary } from './ipc.js';

const CHILD_ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));
/** Children run the TypeScript sources through tsx, resolved from here, whatever the cwd. */
const TSX_LOADER = import.meta.resolve('tsx');

export type FleetEvents = {
  message: [child: number, message: ChildMessage];
  /** A child exited before it was told to stop. */
  lost: [child: number, reason: string];
};

interface Member {
  process: ChildProcess;
  ready: Promise<void>;
  /** Peer summaries received at the end of the run. */
  peers: PeerSummary[];
  final?: FinalMessage;
  exited: Promise<void>;
  stopping: boolean;
}

export class Fleet extends EventEmitter<FleetEvents> {
  readonly #members: Member[] = [];
  #sampleSeq = 0;
  #sampleWait: { seq: number; pending: Set<number>; done: () => void } | undefined;

  private constructor() {
    super();
  }

  /** Forks `count` children and resolves once each has loaded werift and the clip. */
  static async start(count: number, readyTimeoutMs = 60_000): Promise<Fleet> {
    const fleet = new Fleet();
    for (let i = 0; i < count; i++) fleet.#members.push(fleet.#fork(i));
    try {
      await Promise.race([
        Promise.all(fleet.#members.map((m) => m.ready)),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`load-test children not ready in ${readyTimeoutMs} ms`)), readyTimeoutMs).unref(),
        ),
      ]);
    } catch (error) {
      await fleet.stop(2000);
      throw error;
    }
    return fleet;
  }

  get size(): number {
    return this.#members.length;
  }

  send(child: number, message: ParentMessage): void {
    const m = this.#members[child];
    if (m?.process.connected) m.process.send(message);
  }

  broadcast(message: ParentMessage): void {
    for (let i = 0; i < this.#members.length; i++) this.send(i, message);
  }

  /**
   * Has every child report its counters now; resolves when all have answered (the
   * answers arrive as `message` events) or after `timeoutMs`.
   */
  async sample(timeoutMs: number): Promise<void> {
    const seq = ++this.#sampleSeq;
    const pending = new Set(this.#members.flatMap((m, i) => (m.process.connected ? [i] : [])));
    if (pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#sampleWait = { seq, pending, done: resolve };
      timer = setTimeout(resolve, timeoutMs);
      for (const i of pending) this.send(i, { type: 'sample', seq });
    });
    clearTimeout(timer);
    if (this.#sampleWait?.seq === seq) this.#sampleWait = undefined;
  }

  #sampled(child: number, seq: number): void {
    const w = this.#sampleWait;
    if (!w || w.seq !== seq) return;
    w.pending.delete(child);
    if (w.pending.size === 0) w.done();
  }

  #fork(index: number): Member {
    const child = fork(CHILD_ENTRY, [], {
      execArgv: ['--import', TSX_LOADER],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    const member: Member = {
      process: child,
      ready,
      peers: [],
      stopping: false,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    child.on('message', (raw: unknown) => {
      const msg = raw as ChildMessage;
      if (msg.type === 'ready') markReady();
      else if (msg.type === 'peers') member.peers.push(...msg.peers);
      else if (msg.type === 'final') member.final = msg;
      this.emit('message', index, msg);
      if (msg.type === 'sample') this.#sampled(index, msg.seq);
    });
    child.once('exit', (code, signal) => {
      const reason = `child ${index} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}`;
      failReady(new Error(reason));
      if (!member.stopping) this.emit('lost', index, reason);
    });
    return member;
  }

  /**
   * Tells every child to close its peers, collects their final summaries and waits for
   * them to exit; a child still running after `timeoutMs` is killed.
   */
  async stop(timeoutMs = 15_000): Promise<PeerSummary[]> {
    for (const m of this.#members) {
      m.stopping = true;
      if (m.process.connected) m.process.send({ type: 'stop' } satisfies ParentMessage);
    }
    const all = Promise.all(this.#members.map((m) => m.exited));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const m of this.#members) if (m.process.exitCode === null && m.process.signalCode === null) m.process.kill('SIGKILL');
      await all;
    }
    return this.#members.flatMap((m) => m.peers);
  }
}
