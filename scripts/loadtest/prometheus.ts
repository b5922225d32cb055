/**
 * A reader for the Prometheus text exposition format (version 0.0.4): enough for the
 * samples a Noom server exposes. The page comes over the network, so every value is parsed
 * with a schema. By default comments, histograms' metadata and malformed lines are skipped
 * (a load test treats the server's metrics as optional); `strict` makes a malformed line an
 * error, for the benchmarks whose figures depend on them.
 */
import { z } from 'zod';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;

const Value = z.union([
  z.literal('+Inf').transform(() => Infinity),
  z.literal('-Inf').transform(() => -Infinity),
  z.literal('NaN').transform(() => NaN),
  z.string().regex(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/).transform(Number),
]);

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parsePrometheusText(text: string, options: { strict?: boolean } = {}): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    const value = m ? Value.safeParse(m[4]) : undefined;
    if (!m || !value?.success) {
      if (options.strict) throw new Error(`/metrics: unreadable line: ${line.slice(0, 120)}`);
      continue;
    }
    const labels: Record<string, string> = {};
    if (m[3]) for (const l of m[3].matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!);
    out.push({ name: m[1]!, labels, value: value.data });
  }
  return out;
}

/** `name{a="1",b="2"}`, labels sorted: a stable key for one series. */
export function seriesKey(s: Pick<PromSample, 'name' | 'labels'>): string {
  const labels = Object.keys(s.labels)
    .sort()
    .map((k) => `${k}="${s.labels[k]}"`)
    .join(',');
  return labels ? `${s.name}{${labels}}` : s.name;
}
