/**
 * Popover to choose the microphone and camera. Lists devices when opened, since labels
 * only become available once permission is granted.
 */
import { h } from '../lib/dom.js';
import type { CaptureKind, LocalMedia } from '../media/LocalMedia.js';
import { fillDeviceSelect } from './deviceSelect.js';

export class DevicePicker {
  readonly el: HTMLDivElement;
  readonly #media: LocalMedia;
  readonly #onPick: (kind: CaptureKind, deviceId: string) => void;
  readonly #mic = h('select', { class: 'input', 'aria-label': 'Microphone' });
  readonly #camera = h('select', { class: 'input', 'aria-label': 'Camera' });
  /** The button that opens the picker; clicks on it are not "outside". */
  readonly #anchor: HTMLElement;
  readonly #onOutside = (e: MouseEvent) => {
    if (e.target instanceof Node && !this.el.contains(e.target) && !this.#anchor.contains(e.target)) this.close();
  };
  /** On the document, so that Escape works wherever focus is while the picker is open. */
  readonly #onKey = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    e.preventDefault();
    const inside = document.activeElement instanceof Node && this.el.contains(document.activeElement);
    this.close();
    if (inside) this.#anchor.focus();
  };

  constructor(media: LocalMedia, anchor: HTMLElement, onPick: (kind: CaptureKind, deviceId: string) => void) {
    this.#media = media;
    this.#anchor = anchor;
    this.#onPick = onPick;
    this.#mic.addEventListener('change', () => this.#onPick('mic', this.#mic.value));
    this.#camera.addEventListener('change', () => this.#onPick('camera', this.#camera.value));
    this.el = h(
      'div',
      { class: 'popover card', hidden: true, role: 'dialog', 'aria-label': 'Devices', 'data-testid': 'device-picker' },
      h('h3', {}, 'Devices'),
      h('label', { class: 'field' }, h('span', {}, 'Microphone'), this.#mic),
      h('label', { class: 'field' }, h('span', {}, 'Camera'), this.#camera),
    );
  }

  get open(): boolean {
    return !this.el.hidden;
  }

  async toggle(): Promise<void> {
    if (this.open) this.close();
    else await this.show();
  }

  async show(): Promise<void> {
    const { mics, cameras } = await this.#media.listDevices();
    fillDeviceSelect(this.#mic, mics, this.#media.deviceId('mic'), 'No microphone available');
    fillDeviceSelect(this.#camera, cameras, this.#media.deviceId('camera'), 'No camera available');
    this.el.hidden = false;
    this.#anchor.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', this.#onOutside);
    document.addEventListener('keydown', this.#onKey);
    this.#mic.focus();
  }

  close(): void {
    this.el.hidden = true;
    this.#anchor.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', this.#onOutside);
    document.removeEventListener('keydown', this.#onKey);
  }
}
