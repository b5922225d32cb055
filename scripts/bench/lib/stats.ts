/** Order statistics for latency samples (nearest-rank, so every figure is a measured value). */

import { percentile as ofSorted, round } from '../../loadtest/stats.js';

export { round };

export function percentile(values: readonly number[], p: number): number | undefined {
  return values.length === 0 ? undefined : ofSorted([...values].sort((a, b) => a - b), p);
}

export function median(values: readonly number[]): number | undefined {
  return percentile(values, 50);
}

export interface Distribution {
  n: number;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
}

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: values.length,
    p50: round(ofSorted(sorted, 50)),
    p95: round(ofSorted(sorted, 95)),
    p99: round(ofSorted(sorted, 99)),
    max: round(sorted.at(-1)!),
  };
}

/** Median, extremes, and the half-range as a share of the median: a figure's round-to-round spread. */
export function spreadOf(values: readonly number[]): { median: number; min: number; max: number; halfRangePercent: number } {
  const m = median(values) ?? NaN;
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, halfRangePercent: round((100 * (max - min)) / 2 / m, 1) };
}

/** "1,234, 2,345": a list of figures, for a summary line. */
export const fmt = (values: readonly number[], digits = 0): string => values.map((v) => round(v, digits).toLocaleString('en-US')).join(', ');

/** "p50 123.4 / p95 456.7 ms (n=20)", for the console. */
export function formatMs(d: Distribution): string {
  if (d.n === 0) return 'no samples';
  return `p50 ${d.p50} / p95 ${d.p95} / p99 ${d.p99} / max ${d.max} ms (n=${d.n})`;
}
