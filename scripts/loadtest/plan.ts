/** Which peers a run starts, in which room, through which server, in which order. */
import { publishersInRoom, type LoadTestOptions } from './options.js';

export type PeerRole = 'publisher' | 'subscriber';

export interface PeerPlan {
  index: number;
  roomId: string;
  role: PeerRole;
  displayName: string;
  /** Base URL of the server (the cluster node) this peer joins through. */
  url: string;
  /** A publisher's place among its room's publishers (its speaking turn), and their number. */
  publisherSlot?: { slot: number; of: number };
}

/**
 * Publishers of every room first, then subscribers, rooms interleaved: subscribers find
 * media to consume as soon as they join, and every room fills at the same pace.
 *
 * With several servers (the nodes of a cluster), the k-th peer of room r joins through
 * `urls[(k + r) % urls.length]`: round-robin within each room, so that every room of two
 * peers or more spans the nodes whatever the number of rooms, and the nodes get equal shares
 * (with one room, peer i joins through `urls[i % urls.length]`).
 */
export function planPeers(
  o: Pick<LoadTestOptions, 'rooms' | 'publishers' | 'publishersMax' | 'subscribers'>,
  roomPrefix: string,
  urls: readonly string[],
): PeerPlan[] {
  const plan: PeerPlan[] = [];
  const publishers = Array.from({ length: o.rooms }, (_, r) => publishersInRoom(o, r));
  const add = (role: PeerRole, count: (room: number) => number, firstInRoom: (room: number) => number) => {
    const most = Math.max(0, ...Array.from({ length: o.rooms }, (_, r) => count(r)));
    for (let n = 0; n < most; n++) {
      for (let r = 0; r < o.rooms; r++) {
        if (n >= count(r)) continue;
        const tag = role === 'publisher' ? 'pub' : 'sub';
        const url = urls[(firstInRoom(r) + n + r) % urls.length]!;
        plan.push({
          index: plan.length,
          roomId: `${roomPrefix}-${r + 1}`,
          role,
          displayName: `load-${tag}-${r + 1}-${n + 1}`,
          url,
          ...(role === 'publisher' ? { publisherSlot: { slot: n, of: count(r) } } : {}),
        });
      }
    }
  };
  add('publisher', (r) => publishers[r]!, () => 0);
  add('subscriber', () => o.subscribers, (r) => publishers[r]!);
  return plan;
}
