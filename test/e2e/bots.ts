/**
 * Signaling-only participants: Socket.IO clients that join a room without media. They fill
 * rooms for the lobby and room-full scenarios without costing a browser.
 */
import { request, type JoinRequest } from '../../protocol/index.js';
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
