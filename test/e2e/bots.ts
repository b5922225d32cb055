/**
 * Participants without a browser. Signaling-only bots are Socket.IO clients that join a
 * room without media: they fill rooms for the lobby and room-full scenarios. Video bots
 * publish a camera (a pre-encoded VP8 clip replayed by the load tester's synthetic peer)
 * and receive nothing: a room full of faces for the price of a few RTP packets.
 */
import { request, type JoinRequest } from '../../protocol/index.js';
import { prepareMedia, SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { connect } from '../support/server.js';

export interface Bot {
  socket: ProtocolSocket;
  /** Sends a chat message to the bot's room. */
  say(text: string): Promise<void>;
  close(): void;
}

export async function joinBot(url: string, join: JoinRequest): Promise<Bot> {
  const socket = await connect(url);
  try {
    await request(socket, 'room:join', join);
  } catch (error) {
    socket.close();
    throw error;
  }
  return {
    socket,
    say: async (text) => {
      await request(socket, 'chat:send', { text });
    },
    close: () => socket.close(),
  };
}

export interface VideoBot {
  peer: SyntheticPeer;
  /** The producer id of its camera. */
  videoProducerId: string;
  /** The producer id of its microphone, if it talks (its audio is marked as speech). */
  audioProducerId: string | undefined;
  close(): Promise<void>;
}

export async function joinVideoBot(
  url: string,
  roomId: string,
  displayName: string,
  options: { audio?: boolean } = {},
): Promise<VideoBot> {
  await prepareMedia();
  const peer = await SyntheticPeer.join({
    url,
    roomId,
    displayName,
    publish: { video: true, audio: options.audio ?? false },
    consume: false,
  });
  const producerOf = (kind: 'audio' | 'video') => peer.producerStats().find((p) => p.kind === kind)?.producerId;
  const videoProducerId = producerOf('video');
  if (!videoProducerId) {
    await peer.close();
    throw new Error(`video bot ${displayName} publishes no video`);
  }
  return { peer, videoProducerId, audioProducerId: producerOf('audio'), close: () => peer.close() };
}
