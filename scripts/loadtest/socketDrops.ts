/**
 * Datagrams the kernel dropped on a process's own UDP sockets because their receive buffer
 * was full: loss the load generator caused itself, told apart from the server's (the
 * machine-wide UDP counters mix both when the server runs on the same machine). Linux only.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Receive-buffer drops of each UDP socket in this network namespace, by socket inode. */
export function udpDropsByInode(): Map<string, number> {
  const drops = new Map<string, number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
      if (f.length >= 13) drops.set(f[9]!, Number(f[12]));
    }
  }
  return drops;
}

/** Inodes of the sockets a process holds open; undefined where /proc cannot tell. */
export function socketInodes(pid: number | 'self' = 'self'): string[] | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.slice(1, 2) ?? [];
      } catch {
        return []; // closed between the listing and the read
      }
    });
  } catch {
    return undefined;
  }
}

/** This process's drops, kept across the life of its sockets. */
export class SocketDrops {
  /** Highest count seen per socket: a closed socket's drops stay counted. */
  readonly #byInode = new Map<string, number>();
  #available = true;

  /** Drops on this process's sockets so far; undefined where /proc cannot tell. */
  read(): number | undefined {
    if (!this.#available) return undefined;
    const own = socketInodes();
    if (own === undefined) {
      this.#available = false;
      return undefined;
    }
    const drops = udpDropsByInode();
    for (const inode of own) {
      const n = drops.get(inode);
      if (n !== undefined && Number.isFinite(n) && n > (this.#byInode.get(inode) ?? 0)) this.#byInode.set(inode, n);
    }
    let total = 0;
    for (const n of this.#byInode.values()) total += n;
    return total;
  }
}
