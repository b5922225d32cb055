/** Which peers a run starts, in which room, through which server, in which order. */
import type { LoadTestOptions } from './options.js';

export type PeerRole = 'publisher' | 'subscriber';

export interface PeerPlan {
  index: number;
  roomId: string;
  role: PeerRole;
  displayName: string;
  /** Base URL of the server (the cluster node) this peer joins through. */
  url: string;
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
  o: Pick<LoadTestOptions, 'rooms' | 'publishers' | 'subscribers'>,
  roomPrefix: string,
  urls: readonly string[],
): PeerPlan[] {
  const plan: PeerPlan[] = [];
  const add = (role: PeerRole, count: number, firstInRoom: number) => {
    for (let n = 0; n < count; n++) {
      for (let r = 0; r < o.rooms; r++) {
        const tag = role === 'publisher' ? 'pub' : 'sub';
        const url = urls[(firstInRoom + n + r) % urls.length]!;
        plan.push({ index: plan.length, roomId: `${roomPrefix}-${r + 1}`, role, displayName: `load-${tag}-${r + 1}-${n + 1}`, url });
      }
    }
  };
  add('publisher', o.publishers, 0);
  add('subscriber', o.subscribers, o.publishers);
  return plan;
}
