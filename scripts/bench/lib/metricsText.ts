/**
 * Reads a Noom `/metrics` page (Prometheus text format 0.0.4) into checked numbers. The page
 * comes over the network, so every sample is parsed with a schema (strictly: a malformed
 * line is an error), and a figure the benchmark
 * relies on that is missing or not a number is an error rather than a silent zero.
 */
import { parsePrometheusText, type PromSample } from '../../loadtest/prometheus.js';

export type Sample = PromSample;

export class MetricsPage {
  private constructor(readonly samples: readonly Sample[]) {}

  static parse(text: string): MetricsPage {
    return new MetricsPage(parsePrometheusText(text, { strict: true }));
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
