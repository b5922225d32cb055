/**
 * Transient toasts and the persistent "reconnecting" banner.
 */
import { h } from '../lib/dom.js';

export class Toasts {
  readonly el = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });

  readonly #timers = new Map<HTMLElement, ReturnType<typeof setTimeout>>();

  /**
   * The same text twice keeps one toast up for longer rather than stacking copies, and at
   * most three show at once, so that a burst never buries the page.
   */
  show(text: string, ms = 5000): void {
    const same = [...this.#timers.keys()].find((t) => t.textContent === text);
    const toast = same ?? h('div', { class: 'toast' }, text);
    clearTimeout(this.#timers.get(toast));
    this.#timers.set(
      toast,
      setTimeout(() => this.#remove(toast), ms),
    );
    if (!same) this.el.appendChild(toast);
    while (this.#timers.size > 3) this.#remove(this.#timers.keys().next().value as HTMLElement);
  }

  #remove(toast: HTMLElement): void {
    clearTimeout(this.#timers.get(toast));
    this.#timers.delete(toast);
    toast.remove();
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
