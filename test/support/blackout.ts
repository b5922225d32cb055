/**
 * A network blackout for media, made with nftables in the network namespace the tests run
 * in: every UDP datagram (and, if asked, TCP on the given ports) is dropped as it arrives,
 * so senders see no error, as on a path that went dead (a Wi-Fi switch, a flaky uplink).
 * Signaling on other TCP ports is untouched.
 *
 * Only ever in a private network namespace (`unshare -n`, as scripts/test.sh runs the
 * tests): in the machine's own namespace it would cut everyone's UDP.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The interfaces the tests' private namespace has (scripts/test.sh): loopback and one veth pair. */
const TEST_NAMESPACE_INTERFACES = new Set(['lo', 'noom0', 'noom1']);

/** Why a blackout cannot be made here, or undefined if it can. */
export function blackoutUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'nftables needs root';
  let interfaces: string[];
  try {
    // Lists the interfaces of this process's own network namespace.
    interfaces = readFileSync('/proc/self/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0]!.trim())
      .filter(Boolean);
  } catch {
    return 'cannot list the network interfaces (Linux needed)';
  }
  const foreign = interfaces.filter((name) => !TEST_NAMESPACE_INTERFACES.has(name));
  if (foreign.length > 0) {
    return `not in the tests' private network namespace (it has ${foreign.join(', ')}): a blackout would cut the machine's own UDP`;
  }
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'nft (Debian package nftables) is not installed: scripts/setup.sh --test installs it';
  }
  return undefined;
}

export interface Blackout {
  /** performance.now() when it started. */
  readonly startedAt: number;
  /** Lets packets through again (idempotent); returns how long the blackout lasted, in ms. */
  end(): number;
}

let made = 0;

/** Starts dropping UDP (and TCP to or from `tcpPorts`). Throws where blackoutUnavailable() says so. */
export function startBlackout(options: { tcpPorts?: readonly number[] } = {}): Blackout {
  const unavailable = blackoutUnavailable();
  if (unavailable) throw new Error(`no blackout: ${unavailable}`);
  const table = `noom_blackout_${process.pid}_${++made}`;
  const ports = options.tcpPorts ?? [];
  const rules = [
    `add table inet ${table}`,
    // The input hook: dropped on arrival, so that the sender's send() still succeeds.
    `add chain inet ${table} input { type filter hook input priority -10; policy accept; }`,
    `add rule inet ${table} input meta l4proto udp drop`,
    ...(ports.length > 0
      ? [
          `add rule inet ${table} input tcp dport { ${ports.join(', ')} } drop`,
          `add rule inet ${table} input tcp sport { ${ports.join(', ')} } drop`,
        ]
      : []),
  ];
  execFileSync('nft', ['-f', '-'], { input: rules.join('\n') + '\n' });
  const startedAt = performance.now();
  let endedAfter: number | undefined;
  return {
    startedAt,
    end() {
      if (endedAfter === undefined) {
        execFileSync('nft', ['delete', 'table', 'inet', table]);
        endedAfter = performance.now() - startedAt;
      }
      return endedAfter;
    },
  };
}

/**
 * Random loss of `percent` % of the UDP datagrams arriving in the namespace, each drawn on
 * its own (nftables `numgen random`). `tc qdisc … netem loss` would do the same on the way
 * out, but this machine's kernel is built without netem (CONFIG_NET_SCH_NETEM unset).
 * Throws where blackoutUnavailable() says so; `end()` lets everything through again.
 */
export function startUdpLoss(percent: number): { end(): void } {
  const unavailable = blackoutUnavailable();
  if (unavailable) throw new Error(`no UDP loss: ${unavailable}`);
  if (!(Number.isInteger(percent) && percent > 0 && percent < 100)) throw new RangeError('percent must be an integer in 1..99');
  const table = `noom_loss_${process.pid}_${++made}`;
  const rules = [
    `add table inet ${table}`,
    `add chain inet ${table} input { type filter hook input priority -10; policy accept; }`,
    `add rule inet ${table} input meta l4proto udp numgen random mod 100 < ${percent} drop`,
  ];
  execFileSync('nft', ['-f', '-'], { input: rules.join('\n') + '\n' });
  let ended = false;
  return {
    end() {
      if (ended) return;
      ended = true;
      execFileSync('nft', ['delete', 'table', 'inet', table]);
    },
  };
}
