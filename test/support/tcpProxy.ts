/**
 * A loopback TCP proxy that can be cut: while blocked it drops every connection, as a
 * network path that failed. Lets one node lose Redis for longer than another.
 */
import net from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  readonly port: number;
  /** Drops open connections and refuses new ones until `unblock()`. */
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let blocked = false;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (blocked) return void client.destroy();
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
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
  return {
    port: (server.address() as net.AddressInfo).port,
    block() {
      blocked = true;
      for (const socket of open) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
