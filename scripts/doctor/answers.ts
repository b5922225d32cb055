/**
 * The parts of the server's answers the doctor reads, as schemas: whatever a server (or a
 * proxy in front of it) sends is parsed before use, and an answer that does not fit is a
 * finding, not a crash.
 */
import { z } from 'zod';

export const HealthAnswer = z.object({ status: z.string(), workerCount: z.number().int().nonnegative() });
export const ReadyAnswer = z.object({ ready: z.boolean() });

export const IceServerAnswer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServerAnswer = z.infer<typeof IceServerAnswer>;

export const JoinAnswer = z.object({
  peerId: z.string().min(1),
  iceServers: z.array(IceServerAnswer).max(64),
});

const Port = z.number().int().min(1).max(65535);

export const IceCandidateAnswer = z
  .object({
    /** mediasoup 3.12+ calls it `address`; older servers only `ip`. */
    address: z.string().min(1).optional(),
    ip: z.string().min(1).optional(),
    port: Port,
    protocol: z.enum(['udp', 'tcp']),
    type: z.string(),
    tcpType: z.string().optional(),
  })
  .transform(({ address, ip, ...rest }) => ({ ...rest, address: address ?? ip ?? '' }))
  .refine((c) => c.address !== '', 'a candidate without an address');
export type IceCandidateAnswer = z.infer<typeof IceCandidateAnswer>;

export const TransportAnswer = z.object({
  id: z.string().min(1),
  iceParameters: z.object({
    usernameFragment: z.string().min(1).max(256),
    password: z.string().min(1).max(256),
  }),
  iceCandidates: z.array(IceCandidateAnswer).max(64),
});
export type TransportAnswer = z.infer<typeof TransportAnswer>;

/** The first problem of a failed parse, for a message. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'malformed';
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}
