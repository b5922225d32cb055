/**
 * Which address a request comes from. Behind a reverse proxy every connection comes from the
 * proxy, so the client's own address is read from `X-Forwarded-For`, but only from proxies
 * that `TRUST_PROXY` names: anyone else could write that header. The rules are Express's
 * `trust proxy` (proxy-addr), so HTTP and Socket.IO agree on who a client is.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** `true` (every hop), `false` (none), a hop count, or addresses, subnets and names such as `loopback`. */
export type TrustProxy = boolean | number | string[];
export type TrustFn = (address: string, hop: number) => boolean;

export function trustFunction(trust: TrustProxy): TrustFn {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyaddr.compile(trust);
}

/** An address list in proxy-addr's syntax (`loopback`, `10.0.0.0/8`, `::1`), as a predicate. */
export function addressMatcher(list: string[]): (address: string) => boolean {
  if (list.length === 0) return () => false;
  const fn = proxyaddr.compile(list);
  return (address) => fn(address, 0);
}

/** IPv4 clients on a dual-stack socket appear as ::ffff:a.b.c.d; one client, one key. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function clientAddress(req: IncomingMessage, trust: TrustFn): string {
  // proxy-addr reads req.connection, which Node keeps as an alias of req.socket.
  return plain(proxyaddr(req as Parameters<typeof proxyaddr>[0], trust));
}
