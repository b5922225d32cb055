/**
 * For moderators: who waits in the lobby. A header button with their number opens a panel
 * that lists them with Admit and Deny; Escape or the button closes it again.
 */
import { Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import type { RoomState } from '../room/RoomState.js';

export interface WaitingActions {
  admit(peerId: string): Promise<void>;
  deny(peerId: string): Promise<void>;
}

export class WaitingList {
  readonly el: HTMLDivElement;
  readonly #state: RoomState;
  readonly #actions: WaitingActions;
  readonly #button: HTMLButtonElement;
  readonly #count = h('span', { class: 'badge', 'data-testid': 'waiting-count' });
  readonly #panel: HTMLDivElement;
  readonly #list = h('ul', { class: 'waiting-list', 'data-testid': 'waiting-list' });
  readonly #subs = new Subscriptions();
  #enabled = false;

  constructor(state: RoomState, actions: WaitingActions) {
    this.#state = state;
    this.#actions = actions;
    this.#button = h(
      'button',
      {
        class: 'btn ghost small waiting-button',
        type: 'button',
        'data-testid': 'waiting-button',
        'aria-expanded': 'false',
        'aria-controls': 'waiting-panel',
        onclick: () => this.#toggle(),
      },
      icon('users'),
      h('span', { class: 'btn-label' }, 'Waiting'),
      this.#count,
    );
    this.#panel = h(
      'div',
      { class: 'waiting-panel card', id: 'waiting-panel', role: 'region', 'aria-label': 'Waiting to join', hidden: true },
      h('h3', {}, 'Waiting to join'),
      this.#list,
    );
    this.#panel.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      this.#show(false);
      this.#button.focus();
    });
    this.el = h('div', { class: 'menu-anchor', hidden: true }, this.#button, this.#panel);
    this.#subs.add(
      state.on('waiting', () => this.#render()),
      state.on('settings', () => this.#render()),
    );
    this.#render();
  }

  /** Only moderators see it. */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    this.#render();
  }

  destroy(): void {
    this.#subs.clear();
  }

  #toggle(): void {
    this.#show(this.#panel.hidden !== false);
  }

  #show(open: boolean): void {
    this.#panel.hidden = !open;
    this.#button.setAttribute('aria-expanded', String(open));
    if (open) this.#list.querySelector('button')?.focus();
  }

  #render(): void {
    const waiting = this.#state.waiting;
    this.el.hidden = !this.#enabled || (waiting.length === 0 && !this.#state.settings.lobby);
    this.#count.textContent = String(waiting.length);
    this.#count.hidden = waiting.length === 0;
    const label = `Waiting to join: ${waiting.length}`;
    this.#button.title = label;
    this.#button.setAttribute('aria-label', label);
    this.#list.replaceChildren(
      ...(waiting.length === 0 ? [h('li', { class: 'waiting-empty' }, 'Nobody is waiting.')] : []),
      ...waiting.map((w) =>
        h(
          'li',
          { 'data-testid': 'waiting-entry', 'data-name': w.displayName },
          h('span', { class: 'waiting-name' }, w.displayName),
          h(
            'button',
            { class: 'btn primary small', type: 'button', 'data-testid': 'admit', 'aria-label': `Admit ${w.displayName}`, onclick: () => void this.#actions.admit(w.peerId) },
            'Admit',
          ),
          h(
            'button',
            { class: 'btn ghost small', type: 'button', 'data-testid': 'deny', 'aria-label': `Deny ${w.displayName}`, onclick: () => void this.#actions.deny(w.peerId) },
            'Deny',
          ),
        ),
      ),
    );
  }
}
