/**
 * Receives a remote video only while someone can see it. Every remote video consumer is
 * paused, on the server (so that the SFU stops forwarding it, and dynacast can stop its
 * publisher from sending layers nobody watches) and here (so that the browser stops
 * decoding it), unless the view reports its tile on screen; it is resumed when that
 * changes, and the server then asks the publisher for a keyframe. Audio never comes here.
 */
import type { RemoteMedia } from '../media/MediaSession.js';
import { RequestError } from '../protocol.js';
import type { SignalingClient } from '../signaling/SignalingClient.js';

interface Reception {
  remote: RemoteMedia;
  /** What the server was last told; consumers start paused there. */
  running: boolean;
  /** A pause or resume is on its way; what is wanted is looked at again once it settles. */
  busy: boolean;
}

export class VideoReception {
  readonly #signaling: SignalingClient;
  /** By producer id, as the view names them. */
  readonly #receptions = new Map<string, Reception>();
  #visible: ReadonlySet<string> = new Set();

  constructor(signaling: SignalingClient) {
    this.#signaling = signaling;
  }

  /** A new video consumer, still paused on the server as every consumer starts. */
  add(remote: RemoteMedia): void {
    const reception: Reception = { remote, running: false, busy: false };
    this.#receptions.set(remote.producerId, reception);
    void this.#settle(reception);
  }

  remove(producerId: string): void {
    this.#receptions.delete(producerId);
  }

  /** The session's media is gone (reconnect, leave): so are its consumers. */
  clear(): void {
    this.#receptions.clear();
  }

  /**
   * After a signaling drop: requests made during it failed, so what the server was told may
   * lag behind what the view shows; settle every consumer again.
   */
  resync(): void {
    for (const reception of this.#receptions.values()) void this.#settle(reception);
  }

  /** The producers whose video can be seen now; everything else is paused. */
  setVisible(producerIds: ReadonlySet<string>): void {
    this.#visible = new Set(producerIds);
    for (const reception of this.#receptions.values()) void this.#settle(reception);
  }

  /**
   * Brings the consumer to what is wanted, one request at a time, until it stays put. A
   * failed request is logged and left until the next change of what can be seen.
   */
  async #settle(reception: Reception): Promise<void> {
    const { consumer, producerId } = reception.remote;
    while (!reception.busy && !consumer.closed && this.#receptions.get(producerId) === reception) {
      const run = this.#visible.has(producerId);
      if (run === reception.running) {
        // A new consumer runs locally until told otherwise; nothing reaches it meanwhile.
        if (!run && !consumer.paused) consumer.pause();
        return;
      }
      reception.busy = true;
      try {
        // Locally first either way: the receiver stops decoding at once, and is ready for
        // the keyframe that follows a resume on the server.
        if (run) consumer.resume();
        else consumer.pause();
        await this.#signaling.request(run ? 'consumer:resume' : 'consumer:pause', { consumerId: consumer.id });
        reception.running = run;
      } catch (error) {
        // A consumer that closed meanwhile is not a problem; `consumer:closed` removes it.
        const gone = consumer.closed || (error instanceof RequestError && error.code === 'NOT_FOUND');
        if (!gone) console.warn(`cannot ${run ? 'resume' : 'pause'} a video`, error);
        // Nothing arrives for a consumer the server did not resume; do not wait for it.
        if (run && !consumer.closed) consumer.pause();
        return;
      } finally {
        reception.busy = false;
      }
    }
  }
}
