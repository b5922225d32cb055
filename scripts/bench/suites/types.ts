/** What every benchmark receives from the runner. */
export interface SuiteOptions {
  /** Small sizes and short windows: a smoke run of the whole machinery. */
  quick: boolean;
  /** Multiplies peer counts (and nothing else). */
  scale: number;
  /** Bot processes for the media benchmarks. */
  botProcesses: number;
}

export interface SuiteResult {
  name: string;
  /** One line per headline figure, for the console and BENCHMARKS.md. */
  summary: string[];
  data: unknown;
}

export const scaled = (n: number, o: SuiteOptions, min = 1): number => Math.max(min, Math.round(n * o.scale));
