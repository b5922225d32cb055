/** Which peers a run starts, in which room, in which order. */
import type { LoadTestOptions } from './options.js';

export type PeerRole = 'publisher' | 'subscriber';

export interface PeerPlan {
  index: number;
  roomId: string;
  role: PeerRole;
  displayName: string;
}

/**
 * Publishers of every room first, then subscribers, rooms interleaved: subscribers find
 * media to consume as soon as they join, and every room fills at the same pace.
 */
export function planPeers(o: Pick<LoadTestOptions, 'rooms' | 'publishers' | 'subscribers'>, roomPrefix: string): PeerPlan[] {
  const plan: PeerPlan[] = [];
  const add = (role: PeerRole, count: number) => {
    for (let n = 0; n < count; n++) {
      for (let r = 0; r < o.rooms; r++) {
        const tag = role === 'publisher' ? 'pub' : 'sub';
        plan.push({ index: plan.length, roomId: `${roomPrefix}-${r + 1}`, role, displayName: `load-${tag}-${r + 1}-${n + 1}` });
      }
    }
  };
  add('publisher', o.publishers);
  add('subscriber', o.subscribers);
  return plan;
}
