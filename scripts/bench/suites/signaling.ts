/**
 * (c) Signaling only: many plain Socket.IO clients in rooms of ten, chatting; fan-out latency
 * (send → receipt at every other member, one clock per room) and the server's event-loop
 * lag, read from its /metrics once a second (prom-client resets the histogram per scrape,
 * so each scrape covers the second before it).
 */
import { ask, startChatClients, stopChatClients } from '../chat/clients.js';
import { cpuMeter } from '../lib/procCpu.js';
import { scrapeMetrics } from '../lib/metricsText.js';
import { log, sleep } from '../lib/output.js';
import { startServer } from '../lib/serverProcess.js';
import { distribution, formatMs, median, round } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

/**
 * Noom's metrics sample the event loop with a 10 ms timer (eventLoopMonitoringPrecision in
 * server/src/http/metrics.ts) and the histogram includes that interval: an idle loop reads
 * ≈ 10 ms. The summary gives the raw figure and the delay beyond the interval.
 */
const MONITOR_INTERVAL_MS = 10;

interface LagSample {
  p50: number;
  p99: number;
  max: number;
}

async function sampleLag(url: string, until: () => boolean): Promise<LagSample[]> {
  const out: LagSample[] = [];
  while (!until()) {
    await sleep(1000);
    const m = await scrapeMetrics(url);
    out.push({
      p50: m.value('noom_nodejs_eventloop_lag_p50_seconds') * 1000,
      p99: m.value('noom_nodejs_eventloop_lag_p99_seconds') * 1000,
      max: m.value('noom_nodejs_eventloop_lag_max_seconds') * 1000,
    });
  }
  return out;
}

function lagSummary(samples: readonly LagSample[]): { seconds: number; p50Median?: number; p99Median?: number; p99Max?: number; max?: number } {
  if (samples.length === 0) return { seconds: 0 };
  return {
    seconds: samples.length,
    p50Median: round(median(samples.map((s) => s.p50))!, 2),
    p99Median: round(median(samples.map((s) => s.p99))!, 2),
    p99Max: round(Math.max(...samples.map((s) => s.p99)), 2),
    max: round(Math.max(...samples.map((s) => s.max)), 2),
  };
}

export async function signaling(o: SuiteOptions): Promise<SuiteResult> {
  const roomCount = o.quick ? 10 : scaled(100, o);
  const membersPerRoom = 10;
  const clients = roomCount * membersPerRoom;
  const durationMs = o.quick ? 5_000 : 20_000;
  const intervalMs = 500; // two messages a second per room
  const processes = Math.max(1, Math.min(o.botProcesses, roomCount));
  log(`signaling: ${clients} Socket.IO clients in ${roomCount} rooms of ${membersPerRoom}, ${processes} client processes, ${1000 / intervalMs} msg/s per room for ${durationMs / 1000} s`);

  const server = await startServer('noom', 'signaling', {});
  const children = await startChatClients(processes).catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  try {
    const roomIds = Array.from({ length: roomCount }, (_, i) => `chat-${i}`);
    const connectStart = performance.now();
    const connected = await Promise.all(
      children.map((c, k) =>
        ask(c, { cmd: 'connect', urls: [server.url], rooms: roomIds.filter((_, i) => i % processes === k), membersPerRoom, concurrency: 10 }, 'connected', 300_000),
      ),
    );
    const connectSeconds = (performance.now() - connectStart) / 1000;
    const sockets = connected.reduce((a, c) => a + c.sockets, 0);
    const joinMs = distribution(connected.flatMap((c) => c.joinMs));
    log(`  ${sockets}/${clients} clients connected and joined in ${round(connectSeconds, 1)} s; connect+join ${formatMs(joinMs)}`);

    let idleDone = false;
    const idleLag = sampleLag(server.url, () => idleDone);
    await sleep(3000);
    idleDone = true;
    const idle = lagSummary(await idleLag);

    let chatDone = false;
    const chatLag = sampleLag(server.url, () => chatDone);
    const cpu = cpuMeter([server.pid]);
    const results = await Promise.all(
      children.map((c) => ask(c, { cmd: 'chat', durationMs, intervalMs }, 'chatDone', durationMs + 60_000)),
    );
    const serverCpu = cpu.stop();
    chatDone = true;
    const busy = lagSummary(await chatLag);

    const latencies = results.flatMap((r) => r.latencies);
    const sent = results.reduce((a, r) => a + r.sent, 0);
    const expected = results.reduce((a, r) => a + r.expected, 0);
    const fanout = distribution(latencies);
    const deliveredPercent = round((100 * latencies.length) / Math.max(1, expected), 2);
    const sendFailures = results.flatMap((r) => r.sendFailures);
    log(`  chat fan-out ${formatMs(fanout)}; ${latencies.length}/${expected} deliveries`);
    return {
      name: 'signaling',
      summary: [
        `${sockets} clients in ${roomCount} rooms: connect + join p50 ${joinMs.p50} / p95 ${joinMs.p95} ms, all in ${round(connectSeconds, 1)} s`,
        `chat fan-out (${sent} messages, ${round(sent / (durationMs / 1000), 0)} msg/s, ${latencies.length} deliveries = ${deliveredPercent} %): p50 ${fanout.p50} / p99 ${fanout.p99} / max ${fanout.max} ms`,
        `server event-loop delay while chatting (per-second histograms, ${MONITOR_INTERVAL_MS} ms timer included): p50 ${busy.p50Median} ms, p99 median ${busy.p99Median} ms (≈ ${round((busy.p99Median ?? MONITOR_INTERVAL_MS) - MONITOR_INTERVAL_MS, 2)} ms of lag), worst p99 ${busy.p99Max} ms, max ${busy.max} ms; idle with ${sockets} sockets: p99 median ${idle.p99Median} ms; server CPU ${round(100 * serverCpu.coreShare, 1)} % of a core while chatting`,
      ],
      data: {
        clients,
        sockets,
        roomCount,
        membersPerRoom,
        durationMs,
        intervalMs,
        connectSeconds: round(connectSeconds, 2),
        joinMs,
        connectFailures: connected.flatMap((c) => c.failed),
        sent,
        expected,
        delivered: latencies.length,
        fanout,
        sendFailures,
        eventLoopLagMs: { idle, chatting: busy },
        serverCoreShare: round(serverCpu.coreShare, 4),
      },
    };
  } finally {
    await stopChatClients(children);
    await server.stop();
  }
}
