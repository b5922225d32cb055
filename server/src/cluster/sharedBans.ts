/**
 * Kick bans every node of the cluster reads: one Redis key per removed identity and room,
 * expiring with the ban. Keys hash what they hold, so no identity (an address, a name, a
 * token subject) is written to Redis in the clear.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SharedBanStore } from '../rooms/moderation/KickBans.js';
import { keys } from './keys.js';
import { withDeadline, type RedisConnections } from './redis.js';

const DEADLINE_MS = 1000;
const digest = (key: string) => keys.kickBan(createHash('sha256').update(key).digest('hex'));

export function sharedBanStore(redis: RedisConnections): SharedBanStore {
  return {
    put: async (key, ms) => {
      await withDeadline(redis.commands.set(digest(key), '1', { PX: ms }), DEADLINE_MS);
    },
    remainingMs: async (key) => {
      // PTTL: -2 no such key, -1 no expiry (never written so).
      const ttl = z.number().parse(await withDeadline(redis.commands.pTTL(digest(key)), DEADLINE_MS));
      return Math.max(0, ttl);
    },
  };
}
