/**
 * Dynacast on the publishing side: our video producers send only the simulcast layers
 * someone watches, as the server's `producer:demand` says, and nothing at all while nobody
 * watches. This is not the camera switch: pausing a producer tells the room and shows as
 * "camera off" everywhere, while layers turned off here are invisible to the others and
 * come back as soon as the server asks. A new producer sends every layer until told
 * otherwise, so nothing needs carrying over to the producers of a rejoin.
 */
import type * as ms from 'mediasoup-client/types';

/**
 * mediasoup-client turns on the encodings up to the index it is given and turns off the
 * others, so an index below the first turns them all off.
 */
const NO_LAYER = -1;

interface Sender {
  producer: ms.Producer;
  /** Undefined until the server says: a fresh producer sends every layer. */
  wanted: number | null | undefined;
  applied: number | null | undefined;
  busy: boolean;
}

export class SendLayers {
  readonly #senders = new Map<string, Sender>();
  /** Demands that arrived before their producer was known here: the server may speak before produce() resolves. */
  readonly #early = new Map<string, number | null>();

  /** A new video producer of ours. */
  add(producer: ms.Producer): void {
    const sender: Sender = { producer, wanted: this.#early.get(producer.id), applied: undefined, busy: false };
    this.#early.delete(producer.id);
    this.#senders.set(producer.id, sender);
    producer.observer.once('close', () => {
      if (this.#senders.get(producer.id) === sender) this.#senders.delete(producer.id);
    });
    void this.#apply(sender);
  }

  /** The server's word on a producer of ours: the highest layer anyone watches, null for none. */
  demand(producerId: string, maxSpatialLayer: number | null): void {
    const sender = this.#senders.get(producerId);
    if (!sender) {
      this.#early.set(producerId, maxSpatialLayer);
      return;
    }
    sender.wanted = maxSpatialLayer;
    void this.#apply(sender);
  }

  /** The session's producers are gone (reconnect, leave). */
  clear(): void {
    this.#senders.clear();
    this.#early.clear();
  }

  async #apply(sender: Sender): Promise<void> {
    if (sender.busy) return;
    sender.busy = true;
    try {
      while (sender.wanted !== undefined && sender.wanted !== sender.applied && !sender.producer.closed) {
        const target = sender.wanted;
        // Through mediasoup-client rather than on the RTCRtpSender: it also marks the layers
        // paused in the SDP it answers itself with, so the next renegotiation (another
        // producer starting or stopping) does not turn them back on.
        await sender.producer.setMaxSpatialLayer(target ?? NO_LAYER);
        sender.applied = target;
      }
    } catch (error) {
      if (!sender.producer.closed) console.warn('cannot change the video layers sent', error);
    } finally {
      sender.busy = false;
    }
  }
}
