/**
 * Periodic scrape of the server's Prometheus endpoint during a run. Counters become rates
 * (CPU seconds → % of a core, bytes → Mbit/s, others → per second), gauges are kept as
 * read, and the counters are also integrated into totals over the run (serverTotals.ts). A
 * server with other metric names just yields fewer series; one without /metrics is reported
 * as "none" with the reason.
 */
import { parsePrometheusText, seriesKey, type PromSample } from './prometheus.js';
import { combineTotals, CounterIntegrator, INTEGRATED, serverTotals, type ServerTotals } from './serverTotals.js';

/** Series worth charting; anything else the server exposes is ignored. */
const INCLUDE =
  /^noom_(worker_|workers$|producers|consumers|transports|peers$|rooms$|sockets$|rtp_|rtcp_|nack|pli|keyframe|joins_total$|process_cpu_seconds_total$|process_resident_memory_bytes$|nodejs_eventloop_lag_p99_seconds$)/;
const HISTOGRAM_PART = /_(bucket|sum|count)$/;

export interface SeriesPoint {
  /** Seconds since the start of the run. */
  t: number;
  v: number;
}

export interface ServerSeries {
  key: string;
  name: string;
  labels: Record<string, string>;
  unit: string;
  points: SeriesPoint[];
  mean?: number;
  max?: number;
}

export interface ServerMetricsReport {
  url: string;
  available: boolean;
  scrapes: number;
  failures: number;
  lastError?: string;
  /** Why there are no figures (`available` false): the endpoint's answer or the connection error. */
  unavailableReason?: string;
  /** What the server counted between the first and the last scrape; absent when nothing was scraped. */
  totals?: ServerTotals;
  series: ServerSeries[];
}

/** "12 scrapes", or "none (why)": the one wording of the terminal, JSON and HTML summaries. */
export function metricsState(m: Pick<ServerMetricsReport, 'available' | 'scrapes' | 'failures' | 'unavailableReason'>): string {
  if (!m.available) return `none (${m.unavailableReason ?? 'no scrape was made'})`;
  return `${m.scrapes} scrapes${m.failures > 0 ? `, ${m.failures} failed` : ''}`;
}

/** A fetch error's message with its cause ("fetch failed" alone says nothing). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${error.message}: ${typeof code === 'string' ? code : cause.message}`;
  }
  return error.message;
}

function conversion(name: string): { unit: string; factor: number; rate: boolean } {
  const rate = name.endsWith('_total');
  if (name.endsWith('_cpu_seconds_total')) return { unit: '% of a core', factor: 100, rate };
  if (/_bytes(_[a-z]+)?_total$/.test(name)) return { unit: 'Mbit/s', factor: 8 / 1e6, rate };
  if (name.endsWith('_bytes')) return { unit: 'MB', factor: 1 / 1e6, rate };
  if (name.endsWith('_seconds')) return { unit: 'ms', factor: 1000, rate };
  return { unit: rate ? '/s' : '', factor: 1, rate };
}

export class ServerMetricsScraper {
  readonly #url: string;
  readonly #intervalMs: number;
  readonly #t0: number;
  readonly #labels: Record<string, string>;
  readonly #series = new Map<string, ServerSeries>();
  readonly #previous = new Map<string, { t: number; v: number }>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #scrapes = 0;
  /** Run seconds of the last successful scrape. */
  #lastScrapeAt: number | undefined;
  #failures = 0;
  #lastError: string | undefined;
  /** Set after a 404: the server has no metrics endpoint, stop asking. */
  #absent = false;
  readonly #counters = new CounterIntegrator();
  /** Run seconds of the first successful scrape. */
  #firstScrapeAt: number | undefined;

  /** `labels` are added to every series, e.g. `{ node }` to tell the nodes of a cluster apart. */
  constructor(url: string, intervalMs: number, t0: number = performance.now(), labels: Record<string, string> = {}) {
    this.#url = url;
    this.#intervalMs = intervalMs;
    this.#t0 = t0;
    this.#labels = labels;
  }

  /** Starts sampling; resolves once the first scrape is done (answered or failed), the baseline of the totals. */
  async start(): Promise<void> {
    if (this.#timer) return;
    this.#scrapeOnce();
    this.#timer = setInterval(() => this.#scrapeOnce(), this.#intervalMs);
    await this.#inFlight;
  }

  /** Stops sampling after one last scrape, so that the totals reach the end of the run. */
  async stop(): Promise<void> {
    const running = this.#timer !== undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
    if (running && this.#scrapes > 0) {
      this.#scrapeOnce();
      await this.#inFlight;
    }
  }

  report(): ServerMetricsReport {
    const series = [...this.#series.values()].map((s) => {
      const values = s.points.map((p) => p.v).filter(Number.isFinite);
      return values.length === 0
        ? s
        : { ...s, mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
    });
    const available = this.#scrapes > 0;
    return {
      url: this.#url,
      available,
      scrapes: this.#scrapes,
      failures: this.#failures,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      ...(available ? {} : { unavailableReason: this.#lastError ?? `${this.#url}: no scrape was made` }),
      ...(this.#firstScrapeAt !== undefined && this.#lastScrapeAt !== undefined
        ? { totals: serverTotals(this.#counters, this.#firstScrapeAt, this.#lastScrapeAt) }
        : {}),
      series: series.sort((a, b) => a.key.localeCompare(b.key)),
    };
  }

  #scrapeOnce(): void {
    if (this.#absent || this.#inFlight) return;
    this.#inFlight = this.#scrape()
      .catch((error: unknown) => {
        this.#failures++;
        this.#lastError = describe(error);
      })
      .finally(() => (this.#inFlight = undefined));
  }

  async #scrape(): Promise<void> {
    // A server with METRICS_TOKEN wants it; the tester reads the same variable.
    const token = process.env.METRICS_TOKEN;
    const res = await fetch(this.#url, {
      signal: AbortSignal.timeout(Math.max(1000, this.#intervalMs)),
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    if (res.status === 404) {
      this.#absent = true;
      throw new Error(`${this.#url}: 404, the server exposes no metrics`);
    }
    if (!res.ok) throw new Error(`${this.#url}: HTTP ${res.status}`);
    const text = await res.text();
    const t = (performance.now() - this.#t0) / 1000;
    const samples = parsePrometheusText(text);
    // A server without the endpoint may still answer 200 (a web app's page for any path):
    // that is no metrics, not a scrape.
    if (samples.length === 0) {
      this.#absent = true;
      throw new Error(`${this.#url}: the answer (${res.headers.get('content-type') ?? 'no content type'}) holds no Prometheus samples`);
    }
    this.#scrapes++;
    this.#counters.add(samples.filter((s) => INTEGRATED.test(s.name)));
    this.#firstScrapeAt ??= t;
    const before = this.#lastScrapeAt;
    for (const s of samples) {
      if (INCLUDE.test(s.name) && !HISTOGRAM_PART.test(s.name)) this.#record({ ...s, labels: { ...s.labels, ...this.#labels } }, t, before);
    }
    this.#lastScrapeAt = t;
  }

  /** `before`: the previous scrape's time, if there was one. */
  #record(s: PromSample, t: number, before: number | undefined): void {
    const key = seriesKey(s);
    const conv = conversion(s.name);
    let series = this.#series.get(key);
    if (!series) {
      series = { key, name: s.name, labels: s.labels, unit: conv.unit, points: [] };
      this.#series.set(key, series);
    }
    if (!conv.rate) {
      series.points.push({ t, v: s.value * conv.factor });
      return;
    }
    // A labelled counter appears on its first increment: one that was not there at the
    // previous scrape stood at 0 then, and what it counts since belongs to this interval.
    const prev = this.#previous.get(key) ?? (before !== undefined ? { t: before, v: 0 } : undefined);
    // The closing scrape may come right after a periodic one: a rate over a few ms is noise.
    if (prev && t - prev.t < this.#intervalMs / 2000) return;
    this.#previous.set(key, { t, v: s.value });
    // A counter that went down was reset (worker restart): no rate across the reset.
    if (prev && t > prev.t && s.value >= prev.v) {
      series.points.push({ t, v: ((s.value - prev.v) / (t - prev.t)) * conv.factor });
    }
  }
}

/**
 * The servers of a run as one: a lone server's report as it is; for several (the nodes of a
 * cluster, their series labelled apart), every series, with the scrape counts added up.
 */
export function combineServerReports(reports: readonly ServerMetricsReport[]): ServerMetricsReport {
  if (reports.length === 1) return reports[0]!;
  const errors = reports.flatMap((r) => (r.lastError === undefined ? [] : [r.lastError]));
  const available = reports.some((r) => r.available);
  const totals = combineTotals(reports.flatMap((r) => (r.totals ? [r.totals] : [])));
  return {
    url: reports.map((r) => r.url).join(', '),
    available,
    scrapes: reports.reduce((n, r) => n + r.scrapes, 0),
    failures: reports.reduce((n, r) => n + r.failures, 0),
    ...(errors.length > 0 ? { lastError: errors.join('; ') } : {}),
    ...(available ? {} : { unavailableReason: reports.map((r) => r.unavailableReason ?? r.url).join('; ') }),
    ...(totals ? { totals } : {}),
    series: reports.flatMap((r) => r.series).sort((a, b) => a.key.localeCompare(b.key)),
  };
}
