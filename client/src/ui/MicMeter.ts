/**
 * A live level meter for a microphone track, so that people can see their microphone works
 * before they join. The level is RMS over the analyser's window, on a rough dB scale, and is
 * also exposed as `aria-valuenow` and `data-level` (0–100).
 */
import { h } from '../lib/dom.js';

/** RMS below this is silence; at 0 dBFS the meter is full. */
const FLOOR_DB = -60;

export class MicMeter {
  readonly el: HTMLDivElement;
  readonly #bar = h('div', { class: 'meter-bar' });
  #context: AudioContext | null = null;
  #source: MediaStreamAudioSourceNode | null = null;
  #frame = 0;
  #track: MediaStreamTrack | null = null;
  /** Browsers suspend an AudioContext made without a user gesture; the first one resumes it. */
  readonly #resume = () => void this.#context?.resume();

  constructor(label: string) {
    this.el = h(
      'div',
      { class: 'meter', role: 'meter', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'data-level': 0 },
      this.#bar,
    );
  }

  /** Follows `track` (null: no microphone, the meter rests at 0). */
  setTrack(track: MediaStreamTrack | null): void {
    if (track === this.#track) return;
    this.#track = track;
    this.#source?.disconnect();
    this.#source = null;
    cancelAnimationFrame(this.#frame);
    this.#show(0);
    if (!track) return;
    if (!this.#context) {
      this.#context = new AudioContext();
      document.addEventListener('pointerdown', this.#resume);
      document.addEventListener('keydown', this.#resume);
    }
    const analyser = this.#context.createAnalyser();
    analyser.fftSize = 1024;
    this.#source = this.#context.createMediaStreamSource(new MediaStream([track]));
    this.#source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const db = 10 * Math.log10(sum / samples.length || 1e-12);
      this.#show(Math.round(Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB)) * 100));
      this.#frame = requestAnimationFrame(tick);
    };
    this.#frame = requestAnimationFrame(tick);
  }

  destroy(): void {
    this.setTrack(null);
    document.removeEventListener('pointerdown', this.#resume);
    document.removeEventListener('keydown', this.#resume);
    void this.#context?.close();
    this.#context = null;
  }

  #show(level: number): void {
    this.#bar.style.width = `${level}%`;
    if (this.el.dataset.level === String(level)) return;
    this.el.dataset.level = String(level);
    this.el.setAttribute('aria-valuenow', String(level));
  }
}
