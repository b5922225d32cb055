/** Distribution summaries for the report. */

export interface Summary {
  count: number;
  min?: number;
  mean?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no values');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function summarize(values: readonly number[]): Summary {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return { count: 0 };
  return {
    count: v.length,
    min: round(v[0]!),
    mean: round(v.reduce((a, b) => a + b, 0) / v.length),
    p50: round(percentile(v, 50)),
    p95: round(percentile(v, 95)),
    p99: round(percentile(v, 99)),
    max: round(v[v.length - 1]!),
  };
}
