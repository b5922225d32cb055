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
import { confirmDialog, passwordDialog } from './Dialog.js';
import { Menu, type MenuItem } from './Menu.js';
import { WaitingList } from './WaitingList.js';
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
  readonly #role = h('span', { class: 'pill role-pill', 'data-testid': 'my-role', hidden: true });
  readonly #lock = h(
    'span',
    { class: 'room-lock', 'data-testid': 'room-locked', title: 'Joining needs the password', role: 'img', 'aria-label': 'Locked with a password' },
    icon('lock'),
  );
  /** Shown to everyone while the room is being recorded. */
  readonly #recording = h(
    'span',
    { class: 'pill recording-pill', role: 'status', 'data-testid': 'recording', hidden: true },
    h('span', { class: 'rec-dot', 'aria-hidden': 'true' }),
    'Recording',
  );
  readonly #roomMenuButton = h(
    'button',
    { class: 'btn ghost small', type: 'button', 'data-testid': 'room-menu', title: 'Room settings', 'aria-label': 'Room settings' },
    icon('shield'),
    h('span', { class: 'btn-label' }, 'Room'),
  );
  readonly #waiting: WaitingList;
  #unread = 0;

  constructor(session: RoomSession, localMedia: LocalMedia, onLeave: () => void) {
    this.#session = session;
    const { state, publisher } = session;
    this.#grid = new VideoGrid(state, {
      rename: (name) => this.#rename(name),
      stopPresenting: () => publisher.stopScreenShare(),
      peerMenuItems: (peerId) => this.#peerMenuItems(peerId),
    });
    this.#waiting = new WaitingList(state, {
      admit: (peerId) => this.#moderate(() => session.moderation.admit(peerId)),
      deny: (peerId) => this.#moderate(() => session.moderation.deny(peerId)),
    });
    new Menu(this.#roomMenuButton, 'Room settings', () => this.#roomMenuItems());
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
      this.#count,
      this.#recording,
      this.#role,
      h('div', { class: 'spacer' }),
      this.#waiting.el,
      h('div', { class: 'menu-anchor' }, this.#roomMenuButton),
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
      state.on('participant', (p) => {
        this.#renderCount();
        if (p.local) this.#renderRole();
      }),
      state.on('participantRemoved', () => this.#renderCount()),
      state.on('settings', () => this.#renderSettings()),
      state.on('recording', (on) => {
        this.#recording.hidden = !on;
      }),
      state.on('waiting', (waiting) => {
        const newest = waiting.at(-1);
        if (newest && waiting.length > this.#lastWaiting && state.localRole === 'moderator') {
          this.#toasts.show(`${newest.displayName} is waiting to join`);
        }
        this.#lastWaiting = waiting.length;
      }),
      session.on('muted', (source) =>
        this.#toasts.show(
          source === 'mic'
            ? 'A moderator muted your microphone'
            : source === 'camera'
              ? 'A moderator turned your camera off'
              : 'A moderator stopped your screen share',
        ),
      ),
    );
    this.#renderRole();
    this.#renderSettings();
    this.#recording.hidden = !state.recording;
    this.#renderControls();
    this.#renderCount();
    this.#renderStatus(session.status);
  }

  destroy(): void {
    this.#subs.clear();
    this.#waiting.destroy();
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

  #lastWaiting = 0;

  #peerMenuItems(peerId: string): MenuItem[] {
    const { state, moderation } = this.#session;
    const p = state.participant(peerId);
    if (!p) return [];
    const micOn = p.media.mic !== undefined && !p.media.mic.paused;
    const cameraOn = p.media.camera !== undefined && !p.media.camera.paused;
    return [
      {
        label: micOn ? 'Mute microphone' : 'Microphone is off',
        disabled: !micOn,
        testId: 'mute-peer',
        run: () => void this.#moderate(() => moderation.mute(peerId, 'mic')),
      },
      {
        label: cameraOn ? 'Turn camera off' : 'Camera is off',
        disabled: !cameraOn,
        testId: 'camera-off-peer',
        run: () => void this.#moderate(() => moderation.mute(peerId, 'camera')),
      },
      {
        label: 'Remove from room…',
        danger: true,
        testId: 'remove-peer',
        run: () =>
          void confirmDialog({
            title: `Remove ${p.displayName}?`,
            text: `${p.displayName} leaves the room now and cannot come back for a while.`,
            confirmLabel: 'Remove',
            danger: true,
            testId: 'confirm-remove',
          }).then((yes) => {
            if (yes) return this.#moderate(() => moderation.remove(peerId));
          }),
      },
    ];
  }

  #roomMenuItems(): MenuItem[] {
    const { state, moderation } = this.#session;
    const { locked, lobby } = state.settings;
    return [
      locked
        ? { label: 'Unlock the room', testId: 'room-unlock', run: () => void this.#moderate(() => moderation.unlock()) }
        : {
            label: 'Lock with a password…',
            testId: 'room-lock',
            run: () =>
              void passwordDialog({
                title: 'Lock the room',
                text: 'Whoever joins from now on needs this password. Everyone here stays.',
                confirmLabel: 'Lock',
                testId: 'lock-dialog',
              }).then((password) => {
                if (password) return this.#moderate(() => moderation.lock(password));
              }),
          },
      state.recording
        ? { label: 'Stop recording', testId: 'recording-stop', run: () => void this.#moderate(() => moderation.stopRecording()) }
        : {
            label: 'Start recording',
            testId: 'recording-start',
            run: () =>
              void this.#moderate(async () => {
                const { downloadPath } = await moderation.startRecording();
                this.#toasts.show(`Recording. The file will be at ${location.origin}${downloadPath}`);
              }),
          },
      {
        label: 'Waiting room',
        checked: lobby,
        testId: 'room-lobby',
        run: () => void this.#moderate(() => moderation.setLobby(!lobby)),
      },
      {
        label: 'End meeting for everyone…',
        danger: true,
        testId: 'room-end',
        run: () =>
          void confirmDialog({
            title: 'End the meeting for everyone?',
            text: 'Everyone in the room is sent out and the room closes.',
            confirmLabel: 'End meeting',
            danger: true,
            testId: 'confirm-end',
          }).then((yes) => {
            if (yes) return this.#moderate(() => moderation.endMeeting());
          }),
      },
    ];
  }

  /** Runs a moderator request; a refusal is shown, not thrown. */
  async #moderate(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.#toasts.show(
        error instanceof RequestError ? `Not done: ${error.reason}` : `Not done: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  #renderRole(): void {
    const role = this.#session.state.localRole;
    const moderator = role === 'moderator';
    this.#role.hidden = role === 'participant';
    this.#role.textContent = moderator ? 'You are a moderator' : role === 'viewer' ? 'Viewer' : '';
    this.#role.dataset.role = role;
    this.el.classList.toggle('can-moderate', moderator);
    this.#roomMenuButton.hidden = !moderator;
    this.#waiting.setEnabled(moderator);
    this.#renderControls();
  }

  /** The lock is in the page only while the room is locked (tests and screen readers count it). */
  #renderSettings(): void {
    const locked = this.#session.state.settings.locked;
    if (!locked) this.#lock.remove();
    else if (!this.#lock.isConnected) this.#count.before(this.#lock);
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
      viewer: this.#session.state.localRole === 'viewer',
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
