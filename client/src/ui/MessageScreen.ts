/**
 * A full-page message with one way out, for rooms that cannot be joined.
 */
import { h } from '../lib/dom.js';

/** `kind` names the situation for tests and styles (`data-kind`), e.g. `kicked`. */
export function messageScreen(title: string, text: string, action: { label: string; run: () => void }, kind?: string): HTMLElement {
  return h(
    'div',
    { class: 'screen-center' },
    h(
      'div',
      { class: 'message-card card', 'data-testid': 'message-screen', 'data-kind': kind, role: 'alert' },
      h('h2', {}, title),
      h('p', {}, text),
      h('button', { class: 'btn primary', onclick: action.run }, action.label),
    ),
  );
}

export function loadingScreen(text: string): HTMLElement {
  const status = h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner' }), text);
  return h('div', { class: 'screen-center' }, status);
}

/** While a join waits in the room's lobby for a moderator. */
export function waitingScreen(roomId: string, cancel: () => void): HTMLElement {
  const button = h('button', { class: 'btn ghost', type: 'button', 'data-testid': 'waiting-cancel', onclick: cancel }, 'Cancel');
  const el = h(
    'div',
    { class: 'screen-center' },
    h(
      'div',
      { class: 'message-card card', 'data-testid': 'waiting-screen', role: 'status' },
      h('h2', {}, roomId),
      h('p', {}, h('span', { class: 'spinner' }), ' Waiting for a moderator to let you in…'),
      button,
    ),
  );
  queueMicrotask(() => button.focus());
  return el;
}
