/**
 * A UDP relay that holds every datagram going to the server for a set time: a network delay
 * where the kernel has none to offer (no `netem`, `fq` or `etf` qdisc in this kernel). It
 * sits at the media address the server announces and forwards to where the server really
 * listens, one back socket per client so the server's answers find their way back, as
 * through a NAT. Answers are not held.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

export interface UdpDelay {
  /** The port the relay listens on (give the server the same one, on its own address). */
  readonly port: number;
  /** Datagrams to the server are held this long from now on. */
  setDelayMs(ms: number): void;
  /** Datagrams forwarded each way so far. */
  readonly forwarded: { up: number; down: number };
  close(): Promise<void>;
}

/**
 * Listens on `listenAddress` (a free port); forwards to `target.address`, on the same port
 * unless `target.port` says otherwise. Rejects when `listenAddress` is not local here.
 */
export async function startUdpDelay(listenAddress: string, target: { address: string; port?: number }): Promise<UdpDelay> {
  const front = createSocket('udp4');
  front.bind(0, listenAddress);
  await Promise.race([once(front, 'listening'), once(front, 'error').then(([e]) => Promise.reject(e as Error))]);
  const port = front.address().port;
  const targetPort = target.port ?? port;
  const backs = new Map<string, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const forwarded = { up: 0, down: 0 };
  let delayMs = 0;
  let closed = false;

  const backFor = (address: string, clientPort: number): Socket => {
    const key = `${address}:${clientPort}`;
    let back = backs.get(key);
    if (back) return back;
    back = createSocket('udp4');
    back.bind(0, target.address);
    back.on('message', (msg) => {
      if (closed) return;
      forwarded.down++;
      front.send(msg, clientPort, address);
    });
    backs.set(key, back);
    return back;
  };

  front.on('message', (msg, rinfo) => {
    if (closed) return;
    const back = backFor(rinfo.address, rinfo.port);
    const send = () => {
      if (closed) return;
      forwarded.up++;
      back.send(msg, targetPort, target.address);
    };
    if (delayMs <= 0) return send();
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, delayMs);
    timers.add(timer);
  });

  return {
    port,
    forwarded,
    setDelayMs: (ms) => {
      delayMs = ms;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all([front, ...backs.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
