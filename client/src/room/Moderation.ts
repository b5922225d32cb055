/**
 * What a moderator can do to the room and its members, as protocol requests. Each rejects
 * with the server's RequestError (FORBIDDEN for someone who is not a moderator, NOT_FOUND for
 * a member who has just left); the room's events then tell everyone what changed.
 */
import type { SignalingClient } from '../signaling/SignalingClient.js';
import type { Source } from './RoomState.js';

export class Moderation {
  readonly #signaling: SignalingClient;

  constructor(signaling: SignalingClient) {
    this.#signaling = signaling;
  }

  async mute(peerId: string, source: Source): Promise<void> {
    await this.#signaling.request('peer:mute', { peerId, source });
  }

  async remove(peerId: string): Promise<void> {
    await this.#signaling.request('peer:kick', { peerId });
  }

  async lock(password: string): Promise<void> {
    await this.#signaling.request('room:lock', { password });
  }

  async unlock(): Promise<void> {
    await this.#signaling.request('room:unlock', {});
  }

  async setLobby(enabled: boolean): Promise<void> {
    await this.#signaling.request('room:lobby', { enabled });
  }

  async admit(peerId: string): Promise<void> {
    await this.#signaling.request('lobby:admit', { peerId });
  }

  async deny(peerId: string): Promise<void> {
    await this.#signaling.request('lobby:deny', { peerId });
  }

  /** Starts recording the room; the answer says where the file can be downloaded. */
  async startRecording(): Promise<{ downloadPath: string }> {
    return this.#signaling.request('recording:start', {});
  }

  async stopRecording(): Promise<void> {
    await this.#signaling.request('recording:stop', {});
  }

  async endMeeting(): Promise<void> {
    await this.#signaling.request('room:end', {});
  }
}
