/**
 * Keeps the user's local sources published: which of mic, camera and screen are on, and
 * the producer for each on the current MediaSession. On a reconnect `attach()` receives the
 * new session and republishes whatever is on. The server's dynacast demands go to
 * SendLayers, which owns which simulcast layers the video producers send.
 */
import type * as ms from 'mediasoup-client/types';
import { Emitter } from '../lib/Emitter.js';
import { CaptureError, type CaptureKind, type LocalMedia, type LocalSource } from '../media/LocalMedia.js';
import type { MediaSession } from '../media/MediaSession.js';
import type { SignalingClient } from '../signaling/SignalingClient.js';
import { SendLayers } from './SendLayers.js';

export interface LocalSourceState {
  track: MediaStreamTrack | null;
  /** For mic and camera: the user wants it on. For screen: a share is running. */
  enabled: boolean;
}

type PublisherEvents = {
  change: [LocalSource];
  /** A problem worth telling the user about, e.g. camera permission denied. */
  problem: [string];
};

const SOURCES: readonly LocalSource[] = ['mic', 'camera', 'screen'];

export class Publisher extends Emitter<PublisherEvents> {
  readonly #signaling: SignalingClient;
  readonly #media: LocalMedia;
  readonly #enabled = new Map<LocalSource, boolean>([
    ['mic', false],
    ['camera', false],
    ['screen', false],
  ]);
  readonly #producers = new Map<LocalSource, ms.Producer>();
  /**
   * Sources with a produce() under way, and on which session: attach() and a 'track' event
   * can both want to publish a source, and only one of them may.
   */
  readonly #producing = new Map<LocalSource, MediaSession>();
  readonly #layers = new SendLayers();
  #session: MediaSession | null = null;

  constructor(signaling: SignalingClient, media: LocalMedia) {
    super();
    this.#signaling = signaling;
    this.#media = media;
    media.on('track', (source, track) => void this.#onTrack(source, track));
  }

  state(source: LocalSource): LocalSourceState {
    return { track: this.#media.track(source), enabled: this.#enabled.get(source) ?? false };
  }

  /**
   * Whether mic and camera start on, as chosen before joining. Set before the join, so that
   * the tracks already open publish unpaused; a capture still waiting for permission
   * publishes when it lands.
   */
  choose(wanted: Record<CaptureKind, boolean>): void {
    for (const kind of ['mic', 'camera'] as const) {
      this.#enabled.set(kind, wanted[kind]);
      this.emit('change', kind);
    }
  }

  /** Publishes every enabled source on a freshly joined session. */
  async attach(session: MediaSession): Promise<void> {
    this.#session = session;
    this.#producers.clear();
    this.#layers.clear();
    for (const source of SOURCES) {
      const track = this.#media.track(source);
      if (track && track.readyState === 'live') await this.#publish(source, track);
    }
  }

  /**
   * The session was resumed after a signaling drop: its producers lived on on the server,
   * but what was asked during the drop got no answer. Tell the server each producer's pause
   * state, and publish what was switched on meanwhile.
   */
  async resync(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    await Promise.all(
      SOURCES.map(async (source) => {
        const producer = this.#producers.get(source);
        if (producer && !producer.closed) {
          await this.#tell(producer.paused ? 'producer:pause' : 'producer:resume', producer.id);
          return;
        }
        const track = this.#media.track(source);
        if (track && track.readyState === 'live') await this.#publish(source, track);
      }),
    );
  }

  /** The session is gone (disconnect or leave); its producers died with it. */
  detach(): void {
    this.#session = null;
    this.#producers.clear();
    this.#layers.clear();
  }

  /** Dynacast: the highest simulcast layer of one of our producers that anyone watches (null: nobody). */
  setDemand(producerId: string, maxSpatialLayer: number | null): void {
    this.#layers.demand(producerId, maxSpatialLayer);
  }

  async setEnabled(kind: CaptureKind, enabled: boolean): Promise<void> {
    if (enabled && !this.#media.track(kind)) {
      try {
        // Publishing follows from the 'track' event.
        this.#enabled.set(kind, true);
        await this.#media.capture(kind);
      } catch (error) {
        this.#enabled.set(kind, false);
        this.#report(error);
      }
      this.emit('change', kind);
      return;
    }
    this.#enabled.set(kind, enabled);
    this.emit('change', kind);
    const producer = this.#producers.get(kind);
    if (!producer || producer.closed || producer.paused === !enabled) return;
    if (enabled) producer.resume();
    else producer.pause();
    await this.#tell(enabled ? 'producer:resume' : 'producer:pause', producer.id);
  }

  async switchDevice(kind: CaptureKind, deviceId: string): Promise<void> {
    try {
      await this.#media.capture(kind, deviceId);
    } catch (error) {
      this.#report(error);
    }
  }

  async startScreenShare(): Promise<void> {
    try {
      this.#enabled.set('screen', true);
      await this.#media.captureScreen();
    } catch (error) {
      this.#enabled.set('screen', false);
      // Dismissing the browser's picker is a choice, not a problem.
      if (!(error instanceof CaptureError && error.reason === 'denied')) this.#report(error);
      this.emit('change', 'screen');
    }
  }

  stopScreenShare(): void {
    this.#media.release('screen');
  }

  async #onTrack(source: LocalSource, track: MediaStreamTrack | null): Promise<void> {
    if (source === 'screen') this.#enabled.set('screen', track !== null);
    else if (!track) this.#enabled.set(source, false);
    this.emit('change', source);
    const producer = this.#producers.get(source);
    if (!track) {
      if (producer) {
        this.#producers.delete(source);
        producer.close();
        await this.#tell('producer:close', producer.id);
      }
      return;
    }
    if (producer && !producer.closed) {
      await producer.replaceTrack({ track });
      return;
    }
    await this.#publish(source, track);
  }

  async #publish(source: LocalSource, track: MediaStreamTrack): Promise<void> {
    const session = this.#session;
    if (!session || session.closed || this.#producers.has(source) || this.#producing.get(source) === session) return;
    if (!session.canProduce(track.kind === 'audio' ? 'audio' : 'video')) return;
    const paused = source !== 'screen' && !this.#enabled.get(source);
    this.#producing.set(source, session);
    try {
      const producer = await session.produce(source, track, paused);
      if (this.#session !== session) {
        producer.close();
        return;
      }
      this.#producers.set(source, producer);
      if (producer.kind === 'video') this.#layers.add(producer);
      // The 'track' events of a device switch or a release found no producer yet: apply them.
      const current = this.#media.track(source);
      if (!current) {
        this.#producers.delete(source);
        producer.close();
        await this.#tell('producer:close', producer.id);
        return;
      }
      if (current !== track) await producer.replaceTrack({ track: current });
      // Someone toggled the source while producing: catch up.
      const wantPaused = source !== 'screen' && !this.#enabled.get(source);
      if (wantPaused !== producer.paused) {
        if (wantPaused) producer.pause();
        else producer.resume();
        await this.#tell(wantPaused ? 'producer:pause' : 'producer:resume', producer.id);
      }
    } catch (error) {
      if (this.#session === session) this.#report(error);
    } finally {
      if (this.#producing.get(source) === session) this.#producing.delete(source);
    }
  }

  async #tell(name: 'producer:pause' | 'producer:resume' | 'producer:close', producerId: string): Promise<void> {
    if (!this.#signaling.connected) return;
    try {
      await this.#signaling.request(name, { producerId });
    } catch (error) {
      console.warn(`${name} failed`, error);
    }
  }

  #report(error: unknown): void {
    if (error instanceof CaptureError) this.emit('problem', error.message);
    else {
      console.error(error);
      this.emit('problem', error instanceof Error ? error.message : String(error));
    }
  }
}
