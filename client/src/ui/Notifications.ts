/**
 * Transient toasts and the persistent "reconnecting" banner.
 */
import { h } from '../lib/dom.js';

export class Toasts {
  readonly el = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });

  show(text: string, ms = 5000): void {
    const toast = h('div', { class: 'toast' }, text);
    this.el.appendChild(toast);
    setTimeout(() => toast.remove(), ms);
  }
}

export class StatusBanner {
  readonly el = h('div', { class: 'banner', 'data-testid': 'status-banner', hidden: true, role: 'status' });

  show(text: string): void {
    this.el.replaceChildren(h('span', { class: 'spinner' }), text);
    this.el.hidden = false;
  }

  hide(): void {
    this.el.hidden = true;
  }
}
