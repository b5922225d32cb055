/**
 * The in-room screen: header with room name and participant count, the video grid, chat,
 * the control bar, and connection status. It renders RoomSession state and forwards user
 * actions to it.
 */
import { saveNickname } from '../app/preferences.js';
import { Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { plural } from '../lib/format.js';
import { RequestError } from '../protocol.js';
import { brandGlyph, icon } from '../lib/icons.js';
import type { LocalMedia } from '../media/LocalMedia.js';
import type { RoomSession, SessionStatus } from '../room/RoomSession.js';
import { AudioSink } from './AudioSink.js';
import { ChatPanel } from './ChatPanel.js';
import { ControlBar } from './ControlBar.js';
import { DevicePicker } from './DevicePicker.js';
import { StatusBanner, Toasts } from './Notifications.js';
import { VideoGrid } from './VideoGrid.js';

export class RoomView {
  readonly el: HTMLDivElement;
  readonly #session: RoomSession;
  readonly #grid: VideoGrid;
  readonly #chat: ChatPanel;
  readonly #controls = new ControlBar();
  readonly #devices: DevicePicker;
  readonly #audio: AudioSink;
  readonly #banner = new StatusBanner();
  readonly #toasts = new Toasts();
  readonly #count = h('span', { class: 'pill', 'data-testid': 'participant-count' });
  readonly #subs = new Subscriptions();
  #unread = 0;

  constructor(session: RoomSession, localMedia: LocalMedia, onLeave: () => void) {
    this.#session = session;
    const { state, publisher } = session;
    this.#grid = new VideoGrid(state, {
      rename: (name) => this.#rename(name),
      stopPresenting: () => publisher.stopScreenShare(),
    });
    this.#chat = new ChatPanel(state);
    this.#audio = new AudioSink(state);
    this.#devices = new DevicePicker(localMedia, this.#controls.devicesButton, (kind, id) =>
      void publisher.switchDevice(kind, id),
    );
    this.#chat.setVisible(window.innerWidth > 760);

    const copyLink = h(
      'button',
      { class: 'btn ghost small', title: 'Copy invite link', onclick: () => void this.#copyLink() },
      icon('link'),
      h('span', { class: 'btn-label' }, 'Invite'),
    );
    const header = h(
      'header',
      { class: 'room-header' },
      h('div', { class: 'brand-mark', 'aria-hidden': 'true' }, brandGlyph()),
      h('div', { class: 'room-title', 'data-testid': 'room-title' }, session.roomId),
      session.locked
        ? h('span', { class: 'room-lock', 'data-testid': 'room-locked', title: 'Joining needs the password', role: 'img', 'aria-label': 'Locked with a password' }, icon('lock'))
        : null,
      this.#count,
      h('div', { class: 'spacer' }),
      copyLink,
    );
    this.el = h(
      'div',
      { class: 'room', 'data-testid': 'room' },
      header,
      h('div', { class: 'room-body' }, h('main', { class: 'stage-wrap' }, this.#grid.el), this.#chat.el),
      h('footer', {}, this.#controls.el),
      this.#audio.el,
      this.#banner.el,
      this.#toasts.el,
    );
    this.#controls.el.appendChild(this.#devices.el);

    this.#subs.add(
      this.#controls.on('mic', () => void publisher.setEnabled('mic', !publisher.state('mic').enabled)),
      this.#controls.on('camera', () => void publisher.setEnabled('camera', !publisher.state('camera').enabled)),
      this.#controls.on('screen', () => {
        if (publisher.state('screen').enabled) publisher.stopScreenShare();
        else void publisher.startScreenShare();
      }),
      this.#controls.on('devices', () => void this.#devices.toggle()),
      this.#controls.on('chat', () => this.#showChat(!this.#chat.visible)),
      this.#chat.on('hide', () => this.#showChat(false)),
      this.#controls.on('leave', onLeave),
      this.#grid.on('sizes', (sizes) => {
        for (const [peerId, width] of sizes) session.setDisplayWidth(peerId, width);
      }),
      this.#grid.on('visible', (producerIds) => session.setVisibleVideo(producerIds)),
      this.#chat.on('send', (text) => void this.#send(text)),
      this.#chat.on('unread', (n) => {
        this.#unread = n;
        this.#renderControls();
      }),
      publisher.on('change', () => this.#renderControls()),
      session.on('problem', (message) => this.#toasts.show(message)),
      session.on('status', (status) => this.#renderStatus(status)),
      state.on('participant', () => this.#renderCount()),
      state.on('participantRemoved', () => this.#renderCount()),
    );
    this.#renderControls();
    this.#renderCount();
    this.#renderStatus(session.status);
  }

  destroy(): void {
    this.#subs.clear();
    this.#grid.destroy();
    this.#chat.destroy();
    this.#audio.destroy();
    this.#devices.close();
    this.el.remove();
  }

  #showChat(visible: boolean): void {
    this.#chat.setVisible(visible);
    this.#renderControls();
  }

  async #send(text: string): Promise<void> {
    try {
      await this.#session.sendChat(text);
    } catch (error) {
      // Give the text back so that a refused message is not lost.
      this.#chat.restoreDraft(text);
      this.#toasts.show(chatFailure(error));
    }
  }

  async #rename(displayName: string): Promise<void> {
    await this.#session.rename(displayName);
    saveNickname(displayName);
  }

  async #copyLink(): Promise<void> {
    const url = `${location.origin}/r/${encodeURIComponent(this.#session.roomId)}`;
    try {
      await navigator.clipboard.writeText(url);
      this.#toasts.show('Invite link copied');
    } catch {
      this.#toasts.show(url, 10_000);
    }
  }

  #renderControls(): void {
    const { publisher } = this.#session;
    this.#controls.render({
      mic: publisher.state('mic').enabled,
      camera: publisher.state('camera').enabled,
      screen: publisher.state('screen').enabled,
      chat: this.#chat.visible,
      unread: this.#unread,
      canShareScreen: typeof navigator.mediaDevices?.getDisplayMedia === 'function',
    });
  }

  #renderCount(): void {
    const n = this.#session.state.participants.length;
    this.#count.replaceChildren(icon('users', 'icon'), plural(n, 'participant'));
    this.#count.dataset.count = String(n);
  }

  #renderStatus(status: SessionStatus): void {
    this.#chat.setEnabled(status === 'joined');
    this.el.dataset.status = status;
    if (status === 'reconnecting') this.#banner.show(this.#session.interruption);
    else if (status === 'joining') this.#banner.show('Joining…');
    else this.#banner.hide();
  }
}

function chatFailure(error: unknown): string {
  if (!(error instanceof RequestError)) return 'Message not sent.';
  switch (error.code) {
    case 'RATE_LIMITED':
      return 'You are sending messages too fast. Wait a few seconds, then send again.';
    case 'TIMEOUT':
      return 'The server did not answer; your message was not sent.';
    default:
      return `Message not sent: ${error.reason}`;
  }
}
