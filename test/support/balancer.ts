/**
 * A loopback TCP load balancer for tests, as a deployment puts one in front of several Noom
 * nodes: it polls each backend's `GET /readyz` and sends every new connection to the first
 * backend (in the order given) that last answered 200, so a draining node gets no new
 * connections while the ones it has go on. Connections it cannot place are refused.
 */
import net from 'node:net';
import { once } from 'node:events';

export interface Balancer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startBalancer(backendPorts: number[], pollMs = 200): Promise<Balancer> {
  const ready = new Map<number, boolean>(backendPorts.map((p) => [p, false]));
  const open = new Set<net.Socket>();
  const poll = async () => {
    await Promise.all(
      backendPorts.map(async (port) => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(pollMs * 5) });
          ready.set(port, res.status === 200);
        } catch {
          ready.set(port, false);
        }
      }),
    );
  };
  await poll();
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    void poll().finally(() => (polling = false));
  }, pollMs);
  const server = net.createServer((client) => {
    const target = backendPorts.find((p) => ready.get(p));
    if (target === undefined) return void client.destroy();
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      clearInterval(timer);
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
