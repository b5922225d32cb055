/** The IPC between the signaling benchmark and its client processes; replies parsed with zod. */
import { z } from 'zod';

export const ChatCommand = z.discriminatedUnion('cmd', [
  /** Member i of a room connects to urls[i % urls.length] (several nodes of a cluster). */
  z.object({
    cmd: z.literal('connect'),
    urls: z.array(z.url()).min(1),
    rooms: z.array(z.string()),
    membersPerRoom: z.number().int().min(2),
    concurrency: z.number().int().min(1),
  }),
  /** Senders rotate through the members connected to urls[0]. */
  z.object({ cmd: z.literal('chat'), durationMs: z.number().positive(), intervalMs: z.number().positive() }),
]);
export type ChatCommand = z.infer<typeof ChatCommand>;

export const ChatReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('connected'), sockets: z.number(), failed: z.array(z.string()), joinMs: z.array(z.number()) }),
  z.object({
    type: z.literal('chatDone'),
    sent: z.number(),
    sendFailures: z.array(z.string()),
    /** Deliveries expected: every message at every other member. */
    expected: z.number(),
    /** send → receipt at each other member, ms, in this process's clock. */
    latencies: z.array(z.number()),
    /** The same, by the receiver's node (index into the connect command's urls). */
    byNode: z.array(z.array(z.number())),
  }),
]);
export type ChatReply = z.infer<typeof ChatReply>;
