/**
 * (f) Invalid requests as a flood: one client (from 127.0.0.2) sends large requests that
 * fail validation, as fast as its socket takes them, never waiting for answers, and
 * reconnects whenever the server drops it. Another client (127.0.0.1) asks for the room
 * list every 50 ms: its answer times, without and with the flood, are what the flood costs
 * everyone else. Run against the default limits (no address exempt).
 */
import { io, type Socket } from 'socket.io-client';
import { request } from '../../../protocol/index.js';
import { connectSocket } from '../../loadtest/peer/signaling.js';
import { log, sleep } from '../lib/output.js';
import { startServer } from '../lib/serverProcess.js';
import { distribution, formatMs, round } from '../lib/stats.js';
import type { SuiteOptions, SuiteResult } from './types.js';

/** A producer:create whose codec list is far too long: parsed, then refused. */
function invalidRequest(bytes: number): unknown {
  const codec = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] };
  const n = Math.ceil(bytes / JSON.stringify(codec).length);
  return { transportId: 'x', kind: 'video', rtpParameters: { codecs: Array.from({ length: n }, () => codec), encodings: [] } };
}

interface Flood {
  sent: number;
  bytes: number;
  connections: number;
  stop(): void;
}

function flood(url: string, size: number): Flood {
  const payload = invalidRequest(size);
  const bytes = JSON.stringify(payload).length;
  const state = { sent: 0, bytes: 0, connections: 0, stopped: false };
  let socket: Socket | undefined;
  const connect = () => {
    if (state.stopped) return;
    state.connections += 1;
    socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, localAddress: '127.0.0.2' } as Parameters<typeof io>[1]);
    const s = socket;
    const pump = () => {
      // Keep the socket's buffer full, no more: what the server reads is the limit.
      while (!state.stopped && s.connected && (s.io.engine?.writeBuffer.length ?? 0) < 16) {
        s.emit('producer:create', payload, () => undefined);
        state.sent += 1;
        state.bytes += bytes;
      }
      if (!state.stopped && s.connected) setTimeout(pump, 1);
    };
    s.on('connect', pump);
    s.on('disconnect', () => setTimeout(connect, 100));
    s.on('connect_error', () => setTimeout(connect, 100));
  };
  connect();
  return {
    get sent() {
      return state.sent;
    },
    get bytes() {
      return state.bytes;
    },
    get connections() {
      return state.connections;
    },
    stop() {
      state.stopped = true;
      socket?.disconnect();
    },
  };
}

async function probe(url: string, ms: number): Promise<number[]> {
  const s = await connectSocket(url, 10_000);
  const times: number[] = [];
  const end = Date.now() + ms;
  try {
    while (Date.now() < end) {
      const t0 = performance.now();
      await request(s, 'rooms:list', {}, 10_000).catch(() => undefined);
      times.push(performance.now() - t0);
      await sleep(50);
    }
  } finally {
    s.disconnect();
  }
  return times;
}

export async function signalingFlood(o: SuiteOptions): Promise<SuiteResult> {
  const windowMs = o.quick ? 3_000 : 10_000;
  const sizes = [240 * 1024, 60 * 1024];
  log(`signaling-flood: answer times of a client's room-list requests, alone and while another address floods invalid requests (${sizes.map((s) => `${s / 1024} KiB`).join(', ')}), ${windowMs / 1000} s each`);
  const server = await startServer('noom', 'signaling-flood', { RATE_LIMIT_EXEMPT: '' });
  try {
    const quiet = distribution(await probe(server.url, windowMs));
    log(`  quiet: ${formatMs(quiet)}`);
    const floods: Record<string, unknown> = {};
    for (const size of sizes) {
      const f = flood(server.url, size);
      await sleep(500);
      const during = distribution(await probe(server.url, windowMs));
      f.stop();
      const entry = { requestBytes: size, during, sent: f.sent, sentMBps: round(f.bytes / 1e6 / (windowMs / 1000 + 0.5), 1), connections: f.connections };
      floods[`${size / 1024}KiB`] = entry;
      log(`  flood of ${size / 1024} KiB requests: ${formatMs(during)}; the flooder sent ${f.sent} requests (${entry.sentMBps} MB/s) over ${f.connections} connections`);
      await sleep(2000);
    }
    return {
      name: 'signaling-flood',
      summary: [
        `room-list answer p50 / p95: quiet ${quiet.p50} / ${quiet.p95} ms; ` +
          Object.entries(floods)
            .map(([k, v]) => `flood of ${k}: ${(v as { during: { p50: number; p95: number } }).during.p50} / ${(v as { during: { p95: number } }).during.p95} ms`)
            .join('; '),
      ],
      data: { windowMs, quiet, floods },
    };
  } finally {
    await server.stop();
  }
}
