/**
 * An independent count of the RTP a server sends, kept by the kernel: an nftables counter
 * on UDP datagrams leaving the server's media port whose header says RTP (version 2, a
 * payload type of 96–127 with or without the marker bit, which rules out RTCP's 200–207,
 * STUN and DTLS) and whose SSRC is not mediasoup's bandwidth-probation stream (1234).
 * Counted at the input hook of the tests' private namespace: every datagram once.
 */
import { execFileSync } from 'node:child_process';
import { blackoutUnavailable } from './blackout.js';

/** mediasoup's RTC::RtpProbationSsrc: padding it sends to probe bandwidth, not media. */
const PROBATION_SSRC = 1234;

export interface RtpCounter {
  /** Datagrams and bytes (IP length) counted so far. */
  read(): { packets: number; bytes: number };
  /**
   * From now on every datagram from the port is dropped before it is counted: the count
   * stops at this instant, and so does what the receivers can get, however late they read.
   */
  freeze(): void;
  stop(): void;
}

let made = 0;

/** Throws where blackoutUnavailable() says nftables cannot be used. */
export function countRtpFrom(port: number): RtpCounter {
  const unavailable = blackoutUnavailable();
  if (unavailable) throw new Error(`no RTP counter: ${unavailable}`);
  const table = `noom_rtp_${process.pid}_${++made}`;
  const rules = [
    `add table inet ${table}`,
    `add chain inet ${table} input { type filter hook input priority -20; policy accept; }`,
    // @th is the transport header: the UDP header is 64 bits, RTP's first byte follows.
    `add rule inet ${table} input udp sport ${port} @th,64,2 2 @th,72,8 { 96-127, 224-255 } @th,128,32 != ${PROBATION_SSRC} counter name rtp`,
  ];
  execFileSync('nft', ['-f', '-'], { input: [rules[0], `add counter inet ${table} rtp`, ...rules.slice(1)].join('\n') + '\n' });
  let stopped = false;
  let frozen = false;
  return {
    freeze() {
      if (frozen) return;
      frozen = true;
      // A chain of lower priority runs first: what it drops never reaches the counter.
      const freeze = [
        `add chain inet ${table} freeze { type filter hook input priority -30; policy accept; }`,
        `add rule inet ${table} freeze udp sport ${port} drop`,
      ];
      execFileSync('nft', ['-f', '-'], { input: freeze.join('\n') + '\n' });
    },
    read() {
      const out = execFileSync('nft', ['-j', 'list', 'counter', 'inet', table, 'rtp'], { encoding: 'utf8' });
      const m = /"packets":\s*(\d+),\s*"bytes":\s*(\d+)/.exec(out);
      if (!m) throw new Error(`unreadable nft counter: ${out.slice(0, 200)}`);
      return { packets: Number(m[1]), bytes: Number(m[2]) };
    },
    stop() {
      if (stopped) return;
      stopped = true;
      execFileSync('nft', ['delete', 'table', 'inet', table]);
    },
  };
}
