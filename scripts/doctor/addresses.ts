/**
 * What kind of address an IP is (loopback, private, public …), which addresses this host
 * owns, and what a URL's host name resolves to: enough to tell whether an announced IP can
 * be right.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export type AddressKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared'
  | 'documentation'
  | 'public';

/** Ranges clients on the Internet cannot reach (RFC 1918, 4193, 6598, 3927, 5737, 3849). */
const RANGES: [Exclude<AddressKind, 'public'>, 'ipv4' | 'ipv6', string, number][] = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['shared', 'ipv4', '100.64.0.0', 10],
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['documentation', 'ipv4', '192.0.2.0', 24],
  ['documentation', 'ipv4', '198.51.100.0', 24],
  ['documentation', 'ipv4', '203.0.113.0', 24],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['private', 'ipv6', 'fc00::', 7],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['documentation', 'ipv6', '2001:db8::', 32],
];

const LISTS = new Map<Exclude<AddressKind, 'public'>, BlockList>();
for (const [kind, family, net, prefix] of RANGES) {
  let list = LISTS.get(kind);
  if (!list) LISTS.set(kind, (list = new BlockList()));
  list.addSubnet(net, prefix, family);
}

/** How the address is reachable; IPv4-mapped IPv6 addresses are judged as IPv4. */
export function addressKind(ip: string): AddressKind {
  const v4 = ip.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : undefined;
  const address = v4 ?? ip;
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  for (const [kind, list] of LISTS) if (list.check(address, family)) return kind;
  return 'public';
}

/** Addresses that only some clients can reach, in words for a message. */
export const KIND_WORDS: Record<AddressKind, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address (only this machine reaches it)',
  private: 'a private address (reachable only inside its network)',
  'link-local': 'a link-local address (reachable only on its network segment)',
  shared: 'a carrier-grade NAT address (reachable only inside the provider network)',
  documentation: 'a documentation address (no host owns it)',
  public: 'a public address',
};

/** Every address of this host's interfaces, loopback included. */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address);
  }
  return out;
}

export function sameAddress(a: string, b: string): boolean {
  const norm = (ip: string) => (ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip.toLowerCase());
  return norm(a) === norm(b);
}

/** The addresses a host name resolves to (an IP literal resolves to itself). */
export async function resolveHost(host: string): Promise<string[]> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) return [bare];
  const found = await lookup(bare, { all: true });
  return found.map((a) => a.address);
}
