/**
 * Plays every remote participant's microphone through its own hidden <audio> element.
 * When the browser's autoplay policy blocks playback (a direct link opened without a
 * click), it offers a button whose click unlocks audio.
 */
import { Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import type { Participant, RoomState } from '../room/RoomState.js';

export class AudioSink {
  readonly el: HTMLDivElement;
  readonly #players = new Map<string, HTMLAudioElement>();
  readonly #subs = new Subscriptions();
  readonly #unlock: HTMLButtonElement;

  constructor(state: RoomState) {
    this.#unlock = h(
      'button',
      { class: 'btn primary audio-unlock', hidden: true, onclick: () => this.#retryAll() },
      icon('volume'),
      'Click to enable sound',
    );
    this.el = h('div', { class: 'audio-sink' }, this.#unlock);
    for (const p of state.participants) this.#apply(p);
    this.#subs.add(
      state.on('participant', (p) => this.#apply(p)),
      state.on('participantRemoved', (id) => this.#drop(id)),
    );
  }

  destroy(): void {
    this.#subs.clear();
    for (const id of [...this.#players.keys()]) this.#drop(id);
    this.el.remove();
  }

  #apply(p: Participant): void {
    const track = p.local ? null : (p.media.mic?.track ?? null);
    const player = this.#players.get(p.id);
    const current = player?.srcObject instanceof MediaStream ? player.srcObject.getAudioTracks()[0] : undefined;
    if (!track) {
      this.#drop(p.id);
      return;
    }
    if (current === track) return;
    const audio = player ?? h('audio', { autoplay: true, 'data-peer': p.id });
    audio.srcObject = new MediaStream([track]);
    if (!player) {
      this.#players.set(p.id, audio);
      this.el.appendChild(audio);
    }
    this.#play(audio);
  }

  #drop(id: string): void {
    const audio = this.#players.get(id);
    if (!audio) return;
    audio.srcObject = null;
    audio.remove();
    this.#players.delete(id);
  }

  #play(audio: HTMLAudioElement): void {
    audio.play().then(
      () => undefined,
      (error: unknown) => {
        if (error instanceof DOMException && error.name === 'NotAllowedError') this.#unlock.hidden = false;
      },
    );
  }

  #retryAll(): void {
    this.#unlock.hidden = true;
    for (const audio of this.#players.values()) this.#play(audio);
  }
}
