/**
 * RTC ports: each ICE candidate of the test transport (the WebRtcServer of the worker the
 * test room landed on: one UDP and one TCP port) answers a signed STUN Binding request.
 */
import type { TransportAnswer } from '../answers.js';
import { fail, pass, skip, type Outcome } from '../report.js';
import { checkCandidate, type StunOutcome, type StunTarget } from '../stun.js';

export interface PortResult {
  target: StunTarget;
  outcome: StunOutcome;
}

export function probePorts(transport: TransportAnswer, timeoutMs: number): Promise<PortResult[]> {
  return Promise.all(
    transport.iceCandidates.map(async (c) => {
      const target: StunTarget = { address: c.address, port: c.port, protocol: c.protocol };
      return { target, outcome: await checkCandidate(target, transport.iceParameters, timeoutMs) };
    }),
  );
}

function fixFor(result: PortResult & { outcome: { ok: false } }): string {
  const { address, port, protocol } = result.target;
  const proto = protocol.toUpperCase();
  switch (result.outcome.reason) {
    case 'refused':
      return `nothing listens at ${address}:${port}/${protocol}: RTC_LISTEN_IP must be 0.0.0.0 or the address ANNOUNCED_IP leads to`;
    case 'unauthenticated':
      return `another program (or another Noom) holds ${proto} port ${port} at ${address}: give each server its own RTC_PORT_BASE`;
    case 'rejected':
      return `the server refused a valid check: see its log`;
    default:
      return `let ${proto} port ${port} through the firewall to this server (and forward it at the NAT), and check that ANNOUNCED_IP (${address}) is the server's`;
  }
}

export function portsOutcome(protocol: 'udp' | 'tcp', results: PortResult[]): Outcome {
  const mine = results.filter((r) => r.target.protocol === protocol);
  if (mine.length === 0) {
    return protocol === 'tcp'
      ? skip('the server offers no ICE over TCP (WEBRTC_TCP=false)')
      : fail('the server offers no UDP candidate', 'see the server log: its WebRtcServer listens on no UDP port');
  }
  const data = { targets: mine.map((r) => `${r.target.address}:${r.target.port}/${protocol}`) };
  const failed = mine.find((r): r is PortResult & { outcome: { ok: false } } => !r.outcome.ok);
  if (failed) return fail(failed.outcome.message, fixFor(failed), { ...data, reason: failed.outcome.reason });
  const answers = mine.map((r) => {
    const o = r.outcome as StunOutcome & { ok: true };
    return `${r.target.address}:${r.target.port} answered a signed STUN binding in ${o.rttMs} ms${o.mapped ? ` (saw us as ${o.mapped})` : ''}`;
  });
  return pass(answers.join('; '), { ...data, rttMs: (mine[0]!.outcome as { rttMs: number }).rttMs });
}
