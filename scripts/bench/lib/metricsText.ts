/**
 * Reads a Noom `/metrics` page (Prometheus text format 0.0.4) into checked numbers. The page
 * comes over the network, so every sample is parsed with zod, and a figure the benchmark
 * relies on that is missing or not a number is an error rather than a silent zero.
 */
import { z } from 'zod';

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const Value = z.union([
  z.literal('+Inf').transform(() => Infinity),
  z.literal('-Inf').transform(() => -Infinity),
  z.literal('NaN').transform(() => NaN),
  z.string().regex(/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/).transform(Number),
]);

const Sample = z.object({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()),
  value: Value,
});
export type Sample = z.output<typeof Sample>;

export class MetricsPage {
  private constructor(readonly samples: readonly Sample[]) {}

  static parse(text: string): MetricsPage {
    const samples: Sample[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const m = LINE.exec(line);
      if (!m) throw new Error(`/metrics: unreadable line: ${line.slice(0, 120)}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
      samples.push(Sample.parse({ name: m[1], labels, value: m[3] }));
    }
    return new MetricsPage(samples);
  }

  /** Every sample of a metric, e.g. one per worker. */
  all(name: string): Sample[] {
    return this.samples.filter((s) => s.name === name);
  }

  /** The one sample of `name` whose labels include `labels`; throws when absent. */
  value(name: string, labels: Record<string, string> = {}): number {
    const s = this.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    if (!s) throw new Error(`/metrics: no sample ${name}${JSON.stringify(labels)}`);
    if (!Number.isFinite(s.value)) throw new Error(`/metrics: ${name} is ${s.value}`);
    return s.value;
  }

  /** Sum over all label sets of a metric (0 when the metric has no samples yet). */
  sum(name: string): number {
    return this.all(name).reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);
  }
}

export async function scrapeMetrics(baseUrl: string, timeoutMs = 10_000): Promise<MetricsPage> {
  const res = await fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return MetricsPage.parse(await res.text());
}
