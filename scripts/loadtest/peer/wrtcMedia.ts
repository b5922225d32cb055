/**
 * Raw media for real-encoder peers: a generated camera (I420 frames, a moving pattern with
 * sensor-like noise) and microphone (a tone in 10 ms frames), pushed into wrtc's
 * nonstandard RTCVideoSource / RTCAudioSource so that libwebrtc encodes them as a browser
 * would encode a webcam and a microphone.
 *
 * One clock per process drives every source and generates each frame once: the per-stream
 * cost is libwebrtc's encoding and sending, not the drawing.
 */
import { loadWrtc, type Wrtc } from './wrtc.js';

export const CAMERA = { width: 320, height: 240, fps: 15 } as const;
export const MICROPHONE = { sampleRate: 48_000, frameMs: 10, toneHz: 440 } as const;

type VideoSource = InstanceType<Wrtc['nonstandard']['RTCVideoSource']>;
type AudioSource = InstanceType<Wrtc['nonstandard']['RTCAudioSource']>;
type VideoFrame = Parameters<VideoSource['onFrame']>[0];
type AudioData = Parameters<AudioSource['onData']>[0];

const TICK_MS = MICROPHONE.frameMs;
const SAMPLES_PER_FRAME = (MICROPHONE.sampleRate * MICROPHONE.frameMs) / 1000;
/** After a stall of the event loop, catch up on at most this many frames and drop the rest. */
const MAX_CATCH_UP = 5;
/** Noise table: random enough that the encoder has detail to spend its bitrate on. */
const NOISE = Uint8Array.from({ length: 1 << 16 }, () => Math.floor(Math.random() * 24));

function drawFrame(n: number): VideoFrame {
  const { width, height } = CAMERA;
  const data = new Uint8Array((width * height * 3) / 2);
  const shift = n * 3;
  const noiseAt = Math.floor(Math.random() * NOISE.length);
  // Luma: diagonal bands drifting right, plus a bright square bouncing across.
  const box = 48;
  const span = (width - box) * 2;
  const pos = (n * 4) % span;
  const bx = pos < width - box ? pos : span - pos;
  const by = Math.round(((height - box) / 2) * (1 + Math.sin(n / 10)));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const inBoxRow = y >= by && y < by + box;
    for (let x = 0; x < width; x++) {
      const band = ((x + y + shift) & 63) < 32 ? 70 : 150;
      const lit = inBoxRow && x >= bx && x < bx + box ? 90 : 0;
      data[row + x] = band + lit + NOISE[(row + x + noiseAt) & 0xffff]!;
    }
  }
  // Chroma: slowly cycling hue, constant over the frame.
  const u = 128 + Math.round(40 * Math.sin(n / 30));
  const v = 128 + Math.round(40 * Math.cos(n / 30));
  const chroma = (width / 2) * (height / 2);
  data.fill(u, width * height, width * height + chroma);
  data.fill(v, width * height + chroma);
  return { width, height, data };
}

function toneFrame(n: number): AudioData {
  const samples = new Int16Array(SAMPLES_PER_FRAME);
  const first = n * SAMPLES_PER_FRAME;
  for (let i = 0; i < SAMPLES_PER_FRAME; i++) {
    // About -16 dBFS: loud enough for the server's active-speaker observer.
    samples[i] = Math.round(5000 * Math.sin((2 * Math.PI * MICROPHONE.toneHz * (first + i)) / MICROPHONE.sampleRate));
  }
  return {
    samples,
    sampleRate: MICROPHONE.sampleRate,
    bitsPerSample: 16,
    channelCount: 1,
    numberOfFrames: SAMPLES_PER_FRAME,
  };
}

class MediaClock {
  readonly #video = new Set<VideoSource>();
  readonly #audio = new Set<AudioSource>();
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #videoFrames = 0;
  #audioFrames = 0;

  add(source: { video: VideoSource } | { audio: AudioSource }): void {
    if ('video' in source) this.#video.add(source.video);
    else this.#audio.add(source.audio);
    if (!this.#timer) {
      this.#startedAt = performance.now();
      this.#videoFrames = 0;
      this.#audioFrames = 0;
      this.#timer = setInterval(() => this.#tick(), TICK_MS);
    }
  }

  remove(source: VideoSource | AudioSource): void {
    this.#video.delete(source as VideoSource);
    this.#audio.delete(source as AudioSource);
    if (this.#video.size === 0 && this.#audio.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Frames are due by the wall clock, not by timer ticks, which drift and stall. */
  #tick(): void {
    const elapsed = performance.now() - this.#startedAt;
    const audioDue = Math.floor(elapsed / MICROPHONE.frameMs);
    if (audioDue - this.#audioFrames > MAX_CATCH_UP) this.#audioFrames = audioDue - MAX_CATCH_UP;
    while (this.#audioFrames < audioDue) {
      const frame = toneFrame(this.#audioFrames++);
      for (const s of this.#audio) s.onData(frame);
    }
    const videoDue = Math.floor((elapsed * CAMERA.fps) / 1000);
    if (videoDue > this.#videoFrames) {
      // Late video frames are dropped, as a camera would.
      this.#videoFrames = videoDue;
      if (this.#video.size === 0) return;
      const frame = drawFrame(videoDue);
      for (const s of this.#video) s.onFrame(frame);
    }
  }
}

const clock = new MediaClock();

export interface GeneratedTrack {
  track: MediaStreamTrack;
  stop(): void;
}

/** A camera track: 320x240 at 15 fps of generated frames. */
export function createCameraTrack(): GeneratedTrack {
  const source = new (loadWrtc().nonstandard.RTCVideoSource)({ isScreencast: false });
  return clocked(source, { video: source });
}

/** A microphone track: a mono 48 kHz tone in 10 ms frames. */
export function createMicrophoneTrack(): GeneratedTrack {
  const source = new (loadWrtc().nonstandard.RTCAudioSource)();
  return clocked(source, { audio: source });
}

/** A track of `source`, fed by the shared clock until it is stopped. */
function clocked(source: VideoSource | AudioSource, entry: { video: VideoSource } | { audio: AudioSource }): GeneratedTrack {
  const track = source.createTrack();
  clock.add(entry);
  return {
    track,
    stop: () => {
      clock.remove(source);
      track.stop();
    },
  };
}
