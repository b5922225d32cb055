/**
 * The RPC between a benchmark and its bot processes (Node IPC, JSON). Each request carries
 * an id; the child answers `{ id, ok, result | error }`. Replies are parsed with zod: they
 * cross a process boundary, and a malformed one should fail loudly, not skew a figure.
 */
import { z } from 'zod';

export const JoinArgs = z.object({
  url: z.url(),
  roomId: z.string(),
  displayName: z.string(),
  publish: z.object({ audio: z.boolean(), video: z.boolean() }),
  consume: z.boolean(),
});
export type JoinArgs = z.infer<typeof JoinArgs>;

export const BotRequest = z.discriminatedUnion('cmd', [
  z.object({ id: z.number(), cmd: z.literal('join'), args: JoinArgs }),
  z.object({ id: z.number(), cmd: z.literal('stats') }),
  z.object({ id: z.number(), cmd: z.literal('closeAll') }),
]);
export type BotRequest = z.infer<typeof BotRequest>;

export const JoinResult = z.object({
  peerId: z.string(),
  /** room:join sent → ack. */
  joinAckMs: z.number(),
  /** The whole SyntheticPeer.join(): connect, join, device, transports, produce, consume. */
  setupMs: z.number(),
});
export type JoinResult = z.infer<typeof JoinResult>;

export const ConsumerCounters = z.object({
  consumerId: z.string(),
  producerId: z.string(),
  kind: z.enum(['audio', 'video']),
  packets: z.number(),
  bytes: z.number(),
  lost: z.number(),
  closed: z.boolean(),
  /** room:join sent → this consumer's first RTP packet, in the bot's own clock. */
  firstPacketMs: z.number().optional(),
  /** room:join sent → the consumer:resume ack (after which the server asks for a keyframe). */
  resumedMs: z.number().optional(),
  /** PLIs this consumer's receiver sent to the server. */
  plisSent: z.number(),
});
export type ConsumerCounters = z.infer<typeof ConsumerCounters>;

export const PeerCounters = z.object({
  peerId: z.string(),
  roomId: z.string(),
  consumers: z.array(ConsumerCounters),
  packetsSent: z.number(),
  /** room:join sent → the receive transport connected. */
  recvConnectedMs: z.number().optional(),
});
export type PeerCounters = z.infer<typeof PeerCounters>;

export const StatsResult = z.object({
  pid: z.number(),
  peers: z.array(PeerCounters),
  warnings: z.number(),
  failures: z.array(z.string()),
  /** The bot's longest event-loop stall since the previous stats request, ms: a stalled bot stops reading its sockets. */
  loopDelayMaxMs: z.number(),
});
export type StatsResult = z.infer<typeof StatsResult>;
