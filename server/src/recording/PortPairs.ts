/**
 * UDP port pairs for the recorders' ffmpeg inputs (RTP on an even port, RTCP on the next).
 * A free pair is found by binding both and letting go; ffmpeg binds them a moment later, so
 * pairs handed out are kept out of later answers until given back: recordings that start
 * at the same time never get the same ports.
 */
import dgram from 'node:dgram';

export function bindUdp(port = 0): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

export class PortPairs {
  readonly #taken = new Set<number>();

  /** An even port whose next one is free too, not handed out before. */
  async take(): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const probe = await bindUdp();
      const port = probe.address().port;
      probe.close();
      const even = port % 2 === 0 ? port : port + 1;
      if (even + 1 > 65535 || this.#taken.has(even)) continue;
      const a = await bindUdp(even).catch(() => undefined);
      const b = a && (await bindUdp(even + 1).catch(() => undefined));
      a?.close();
      b?.close();
      if (a && b && !this.#taken.has(even)) {
        this.#taken.add(even);
        return even;
      }
    }
    throw new Error('no free UDP port pair for the recorder');
  }

  give(port: number): void {
    this.#taken.delete(port);
  }
}
