/**
 * The room's bottom bar: mic, camera, screen share, devices, chat and leave.
 */
import { Emitter } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { icon, type IconName } from '../lib/icons.js';

type ControlBarEvents = {
  mic: [];
  camera: [];
  screen: [];
  devices: [];
  chat: [];
  leave: [];
};

type Look = 'off' | 'active' | null;

export interface ControlState {
  mic: boolean;
  camera: boolean;
  screen: boolean;
  chat: boolean;
  unread: number;
  canShareScreen: boolean;
  /** A viewer publishes nothing: no mic, camera, screen or device buttons. */
  viewer: boolean;
}

export class ControlBar extends Emitter<ControlBarEvents> {
  readonly el: HTMLDivElement;
  readonly devicesButton: HTMLButtonElement;
  readonly #mic: HTMLButtonElement;
  readonly #camera: HTMLButtonElement;
  readonly #screen: HTMLButtonElement;
  readonly #chat: HTMLButtonElement;
  readonly #badge = h('span', { class: 'badge', hidden: true });
  readonly #watching = h(
    'span',
    { class: 'watching', 'data-testid': 'viewer-note', hidden: true },
    'You are watching: viewers cannot use a microphone or camera here.',
  );

  constructor() {
    super();
    this.#mic = this.#button('mic', 'mic');
    this.#camera = this.#button('camera', 'camera');
    this.#screen = this.#button('screen', 'screen');
    this.devicesButton = this.#button('devices', 'settings');
    this.#chat = this.#button('chat', 'chat');
    this.#chat.appendChild(this.#badge);
    const leave = h(
      'button',
      { class: 'ctl leave', 'data-testid': 'leave', onclick: () => this.emit('leave') },
      icon('leave'),
      h('span', { class: 'ctl-label' }, 'Leave'),
    );
    this.el = h(
      'div',
      { class: 'controls' },
      this.#watching,
      this.#mic,
      this.#camera,
      this.#screen,
      this.devicesButton,
      this.#chat,
      h('div', { class: 'ctl-sep' }),
      leave,
    );
    leave.title = 'Leave the room';
    this.devicesButton.title = 'Devices';
    this.devicesButton.setAttribute('aria-label', 'Devices');
  }

  render(s: ControlState): void {
    const { mic, camera, screen } = s;
    if (mic) this.#set(this.#mic, true, 'mic', 'Mute microphone', null);
    else this.#set(this.#mic, false, 'micOff', 'Unmute microphone', 'off');
    if (camera) this.#set(this.#camera, true, 'camera', 'Turn camera off', null);
    else this.#set(this.#camera, false, 'cameraOff', 'Turn camera on', 'off');
    if (screen) this.#set(this.#screen, true, 'screenStop', 'Stop sharing', 'active');
    else this.#set(this.#screen, false, 'screen', 'Share screen', null);
    this.#screen.hidden = !s.canShareScreen || s.viewer;
    this.#mic.hidden = s.viewer;
    this.#camera.hidden = s.viewer;
    this.devicesButton.hidden = s.viewer;
    this.#watching.hidden = !s.viewer;
    this.#chat.classList.toggle('active', s.chat);
    this.#chat.title = s.chat ? 'Hide chat' : 'Show chat';
    this.#chat.setAttribute('aria-label', this.#chat.title);
    this.#badge.hidden = s.unread === 0;
    this.#badge.textContent = s.unread > 9 ? '9+' : String(s.unread);
  }

  #button(event: keyof ControlBarEvents, iconName: IconName): HTMLButtonElement {
    return h('button', { class: 'ctl', 'data-testid': `toggle-${event}`, onclick: () => this.emit(event) }, icon(iconName));
  }

  /** `look` highlights the button: red for a muted source, accent for a running share. */
  #set(button: HTMLButtonElement, pressed: boolean, iconName: IconName, label: string, look: Look): void {
    button.replaceChildren(icon(iconName));
    button.title = label;
    button.setAttribute('aria-label', label);
    button.setAttribute('aria-pressed', String(pressed));
    button.classList.toggle('off', look === 'off');
    button.classList.toggle('active', look === 'active');
  }
}
