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

export interface ControlState {
  mic: boolean;
  camera: boolean;
  screen: boolean;
  chat: boolean;
  unread: number;
  canShareScreen: boolean;
}

export class ControlBar extends Emitter<ControlBarEvents> {
  readonly el: HTMLDivElement;
  readonly devicesButton: HTMLButtonElement;
  readonly #mic: HTMLButtonElement;
  readonly #camera: HTMLButtonElement;
  readonly #screen: HTMLButtonElement;
  readonly #chat: HTMLButtonElement;
  readonly #badge = h('span', { class: 'badge', hidden: true });

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
    this.#set(this.#mic, mic ? 'mic' : 'micOff', mic ? 'Mute microphone' : 'Unmute microphone', !mic, false);
    this.#set(this.#camera, camera ? 'camera' : 'cameraOff', camera ? 'Turn camera off' : 'Turn camera on', !camera, false);
    this.#set(this.#screen, screen ? 'screenStop' : 'screen', screen ? 'Stop sharing' : 'Share screen', false, screen);
    this.#screen.hidden = !s.canShareScreen;
    this.#chat.classList.toggle('active', s.chat);
    this.#chat.title = s.chat ? 'Hide chat' : 'Show chat';
    this.#chat.setAttribute('aria-label', this.#chat.title);
    this.#badge.hidden = s.unread === 0;
    this.#badge.textContent = s.unread > 9 ? '9+' : String(s.unread);
  }

  #button(event: keyof ControlBarEvents, iconName: IconName): HTMLButtonElement {
    return h('button', { class: 'ctl', 'data-testid': `toggle-${event}`, onclick: () => this.emit(event) }, icon(iconName));
  }

  #set(button: HTMLButtonElement, iconName: IconName, label: string, off: boolean, active: boolean): void {
    button.replaceChildren(icon(iconName));
    button.title = label;
    button.setAttribute('aria-label', label);
    button.setAttribute('aria-pressed', String(active || !off));
    button.classList.toggle('off', off);
    button.classList.toggle('active', active);
  }
}
