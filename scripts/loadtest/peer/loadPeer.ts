/**
 * What the load tester and the tests need from a peer, whichever WebRTC engine runs it:
 * `SyntheticPeer` (mediasoup-client on werift, replaying a pre-encoded clip) or `WrtcPeer`
 * (mediasoup-client on @roamhq/wrtc, encoding generated frames with libwebrtc).
 */
import type { EventEmitter } from 'node:events';
import type { ProtocolSocket } from './signaling.js';
import type { ConsumerStats, ProducerStats, SyntheticPeerEvents } from './syntheticPeer.js';
import type { SpeakerChange } from './peerBase.js';

export type PeerEngine = 'werift' | 'wrtc';
export const PEER_ENGINES = ['werift', 'wrtc'] as const satisfies readonly PeerEngine[];

export interface WaitForMediaOptions {
  consumers: number;
  minPackets: number;
  timeoutMs: number;
}

export interface LoadPeer {
  readonly socket: ProtocolSocket;
  readonly peerId: string;
  /** performance.now() just before room:join was sent, and when its ack arrived. */
  readonly joinSentAt: number;
  readonly joinedAt: number;
  readonly events: EventEmitter<SyntheticPeerEvents>;
  readonly closed: boolean;
  /** The server's `activeSpeaker` announcements, with their arrival times. */
  readonly speakerChanges: readonly SpeakerChange[];
  producerIds(): string[];
  consumerStats(): ConsumerStats[];
  producerStats(): ProducerStats[];
  waitForMedia(opts: WaitForMediaOptions): Promise<void>;
  /** Stops media, closes producers, consumers, transports and the socket. Idempotent. */
  close(): Promise<void>;
}

/**
 * Resolves once at least `consumers` consumers have each received `minPackets` packets;
 * rejects after `timeoutMs` with what was received so far.
 */
export async function waitForConsumerMedia(
  peer: Pick<LoadPeer, 'peerId' | 'closed' | 'consumerStats'>,
  opts: WaitForMediaOptions,
): Promise<void> {
  const deadline = performance.now() + opts.timeoutMs;
  for (;;) {
    const stats = peer.consumerStats();
    const ready = stats.filter((s) => s.packets >= opts.minPackets).length;
    if (ready >= opts.consumers) return;
    if (peer.closed) throw new Error(`peer ${peer.peerId} closed while waiting for media`);
    if (performance.now() >= deadline) {
      const detail = stats.map((s) => `${s.kind} ${s.consumerId.slice(0, 8)}: ${s.packets}`).join(', ');
      throw new Error(
        `peer ${peer.peerId}: ${ready}/${opts.consumers} consumers reached ${opts.minPackets} packets ` +
          `in ${opts.timeoutMs} ms (${stats.length} consumers${detail ? `: ${detail}` : ''})`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
