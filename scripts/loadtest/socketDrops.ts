/**
 * Datagrams the kernel dropped on this process's own UDP sockets because their receive
 * buffer was full: loss the load generator caused itself, told apart from the server's (the
 * machine-wide UDP counters mix both when the server runs on the same machine). Linux only.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** /proc/net/udp columns: the socket's inode and its drop count. */
const INODE = 9;
const DROPS = 12;

export class SocketDrops {
  /** Highest count seen per socket: a closed socket's drops stay counted. */
  readonly #byInode = new Map<string, number>();
  #available = true;

  /** Drops on this process's sockets so far; undefined where /proc cannot tell. */
  read(): number | undefined {
    if (!this.#available) return undefined;
    let own: Set<string>;
    try {
      own = new Set(
        readdirSync('/proc/self/fd').flatMap((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? [];
          } catch {
            return []; // closed between the listing and the read
          }
        }),
      );
    } catch {
      this.#available = false;
      return undefined;
    }
    for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        const inode = f[INODE];
        if (inode === undefined || !own.has(inode)) continue;
        const drops = Number(f[DROPS]);
        if (Number.isFinite(drops) && drops > (this.#byInode.get(inode) ?? 0)) this.#byInode.set(inode, drops);
      }
    }
    let total = 0;
    for (const n of this.#byInode.values()) total += n;
    return total;
  }
}
