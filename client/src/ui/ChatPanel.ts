/**
 * The room's chat: messages and join/leave notices with times, and the compose box.
 * Message text is only ever set with textContent.
 */
import { Emitter, Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { formatTime } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { CHAT_MAX_LENGTH } from '../protocol.js';
import type { ChatEntry, RoomState } from '../room/RoomState.js';

type ChatPanelEvents = {
  send: [string];
  hide: [];
  /** A message arrived while the panel was hidden. */
  unread: [number];
};

export class ChatPanel extends Emitter<ChatPanelEvents> {
  readonly el: HTMLElement;
  readonly #log: HTMLDivElement;
  readonly #input: HTMLInputElement;
  readonly #sendButton: HTMLButtonElement;
  readonly #subs = new Subscriptions();
  readonly #resize: ResizeObserver;
  #unread = 0;
  /**
   * Follow the newest message until the user scrolls up to read older ones. Scrolling only
   * takes effect once the log is laid out, which is after the constructor and after
   * setVisible, so a ResizeObserver applies it when the log gets its size.
   */
  #pinned = true;

  constructor(state: RoomState) {
    super();
    this.#log = h('div', { class: 'chat-log', 'data-testid': 'chat-log', role: 'log', 'aria-live': 'polite' });
    this.#log.addEventListener('scroll', () => {
      const log = this.#log;
      // Hidden or detached, the log has no size; that says nothing about the user's intent.
      if (log.clientHeight > 0) this.#pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    });
    this.#resize = new ResizeObserver(() => {
      if (this.#pinned) this.#scrollToEnd();
    });
    this.#resize.observe(this.#log);
    this.#input = h('input', {
      class: 'input',
      'data-testid': 'chat-input',
      placeholder: 'Send a message',
      maxlength: CHAT_MAX_LENGTH,
      autocomplete: 'off',
      'aria-label': 'Chat message',
    });
    this.#sendButton = h('button', { class: 'btn primary', type: 'submit', 'aria-label': 'Send' }, icon('send'));
    const form = h('form', { class: 'chat-form', onsubmit: (e: Event) => this.#submit(e) }, this.#input, this.#sendButton);
    const head = h(
      'div',
      { class: 'chat-head' },
      'Chat',
      h('div', { class: 'spacer' }),
      h(
        'button',
        { class: 'btn ghost small', title: 'Hide chat', 'aria-label': 'Hide chat', onclick: () => this.emit('hide') },
        icon('close'),
      ),
    );
    this.el = h('aside', { class: 'chat', 'aria-label': 'Chat' }, head, this.#log, form);
    for (const entry of state.chat) this.#append(entry);
    this.#subs.add(state.on('chat', (entry) => this.#onEntry(entry)));
  }

  get visible(): boolean {
    return !this.el.hidden;
  }

  setVisible(visible: boolean): void {
    this.el.hidden = !visible;
    if (visible) {
      this.#unread = 0;
      this.emit('unread', 0);
      this.#pinned = true;
    }
  }

  /** Puts back text whose sending failed, unless the user has started a new message. */
  restoreDraft(text: string): void {
    if (this.#input.value) return;
    this.#input.value = text;
  }

  /** Sending is only possible while in the room (not while reconnecting). */
  setEnabled(enabled: boolean): void {
    this.#input.disabled = !enabled;
    this.#sendButton.disabled = !enabled;
  }

  destroy(): void {
    this.#resize.disconnect();
    this.#subs.clear();
    this.removeAllListeners();
  }

  #submit(event: Event): void {
    event.preventDefault();
    const text = this.#input.value.trim();
    if (!text) return;
    this.#input.value = '';
    this.emit('send', text);
  }

  #onEntry(entry: ChatEntry): void {
    this.#append(entry);
    if (!this.visible && entry.kind === 'message' && !entry.own) this.emit('unread', ++this.#unread);
  }

  #append(entry: ChatEntry): void {
    const time = h('time', { class: 'msg-time', datetime: new Date(entry.ts).toISOString() }, formatTime(entry.ts));
    const node =
      entry.kind === 'notice'
        ? h('div', { class: 'notice', 'data-kind': 'notice' }, `${entry.text} · `, time)
        : h(
            'div',
            { class: entry.own ? 'msg own' : 'msg', 'data-kind': 'message' },
            h('div', { class: 'msg-head' }, h('span', { class: 'msg-name' }, entry.own ? 'You' : entry.displayName), time),
            h('div', { class: 'msg-text' }, entry.text),
          );
    this.#log.appendChild(node);
    // One's own message always shows, even when reading further up.
    if (entry.kind === 'message' && entry.own) this.#pinned = true;
    if (this.#pinned) this.#scrollToEnd();
  }

  #scrollToEnd(): void {
    this.#log.scrollTop = this.#log.scrollHeight;
  }
}
