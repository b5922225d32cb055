/**
 * A full-page message with one way out, for rooms that cannot be joined.
 */
import { h } from '../lib/dom.js';

export function messageScreen(title: string, text: string, action: { label: string; run: () => void }): HTMLElement {
  return h(
    'div',
    { class: 'screen-center' },
    h(
      'div',
      { class: 'message-card card', 'data-testid': 'message-screen' },
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
