/**
 * One tile of the grid: a participant's camera (or avatar when there is none) with name,
 * mute and speaking indicators, or a participant's shared screen. One's own camera tile
 * also lets one change one's name; one's own screen tile says that one is presenting;
 * other people's camera tiles can be pinned.
 */
import { h } from '../lib/dom.js';
import { hue, initials } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { nameProblem } from '../lib/names.js';
import type { Participant } from '../room/RoomState.js';
import { Menu, type MenuItem } from './Menu.js';
import { pinButton, type PinButton } from './PinButton.js';

export type TileKind = 'person' | 'screen';

/** Resolves once the new name is in effect; rejects with an Error whose message says why not. */
export type RenameHandler = (displayName: string) => Promise<void>;

/** What a tile lets one do: rename and stop presenting on one's own, pin on others'. */
export interface TileActions {
  rename?: RenameHandler;
  stopPresenting?: () => void;
  togglePin?: (peerId: string) => void;
  /** A moderator's menu on others' tiles; shown only while the room view allows it (`.can-moderate`). */
  peerMenuItems?: (peerId: string) => MenuItem[];
}

/** The moderator's "More" button on someone's tile and its menu. */
export function peerMenuButton(participant: Participant, items: (peerId: string) => MenuItem[]): HTMLButtonElement {
  const button = h(
    'button',
    { class: 'peer-menu', type: 'button', 'data-testid': 'peer-menu' },
    icon('more'),
  );
  const label = `Moderate ${participant.displayName}`;
  button.title = label;
  button.setAttribute('aria-label', label);
  new Menu(button, label, () => items(participant.id));
  return button;
}

/** "Moderator" or "Viewer" beside a name; nothing for a participant. */
export function roleBadge(): HTMLSpanElement {
  return h('span', { class: 'role-badge', 'data-testid': 'role-badge', hidden: true });
}

export function showRole(badge: HTMLSpanElement, p: Participant): void {
  badge.hidden = p.role === 'participant';
  badge.textContent = p.role === 'moderator' ? 'Moderator' : p.role === 'viewer' ? 'Viewer' : '';
}

export class VideoTile {
  readonly el: HTMLDivElement;
  readonly kind: TileKind;
  /** Null on one's own screen tile, which shows no video. */
  readonly #video: HTMLVideoElement | null;
  readonly #label: HTMLSpanElement;
  readonly #avatar: HTMLDivElement;
  readonly #editor: NameEditor | null = null;
  readonly #pin: PinButton | null = null;
  readonly #role = roleBadge();
  readonly #menu: HTMLElement | null = null;
  #track: MediaStreamTrack | null = null;
  #producerId: string | null = null;

  constructor(kind: TileKind, participant: Participant, actions: TileActions = {}) {
    this.kind = kind;
    // Showing presenters their own screen is at best useless and, when they share the
    // whole screen, a picture of itself repeated without end.
    const presenting = kind === 'screen' && participant.local;
    this.#video = presenting ? null : h('video', { autoplay: true, playsinline: true });
    // Remote audio plays through AudioSink; tiles only ever show video.
    if (this.#video) this.#video.muted = true;
    this.#label = h('span', { class: 'label' });
    this.#avatar = h('div', { class: 'avatar-circle' });
    const nameplate = h('div', { class: 'nameplate' }, icon('micOff', 'icon muted'), this.#label, this.#role);
    if (actions.rename && kind === 'person' && participant.local) {
      this.#editor = new NameEditor(nameplate, actions.rename);
      nameplate.appendChild(this.#editor.button);
    }
    const { togglePin } = actions;
    if (togglePin && kind === 'person' && !participant.local) this.#pin = pinButton(() => togglePin(participant.id));
    if (actions.peerMenuItems && kind === 'person' && !participant.local) {
      this.#menu = h('div', { class: 'tile-menu' }, peerMenuButton(participant, actions.peerMenuItems));
    }
    this.el = h(
      'div',
      {
        class: `tile ${kind}${presenting ? ' presenting' : ''}`,
        'data-peer': participant.id,
        'data-source': kind === 'screen' ? 'screen' : 'camera',
      },
      this.#video ?? presentingPanel(actions.stopPresenting),
      presenting ? null : h('div', { class: 'avatar' }, this.#avatar),
      kind === 'screen' ? h('div', { class: 'tile-badge' }, 'Screen') : null,
      nameplate,
      this.#editor?.el,
      this.#pin?.el,
      this.#menu,
    );
    this.update(participant);
  }

  update(p: Participant): void {
    const slot = this.kind === 'screen' ? p.media.screen : p.media.camera;
    const name = p.local ? `${p.displayName} (you)` : p.displayName;
    this.#label.textContent = this.kind === 'screen' ? `${p.displayName}’s screen` : name;
    this.el.dataset.name = p.displayName;
    this.el.dataset.role = p.role;
    if (this.kind === 'person') showRole(this.#role, p);
    if (this.#editor) this.#editor.name = p.displayName;
    this.#avatar.textContent = initials(p.displayName);
    this.#avatar.style.background = `hsl(${hue(p.displayName)} 55% 42%)`;

    const track = slot?.track ?? null;
    this.#producerId = p.local ? null : (slot?.producerId ?? null);
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

  /** The remote producer whose video this tile shows; null on one's own tiles. */
  get producerId(): string | null {
    return this.#producerId;
  }

  /** The shown video's width / height, once its first frame has told it; null before. */
  get contentAspect(): number | null {
    const v = this.#video;
    return v && v.videoWidth > 0 && v.videoHeight > 0 ? v.videoWidth / v.videoHeight : null;
  }

  /** Calls `listener` when the shown video changes size (e.g. a shared window is resized). */
  onContentResize(listener: () => void): void {
    this.#video?.addEventListener('resize', listener);
  }

  setSpeaking(speaking: boolean): void {
    this.el.classList.toggle('speaking', speaking);
  }

  setPinned(pinned: boolean): void {
    this.#pin?.setPinned(pinned);
  }

  resume(): void {
    if (this.#track && this.#video?.paused) this.#play();
  }

  remove(): void {
    this.#editor?.dispose();
    if (this.#video) this.#video.srcObject = null;
    this.el.remove();
  }

  #setTrack(track: MediaStreamTrack | null): void {
    if (track === this.#track || !this.#video) return;
    this.#track = track;
    this.#video.srcObject = track ? new MediaStream([track]) : null;
    if (track) this.#play();
  }

  #play(): void {
    this.#video?.play().catch((error: unknown) => {
      // A newer srcObject or a DOM move interrupts a pending play(); that is expected.
      if (!(error instanceof DOMException && error.name === 'AbortError')) console.warn('video playback refused', error);
    });
  }
}

/** What presenters see in place of their own screen. */
function presentingPanel(stop: (() => void) | undefined): HTMLDivElement {
  return h(
    'div',
    { class: 'presenting-panel', 'data-testid': 'presenting' },
    icon('screen'),
    h('strong', {}, 'You are presenting'),
    h('span', {}, 'Everyone in the room sees your screen.'),
    stop
      ? h(
          'button',
          { class: 'btn danger small', type: 'button', 'data-testid': 'stop-presenting', onclick: () => stop() },
          icon('screenStop'),
          'Stop presenting',
        )
      : null,
  );
}

/**
 * The pencil on one's own nameplate and the inline field it opens in the nameplate's place.
 * Enter saves, Escape or a click elsewhere cancels; a refused name keeps the field open with
 * the reason, and the old name stays until the server has accepted the new one.
 */
class NameEditor {
  readonly el: HTMLFormElement;
  readonly button: HTMLButtonElement;
  /** The name in effect, which the field starts from. */
  name = '';
  readonly #nameplate: HTMLElement;
  readonly #rename: RenameHandler;
  readonly #input: HTMLInputElement;
  readonly #hint = h('div', { class: 'name-hint', 'data-testid': 'rename-hint', 'aria-live': 'polite' });
  #busy = false;
  readonly #onOutside = (e: MouseEvent) => {
    if (e.target instanceof Node && !this.el.contains(e.target)) this.close();
  };

  constructor(nameplate: HTMLElement, rename: RenameHandler) {
    this.#nameplate = nameplate;
    this.#rename = rename;
    this.button = h(
      'button',
      {
        class: 'name-edit',
        type: 'button',
        title: 'Change your name',
        'aria-label': 'Change your name',
        'data-testid': 'rename',
        onclick: () => this.open(),
      },
      icon('pencil'),
    );
    this.#input = h('input', {
      class: 'input',
      'data-testid': 'rename-input',
      'aria-label': 'Your name',
      autocomplete: 'nickname',
      spellcheck: 'false',
    });
    // Told while typing rather than cut at the limit: nothing typed disappears unseen.
    this.#input.addEventListener('input', () => {
      const problem = this.#input.value.trim() ? nameProblem(this.#input.value) : null;
      this.#showHint(problem ?? 'Enter to save · Esc to cancel', problem !== null);
    });
    this.#input.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      this.close();
    });
    this.el = h(
      'form',
      { class: 'name-editor', 'data-testid': 'rename-form', hidden: true, onsubmit: (e: Event) => void this.#save(e) },
      this.#input,
      this.#hint,
    );
  }

  open(): void {
    this.#input.value = this.name;
    this.#showHint('Enter to save · Esc to cancel', false);
    this.#nameplate.hidden = true;
    this.el.hidden = false;
    this.#input.focus();
    this.#input.select();
    document.addEventListener('mousedown', this.#onOutside);
  }

  /** Cancels, unless a save is under way: its outcome decides. */
  close(): void {
    if (this.#busy) return;
    this.dispose();
    this.el.hidden = true;
    this.#nameplate.hidden = false;
  }

  dispose(): void {
    document.removeEventListener('mousedown', this.#onOutside);
  }

  async #save(event: Event): Promise<void> {
    event.preventDefault();
    if (this.#busy) return;
    const name = this.#input.value.trim();
    if (name === this.name) {
      this.close();
      return;
    }
    this.#busy = true;
    // Read-only rather than disabled, so that the field keeps focus for a second try.
    this.#input.readOnly = true;
    this.#showHint('Saving…', false);
    try {
      await this.#rename(name);
      this.#busy = false;
      this.close();
    } catch (error) {
      this.#busy = false;
      this.#showHint(error instanceof Error ? error.message : String(error), true);
      this.#input.focus();
      this.#input.select();
    } finally {
      this.#input.readOnly = false;
    }
  }

  #showHint(text: string, error: boolean): void {
    this.#hint.textContent = text;
    this.#hint.classList.toggle('error', error);
    this.#input.setAttribute('aria-invalid', String(error));
  }
}
