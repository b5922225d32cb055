/**
 * The capacity benchmark's two process boundaries, as zod schemas: the benchmark ↔ its
 * publisher process (RTP sender), and the suite ↔ the run inside the private network
 * namespace. Everything that crosses is parsed, so that a malformed reply fails loudly
 * instead of skewing a figure.
 */
import { z } from 'zod';

export const SenderTarget = z.object({
  host: z.string(),
  port: z.number().int().positive(),
  audioSsrc: z.number().int().nonnegative(),
  videoSsrc: z.number().int().nonnegative(),
});
export type SenderTarget = z.infer<typeof SenderTarget>;

export const SenderRequest = z.discriminatedUnion('cmd', [
  /** Starts one publisher (audio + video to one address, as a bundled WebRTC sender does). */
  z.object({ id: z.number(), cmd: z.literal('publish'), target: SenderTarget }),
  z.object({ id: z.number(), cmd: z.literal('counts') }),
  /** Stops sending (at once, between two ticks) and answers with the counts: a window's edge. */
  z.object({ id: z.number(), cmd: z.literal('pause') }),
  /** Sends again, from now on (no catch-up burst for the pause). */
  z.object({ id: z.number(), cmd: z.literal('resume') }),
  /** Stops and forgets every publisher (their target is gone). */
  z.object({ id: z.number(), cmd: z.literal('unpublishAll') }),
]);
export type SenderRequest = z.infer<typeof SenderRequest>;

export const StreamCounts = z.object({ ssrc: z.number(), kind: z.enum(['audio', 'video']), packets: z.number(), bytes: z.number() });
export type StreamCounts = z.infer<typeof StreamCounts>;

export const SenderCounts = z.object({
  streams: z.array(StreamCounts),
  keyframes: z.number(),
  keyframeRequests: z.number(),
  /** Frames sent late by more than one frame interval (the sender's own stalls). */
  lateFrames: z.number(),
  /** The longest event-loop stall since the previous request, ms. */
  loopDelayMaxMs: z.number(),
});
export type SenderCounts = z.infer<typeof SenderCounts>;



/** What the suite hands the run inside the network namespace. */
export const CapacityPlan = z.object({
  /** The network namespace of the process that started the run: the sink refuses to go in there. */
  outerNetns: z.string(),
  quick: z.boolean(),
  scale: z.number().positive(),
});
export type CapacityPlan = z.infer<typeof CapacityPlan>;

/** What the run sends back: the headline lines and every window. */
export const CapacityReport = z.object({ summary: z.array(z.string()), data: z.unknown() });
export type CapacityReport = z.infer<typeof CapacityReport>;
