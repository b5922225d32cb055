/**
 * The screen before a room: one's name, a camera preview, a microphone level meter, the
 * choice of devices and whether to join with each on. Nothing is sent to the server until
 * Join; the tracks opened here are the ones the room publishes, so joining asks for no
 * permission again.
 */
import { loadDevice, loadJoinWith, loadNickname, saveDevice, saveJoinWith, saveNickname } from '../app/preferences.js';
import { roomPath } from '../app/routes.js';
import { Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { hue, initials } from '../lib/format.js';
import { brandGlyph, icon } from '../lib/icons.js';
import { nameProblem } from '../lib/names.js';
import { CaptureError, type CaptureKind, type LocalMedia } from '../media/LocalMedia.js';
import { fillDeviceSelect } from './deviceSelect.js';
import { MicMeter } from './MicMeter.js';

export interface PreJoinChoice {
  /** Undefined lets the server pick an anonymous name. */
  displayName?: string;
  mic: boolean;
  camera: boolean;
}

const KINDS: readonly CaptureKind[] = ['mic', 'camera'];
const WHAT: Record<CaptureKind, string> = { mic: 'Microphone', camera: 'Camera' };

/** What to do about a device that could not be opened, in one sentence. */
function captureAdvice(kind: CaptureKind, error: unknown): string {
  const what = WHAT[kind];
  const reason = error instanceof CaptureError ? error.reason : 'other';
  switch (reason) {
    case 'denied':
      return `${what} blocked: allow it in the browser's site settings (next to the address), then turn it on here.`;
    case 'missing':
      return `No ${what.toLowerCase()} found. You can join without one.`;
    case 'busy':
      return `${what} is in use by another application. Close it, then turn the ${what.toLowerCase()} on here.`;
    case 'unsupported':
      return `This page cannot use a ${what.toLowerCase()}: browsers allow it only on https:// pages and localhost.`;
    default:
      return `${what} could not be started. You can join without it.`;
  }
}

export class PreJoinView {
  readonly el: HTMLDivElement;
  readonly #media: LocalMedia;
  readonly #onJoin: (choice: PreJoinChoice) => void;
  readonly #subs = new Subscriptions();
  readonly #want = new Map<CaptureKind, boolean>();
  readonly #advice = new Map<CaptureKind, string>();
  /** Per kind, the capture under way; a toggle while it runs decides when it ends. */
  readonly #opening = new Map<CaptureKind, Promise<void>>();
  readonly #video = h('video', { muted: true, playsinline: true, autoplay: true, 'data-testid': 'prejoin-video' });
  readonly #avatar = h('div', { class: 'avatar-circle' });
  readonly #previewState = h('div', { class: 'preview-state' });
  readonly #preview: HTMLDivElement;
  readonly #meter = new MicMeter('Microphone level');
  readonly #notes = h('ul', { class: 'device-notes', 'data-testid': 'device-notes', 'aria-live': 'polite' });
  readonly #toggles: Record<CaptureKind, HTMLButtonElement>;
  readonly #selects: Record<CaptureKind, HTMLSelectElement>;
  readonly #name: HTMLInputElement;
  readonly #nameHint = h('div', { class: 'name-hint', id: 'prejoin-name-hint' });
  #closed = false;

  constructor(roomId: string, media: LocalMedia, onJoin: (choice: PreJoinChoice) => void, onBack: () => void) {
    this.#media = media;
    this.#onJoin = onJoin;
    this.#video.muted = true;
    this.#toggles = {
      mic: h('button', { type: 'button', class: 'ctl', 'data-testid': 'prejoin-mic', onclick: () => void this.#toggle('mic') }),
      camera: h('button', { type: 'button', class: 'ctl', 'data-testid': 'prejoin-camera', onclick: () => void this.#toggle('camera') }),
    };
    this.#selects = {
      mic: h('select', { class: 'input', id: 'prejoin-mic-device', 'data-testid': 'prejoin-mic-device' }),
      camera: h('select', { class: 'input', id: 'prejoin-camera-device', 'data-testid': 'prejoin-camera-device' }),
    };
    for (const kind of KINDS) {
      this.#selects[kind].addEventListener('change', () => void this.#switchDevice(kind, this.#selects[kind].value));
    }
    this.#name = h('input', {
      class: 'input',
      id: 'prejoin-name',
      'data-testid': 'prejoin-name',
      placeholder: 'Anonymous',
      value: loadNickname(),
      autocomplete: 'nickname',
      'aria-describedby': 'prejoin-name-hint',
      oninput: () => this.#renderName(),
    });
    this.#preview = h(
      'div',
      { class: 'preview mirrored', 'data-testid': 'prejoin-preview' },
      this.#video,
      h('div', { class: 'avatar' }, this.#avatar),
      this.#previewState,
      h('div', { class: 'preview-controls' }, this.#toggles.mic, this.#toggles.camera),
    );

    const title = h('h1', { id: 'prejoin-title' }, 'Ready to join?');
    const link = `${location.host}${roomPath(roomId)}`;
    const form = h(
      'form',
      { class: 'prejoin-form card', 'aria-labelledby': 'prejoin-title', onsubmit: (e: Event) => this.#submit(e) },
      title,
      h(
        'p',
        { class: 'prejoin-room' },
        'Room ',
        h('strong', { 'data-testid': 'prejoin-room' }, roomId),
        h('span', { class: 'link-preview', title: link }, link),
      ),
      h('div', { class: 'field' }, h('label', { for: 'prejoin-name' }, 'Your name'), this.#name, this.#nameHint),
      h('div', { class: 'field' }, h('label', { for: 'prejoin-mic-device' }, 'Microphone'), this.#selects.mic),
      h('div', { class: 'field' }, h('label', { for: 'prejoin-camera-device' }, 'Camera'), this.#selects.camera),
      h(
        'div',
        { class: 'prejoin-actions' },
        h('button', { class: 'btn ghost', type: 'button', 'data-testid': 'prejoin-back', onclick: onBack }, 'Back to lobby'),
        h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'prejoin-join' }, 'Join now'),
      ),
    );
    this.el = h(
      'div',
      { class: 'prejoin', 'data-testid': 'prejoin' },
      h('header', { class: 'topbar' }, h('div', { class: 'brand' }, h('div', { class: 'brand-mark' }, brandGlyph()), 'Noom')),
      h(
        'main',
        { class: 'prejoin-main' },
        h('section', { class: 'prejoin-media card', 'aria-label': 'Camera and microphone check' }, this.#preview, h('div', { class: 'meter-row' }, icon('mic'), this.#meter.el), this.#notes),
        form,
      ),
    );

    this.#subs.add(media.on('track', (source) => source !== 'screen' && this.#onTrack(source)));
    const onDeviceChange = () => void this.#listDevices();
    navigator.mediaDevices?.addEventListener?.('devicechange', onDeviceChange);
    this.#subs.add(() => navigator.mediaDevices?.removeEventListener?.('devicechange', onDeviceChange));

    this.#renderName();
    for (const kind of KINDS) {
      media.prefer(kind, loadDevice(kind));
      this.#want.set(kind, loadJoinWith(kind));
      this.#render(kind);
    }
    void Promise.all(KINDS.filter((k) => this.#want.get(k)).map((k) => this.#open(k))).then(() => this.#listDevices());
    // After the view is in the document: focus where the user is most likely to act.
    queueMicrotask(() => (this.#name.value.trim() ? form.querySelector<HTMLButtonElement>('[type="submit"]') : this.#name)?.focus());
  }

  destroy(): void {
    this.#closed = true;
    this.#subs.clear();
    this.#meter.destroy();
    this.#video.srcObject = null;
    this.el.remove();
  }

  async #toggle(kind: CaptureKind): Promise<void> {
    await this.#opening.get(kind);
    const on = !this.#want.get(kind);
    this.#want.set(kind, on);
    this.#advice.delete(kind);
    if (on) await this.#open(kind);
    else this.#media.release(kind);
    this.#render(kind);
  }

  #open(kind: CaptureKind, deviceId?: string): Promise<void> {
    const opening = (async () => {
      try {
        await this.#media.capture(kind, deviceId);
        this.#advice.delete(kind);
      } catch (error) {
        this.#want.set(kind, false);
        this.#advice.set(kind, captureAdvice(kind, error));
      }
      if (this.#closed) return;
      this.#render(kind);
      await this.#listDevices();
    })();
    this.#opening.set(kind, opening);
    void opening.finally(() => {
      if (this.#opening.get(kind) === opening) this.#opening.delete(kind);
    });
    return opening;
  }

  async #switchDevice(kind: CaptureKind, deviceId: string): Promise<void> {
    if (!deviceId) return;
    saveDevice(kind, deviceId);
    // Choosing a device is wanting it: a camera that was off comes on with the new one.
    this.#want.set(kind, true);
    await this.#open(kind, deviceId);
  }

  /** A track went away on its own (device unplugged, permission revoked): show it off. */
  #onTrack(kind: CaptureKind): void {
    if (this.#closed) return;
    if (!this.#media.track(kind) && !this.#opening.has(kind) && this.#want.get(kind)) {
      this.#want.set(kind, false);
      this.#advice.set(kind, `${WHAT[kind]} stopped. Turn it on again, or choose another one.`);
    }
    this.#render(kind);
  }

  async #listDevices(): Promise<void> {
    const { mics, cameras } = await this.#media.listDevices();
    if (this.#closed) return;
    fillDeviceSelect(this.#selects.mic, mics, this.#media.deviceId('mic'), 'No microphone available');
    fillDeviceSelect(this.#selects.camera, cameras, this.#media.deviceId('camera'), 'No camera available');
  }

  #render(kind: CaptureKind): void {
    const on = this.#want.get(kind) ?? false;
    const button = this.#toggles[kind];
    const label = on ? `Turn ${WHAT[kind].toLowerCase()} off` : `Turn ${WHAT[kind].toLowerCase()} on`;
    button.replaceChildren(icon(kind === 'mic' ? (on ? 'mic' : 'micOff') : on ? 'camera' : 'cameraOff'));
    button.title = label;
    button.setAttribute('aria-label', label);
    button.setAttribute('aria-pressed', String(on));
    button.classList.toggle('off', !on);
    const track = this.#media.track(kind);
    if (kind === 'camera') {
      const live = track !== null && on;
      this.#preview.classList.toggle('video-off', !live);
      this.#preview.dataset.camera = live ? 'on' : 'off';
      if (!live) this.#video.srcObject = null;
      else if (!(this.#video.srcObject instanceof MediaStream) || this.#video.srcObject.getVideoTracks()[0] !== track) {
        this.#video.srcObject = new MediaStream([track]);
      }
      this.#previewState.textContent = live ? '' : on ? 'Starting camera…' : 'Camera is off';
    } else {
      this.#meter.setTrack(on ? track : null);
      this.#preview.dataset.mic = on && track ? 'on' : 'off';
    }
    this.#notes.replaceChildren(...KINDS.flatMap((k) => {
      const advice = this.#advice.get(k);
      return advice ? [h('li', { 'data-kind': k }, advice)] : [];
    }));
  }

  #renderName(): void {
    const value = this.#name.value;
    const problem = value.trim() ? nameProblem(value) : null;
    this.#name.setAttribute('aria-invalid', String(problem !== null));
    this.#nameHint.classList.toggle('error', problem !== null);
    this.#nameHint.textContent = problem ?? (value.trim() ? '' : 'Leave empty to get a random name.');
    const shown = value.trim() || '?';
    this.#avatar.textContent = initials(shown);
    this.#avatar.style.background = `hsl(${hue(shown)} 50% 40%)`;
  }

  #submit(event: Event): void {
    event.preventDefault();
    const value = this.#name.value.trim();
    if (value && nameProblem(value)) {
      this.#name.focus();
      return;
    }
    saveNickname(value);
    const choice: PreJoinChoice = {
      ...(value ? { displayName: value } : {}),
      mic: this.#want.get('mic') ?? false,
      camera: this.#want.get('camera') ?? false,
    };
    for (const kind of KINDS) {
      saveJoinWith(kind, choice[kind]);
      // A pending capture the user has not answered yet is still wanted: it publishes when it lands.
      if (!choice[kind]) this.#media.release(kind);
    }
    this.#onJoin(choice);
  }
}
