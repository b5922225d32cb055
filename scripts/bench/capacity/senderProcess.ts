/**
 * The parent side of the publisher process (sender.ts): forks it, asks it to publish, reads
 * its counts. A request without an answer in time rejects, so a wedged sender cannot hang
 * the benchmark; the process goes down with the benchmark's.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { allReady, ChildRpc } from '../lib/childRpc.js';
import { SenderCounts, type SenderTarget } from './messages.js';

const ENTRY = fileURLToPath(new URL('./sender.ts', import.meta.url));

export class SenderProcess {
  readonly #child: ChildRpc;

  private constructor(child: ChildRpc) {
    this.#child = child;
  }

  static async start(readyTimeoutMs = 30_000): Promise<SenderProcess> {
    const sender = new SenderProcess(new ChildRpc(ENTRY, 'sender'));
    try {
      await allReady([sender.#child], readyTimeoutMs, 'sender');
    } catch (error) {
      await sender.stop();
      throw error;
    }
    return sender;
  }

  get pid(): number {
    return this.#child.pid;
  }

  #call<S extends z.ZodType>(message: Record<string, unknown>, schema: S, timeoutMs = 10_000): Promise<z.output<S>> {
    return this.#child.call(message, schema, timeoutMs);
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

  stop(timeoutMs = 5_000): Promise<void> {
    return this.#child.stop(timeoutMs);
  }
}
