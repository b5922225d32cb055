/**
 * One tile of the grid: a participant's camera (or avatar when there is none) with name,
 * mute and speaking indicators, or a participant's shared screen.
 */
import { h } from '../lib/dom.js';
import { hue, initials } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import type { Participant } from '../room/RoomState.js';

export type TileKind = 'person' | 'screen';

export class VideoTile {
  readonly el: HTMLDivElement;
  readonly kind: TileKind;
  readonly #video: HTMLVideoElement;
  readonly #label: HTMLSpanElement;
  readonly #avatar: HTMLDivElement;
  #track: MediaStreamTrack | null = null;

  constructor(kind: TileKind, participant: Participant) {
    this.kind = kind;
    this.#video = h('video', { autoplay: true, playsinline: true });
    // Remote audio plays through AudioSink; tiles only ever show video.
    this.#video.muted = true;
    this.#label = h('span', { class: 'label' });
    this.#avatar = h('div', { class: 'avatar-circle' });
    this.el = h(
      'div',
      { class: `tile ${kind}`, 'data-peer': participant.id, 'data-source': kind === 'screen' ? 'screen' : 'camera' },
      this.#video,
      h('div', { class: 'avatar' }, this.#avatar),
      kind === 'screen' ? h('div', { class: 'tile-badge' }, 'Screen') : null,
      h('div', { class: 'nameplate' }, icon('micOff', 'icon muted'), this.#label),
    );
    this.update(participant);
  }

  update(p: Participant): void {
    const slot = this.kind === 'screen' ? p.media.screen : p.media.camera;
    const name = p.local ? `${p.displayName} (you)` : p.displayName;
    this.#label.textContent = this.kind === 'screen' ? `${p.displayName}’s screen` : name;
    this.el.dataset.name = p.displayName;
    this.#avatar.textContent = initials(p.displayName);
    this.#avatar.style.background = `hsl(${hue(p.displayName)} 55% 42%)`;

    const track = slot?.track ?? null;
    const videoOff = !track || slot?.paused === true;
    this.el.classList.toggle('video-off', videoOff);
    this.el.classList.toggle('mirrored', p.local && this.kind === 'person');
    if (this.kind === 'person') {
      const micOff = !p.media.mic || p.media.mic.paused;
      this.el.classList.toggle('mic-off', micOff);
      this.el.dataset.micOff = String(micOff);
    }
    this.el.dataset.videoOff = String(videoOff);
    this.#setTrack(track);
  }

  setSpeaking(speaking: boolean): void {
    this.el.classList.toggle('speaking', speaking);
  }

  resume(): void {
    if (this.#track && this.#video.paused) this.#play();
  }

  remove(): void {
    this.#video.srcObject = null;
    this.el.remove();
  }

  #setTrack(track: MediaStreamTrack | null): void {
    if (track === this.#track) return;
    this.#track = track;
    this.#video.srcObject = track ? new MediaStream([track]) : null;
    if (track) this.#play();
  }

  #play(): void {
    this.#video.play().catch((error: unknown) => {
      // A newer srcObject or a DOM move interrupts a pending play(); that is expected.
      if (!(error instanceof DOMException && error.name === 'AbortError')) console.warn('video playback refused', error);
    });
  }
}
