/**
 * The user's own capture devices: microphone, camera and screen. Tracks live as long as
 * the room visit, across reconnects, so that a rejoin republishes without new prompts.
 */
import { Emitter } from '../lib/Emitter.js';

export type CaptureKind = 'mic' | 'camera';
export type LocalSource = CaptureKind | 'screen';

type LocalMediaEvents = {
  /** A source's track appeared, was replaced or went away (null). */
  track: [LocalSource, MediaStreamTrack | null];
};

export class CaptureError extends Error {
  constructor(
    readonly source: LocalSource,
    readonly reason: 'denied' | 'missing' | 'busy' | 'unsupported' | 'other',
    cause: unknown,
  ) {
    super(CaptureError.describe(source, reason), { cause });
    this.name = 'CaptureError';
  }

  static describe(source: LocalSource, reason: CaptureError['reason']): string {
    const what = source === 'mic' ? 'Microphone' : source === 'camera' ? 'Camera' : 'Screen sharing';
    switch (reason) {
      case 'denied':
        return `${what}: permission denied`;
      case 'missing':
        return `${what}: no device found`;
      case 'busy':
        return `${what}: device is in use by another application`;
      case 'unsupported':
        return `${what}: not supported by this browser`;
      default:
        return `${what}: could not be started`;
    }
  }
}

function reasonOf(error: unknown): CaptureError['reason'] {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'missing';
  if (name === 'NotReadableError' || name === 'AbortError') return 'busy';
  return 'other';
}

const VIDEO_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 24, max: 30 },
};

export class LocalMedia extends Emitter<LocalMediaEvents> {
  readonly #tracks = new Map<LocalSource, MediaStreamTrack>();
  readonly #deviceIds = new Map<CaptureKind, string>();
  /** Devices remembered from an earlier visit: used when present, another one otherwise. */
  readonly #preferred = new Map<CaptureKind, string>();
  #closed = false;

  track(source: LocalSource): MediaStreamTrack | null {
    return this.#tracks.get(source) ?? null;
  }

  deviceId(kind: CaptureKind): string | undefined {
    return this.#tracks.get(kind)?.getSettings().deviceId ?? this.#deviceIds.get(kind);
  }

  prefer(kind: CaptureKind, deviceId: string | undefined): void {
    if (deviceId) this.#preferred.set(kind, deviceId);
    else this.#preferred.delete(kind);
  }

  /** Opens (or re-opens, on another device) the microphone or camera. */
  async capture(kind: CaptureKind, deviceId?: string): Promise<MediaStreamTrack> {
    if (!navigator.mediaDevices?.getUserMedia) throw new CaptureError(kind, 'unsupported', null);
    if (deviceId) this.#deviceIds.set(kind, deviceId);
    const wanted = deviceId ?? this.#deviceIds.get(kind);
    const preferred = this.#preferred.get(kind);
    const device = wanted ? { deviceId: { exact: wanted } } : preferred ? { deviceId: { ideal: preferred } } : {};
    const constraints: MediaStreamConstraints =
      kind === 'mic'
        ? { audio: { ...device, echoCancellation: true, noiseSuppression: true, autoGainControl: true } }
        : { video: { ...VIDEO_CONSTRAINTS, ...device } };
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      throw new CaptureError(kind, reasonOf(error), error);
    }
    const track = kind === 'mic' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    if (!track) throw new CaptureError(kind, 'missing', null);
    this.#setTrack(kind, track);
    return track;
  }

  async captureScreen(): Promise<MediaStreamTrack> {
    if (!navigator.mediaDevices?.getDisplayMedia) throw new CaptureError('screen', 'unsupported', null);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: 15, max: 30 } },
        audio: false,
      });
    } catch (error) {
      throw new CaptureError('screen', reasonOf(error), error);
    }
    const track = stream.getVideoTracks()[0];
    if (!track) throw new CaptureError('screen', 'missing', null);
    // Content hint tells the encoder to favour sharpness over motion for slides and text.
    track.contentHint = 'detail';
    this.#setTrack('screen', track);
    return track;
  }

  release(source: LocalSource): void {
    const track = this.#tracks.get(source);
    if (!track) return;
    this.#tracks.delete(source);
    track.stop();
    this.emit('track', source, null);
  }

  /**
   * The room visit is over: every track stops, and so does any that a capture still under
   * way (e.g. waiting for a permission prompt) delivers later.
   */
  close(): void {
    this.#closed = true;
    for (const source of [...this.#tracks.keys()]) this.release(source);
  }

  async listDevices(): Promise<{ mics: MediaDeviceInfo[]; cameras: MediaDeviceInfo[] }> {
    const devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
    // Without permission, entries have empty ids and cannot be selected.
    const usable = devices.filter((d) => d.deviceId !== '');
    return {
      mics: usable.filter((d) => d.kind === 'audioinput'),
      cameras: usable.filter((d) => d.kind === 'videoinput'),
    };
  }

  #setTrack(source: LocalSource, track: MediaStreamTrack): void {
    if (this.#closed) {
      track.stop();
      return;
    }
    // An unplugged device, a revoked permission or the browser's own "Stop sharing" button
    // end the track.
    track.addEventListener('ended', () => {
      if (this.#tracks.get(source) === track) this.release(source);
    });
    const old = this.#tracks.get(source);
    this.#tracks.set(source, track);
    if (old && old !== track) old.stop();
    this.emit('track', source, track);
  }
}
