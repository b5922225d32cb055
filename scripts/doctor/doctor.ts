/**
 * `npm run doctor`: checks, against a running Noom server, what breaks real deployments,
 * in the order a browser meets them: HTTP, TLS, Socket.IO over WebSocket, the announced IP,
 * the RTC ports (signed STUN bindings over UDP and TCP), TURN, and a real publish → consume
 * round trip. A check that cannot be tried because an earlier one failed is skipped.
 */
import { addressKind, hostAddresses, resolveHost } from './addresses.js';
import { assessAnnouncedIp } from './checks/announcedIp.js';
import { checkHttp } from './checks/http.js';
import { checkMedia } from './checks/media.js';
import { portsOutcome, probePorts, type PortResult } from './checks/ports.js';
import { openProbe, type Probe } from './checks/signaling.js';
import { checkTls } from './checks/tls.js';
import { checkTurn } from './checks/turn.js';
import { CHECK_TITLES, skip, summarize, type CheckId, type CheckResult, type DoctorReport, type Outcome } from './report.js';

export interface DoctorOptions {
  url: string;
  /** Per network step (connect, request, STUN transaction). Default 5 s. */
  timeoutMs?: number;
  /** For RTP to come back in the round trip. Default 15 s. */
  mediaTimeoutMs?: number;
  onCheck?: (event: { phase: 'start'; id: CheckId; title: string } | { phase: 'done'; result: CheckResult }) => void;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const mediaTimeoutMs = options.mediaTimeoutMs ?? 15_000;
  const startedAt = new Date();
  const base = new URL(options.url);
  const origin = base.origin;
  const results: CheckResult[] = [];

  const record = (id: CheckId, outcome: Outcome, since: number): void => {
    const result: CheckResult = { id, title: CHECK_TITLES[id], ...outcome, durationMs: Math.round(performance.now() - since) };
    results.push(result);
    options.onCheck?.({ phase: 'done', result });
  };
  const run = async (id: CheckId, work: () => Promise<Outcome>): Promise<Outcome> => {
    options.onCheck?.({ phase: 'start', id, title: CHECK_TITLES[id] });
    const since = performance.now();
    const outcome = await work();
    record(id, outcome, since);
    return outcome;
  };
  const skipRest = (ids: CheckId[], why: string) => {
    for (const id of ids) record(id, skip(why), performance.now());
  };

  const urlAddresses = await resolveHost(base.hostname).catch(() => [] as string[]);
  const loopback = urlAddresses.length > 0 && urlAddresses.every((a) => addressKind(a) === 'loopback');

  let reachable = false;
  await run('http', async () => {
    const r = await checkHttp(new URL('/', origin), timeoutMs);
    reachable = r.reachable;
    return r.outcome;
  });
  let tlsInvalid = false;
  await run('tls', async () => {
    if (!reachable) return skip('needs the server to answer HTTP');
    const r = await checkTls(base, loopback, timeoutMs);
    tlsInvalid = r.invalid;
    return r.outcome;
  });
  const later: CheckId[] = ['websocket', 'announced-ip', 'udp-port', 'tcp-port', 'turn', 'turn-relay', 'media'];
  if (!reachable) {
    skipRest(later, 'needs the server to answer HTTP');
    return summarize(origin, startedAt, results);
  }
  if (tlsInvalid) {
    // Socket.IO, like a browser, will not connect: nothing after this can be tried.
    skipRest(later, 'needs a certificate the client accepts (a private CA can be added with NODE_EXTRA_CA_CERTS=ca.pem)');
    return summarize(origin, startedAt, results);
  }

  let probe: Probe | undefined;
  try {
    await run('websocket', async () => {
      const r = await openProbe(origin, timeoutMs);
      probe = r.probe;
      return r.outcome;
    });
    if (!probe) {
      skipRest(later.slice(1), 'needs a Socket.IO connection and a test room');
      return summarize(origin, startedAt, results);
    }
    const joined = probe;

    // The announced IP is judged with the port checks' results, so they run first.
    const portsStarted = performance.now();
    options.onCheck?.({ phase: 'start', id: 'announced-ip', title: CHECK_TITLES['announced-ip'] });
    const ports: PortResult[] = await probePorts(joined.transport, timeoutMs);
    const announced = [...new Set(joined.transport.iceCandidates.map((c) => c.address))];
    record(
      'announced-ip',
      assessAnnouncedIp({
        announced,
        urlHost: base.hostname,
        urlAddresses,
        hostAddresses: hostAddresses(),
        reached: (ip) => ports.some((p) => p.target.address === ip && p.outcome.ok),
      }),
      portsStarted,
    );
    const udp = portsOutcome('udp', ports);
    record('udp-port', udp, portsStarted);
    const tcp = portsOutcome('tcp', ports);
    record('tcp-port', tcp, portsStarted);

    const turnStarted = performance.now();
    options.onCheck?.({ phase: 'start', id: 'turn', title: CHECK_TITLES.turn });
    const mediaUdp = ports.find((p) => p.target.protocol === 'udp')?.target;
    const turn = await checkTurn(joined.iceServers, mediaUdp, joined.transport.iceParameters, timeoutMs);
    record('turn', turn.turn, turnStarted);
    record('turn-relay', turn.relay, turnStarted);

    const portsOk = udp.status === 'pass' && tcp.status !== 'fail';
    await run('media', () => checkMedia(origin, joined, mediaTimeoutMs, timeoutMs, portsOk));
  } finally {
    probe?.close();
  }
  return summarize(origin, startedAt, results);
}
