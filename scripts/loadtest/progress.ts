/** The live progress line of a run (cli-progress), on stderr so stdout stays parseable. */
import cliProgress from 'cli-progress';
import type { Progress } from './collector.js';

export class ProgressView {
  readonly #bar: cliProgress.SingleBar;
  readonly #totalSec: number;

  constructor(totalSec: number) {
    this.#totalSec = Math.max(1, Math.round(totalSec));
    this.#bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format:
          '{bar} {elapsed}/{total}s | {phase} | joined {joined}/{planned} | receiving {receiving} | failed {failed} | {mbps} Mbit/s',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        // Without a terminal (CI logs), print a plain line every few seconds instead.
        noTTYOutput: !process.stderr.isTTY,
        notTTYSchedule: 5000,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(planned: number): void {
    this.#bar.start(this.#totalSec, 0, { ...this.#payload(undefined, 'starting'), planned, elapsed: 0 });
  }

  update(elapsedSec: number, p: Progress, phase: string): void {
    const value = Math.min(this.#totalSec, Math.round(elapsedSec));
    this.#bar.update(value, { ...this.#payload(p, phase), elapsed: value });
  }

  stop(): void {
    this.#bar.stop();
  }

  #payload(p: Progress | undefined, phase: string): Record<string, string | number> {
    return {
      phase,
      joined: p?.joined ?? 0,
      planned: p?.planned ?? 0,
      receiving: p?.receiving ?? 0,
      failed: p?.failed ?? 0,
      mbps: ((p?.rxKbps ?? 0) / 1000).toFixed(1),
    };
  }
}
