/**
 * Latency and jitter aggregates of a run, from the consumers' end-of-run summaries: per
 * track, and over every consumer of the run. Each consumer contributes its own figures once
 * (its latency p50 and p95, its jitter), so a track's figures say how its subscribers fared,
 * not how its busiest subscriber did.
 */
import type { PeerSummary } from './ipc.js';
import type { MediaQualityReport, TrackQuality } from './report/types.js';
import { percentile, round, summarize } from './stats.js';

interface Collected {
  p50: number[];
  p95: number[];
  jitter: number[];
}

const empty = (): Collected => ({ p50: [], p95: [], jitter: [] });

function pct(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  return round(percentile([...values].sort((a, b) => a - b), p), 2);
}

function trackQuality(c: Collected): TrackQuality {
  const q: TrackQuality = { consumers: c.p50.length };
  const set = (key: keyof Omit<TrackQuality, 'consumers'>, v: number | undefined) => {
    if (v !== undefined) q[key] = v;
  };
  set('latencyP50Ms', pct(c.p50, 50));
  set('latencyP95Ms', pct(c.p95, 95));
  set('jitterP50Ms', pct(c.jitter, 50));
  set('jitterP95Ms', pct(c.jitter, 95));
  return q;
}

/** Per-track quality (by producer id) and the run's, from every peer's consumers. */
export function mediaQuality(peers: readonly PeerSummary[]): { tracks: Map<string, TrackQuality>; run: MediaQualityReport } {
  const byTrack = new Map<string, Collected>();
  const all = empty();
  let consumers = 0;
  for (const p of peers) {
    for (const c of p.consumers) {
      consumers++;
      let t = byTrack.get(c.producerId);
      if (!t) byTrack.set(c.producerId, (t = empty()));
      if (c.latencyMs) {
        for (const into of [t, all]) {
          into.p50.push(c.latencyMs.p50);
          into.p95.push(c.latencyMs.p95);
        }
      }
      if (c.jitterMs !== undefined) {
        t.jitter.push(c.jitterMs);
        all.jitter.push(c.jitterMs);
      }
    }
  }
  const tracks = new Map([...byTrack].map(([id, c]) => [id, trackQuality(c)]));
  return {
    tracks,
    run: {
      consumers,
      measured: all.p50.length,
      latencyP50Ms: summarize(all.p50),
      latencyP95Ms: summarize(all.p95),
      jitterMs: summarize(all.jitter),
    },
  };
}
