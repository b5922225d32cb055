/**
 * Which tiles someone could be looking at: inside the window (not scrolled away in the
 * strip, not in a part of the layout that is hidden) of a page that is itself visible. A
 * background tab sees nothing, so it need not receive or decode any video.
 */
import { Emitter } from '../lib/Emitter.js';

type TileVisibilityEvents = {
  /** A tile came into or went out of view, or the page was shown or hidden. */
  change: [];
};

export class TileVisibility extends Emitter<TileVisibilityEvents> {
  readonly #observer: IntersectionObserver;
  /** Observed elements inside the window; an element starts outside until the observer says. */
  readonly #inView = new Set<Element>();
  readonly #onPageVisibility = (): void => this.emit('change');

  constructor() {
    super();
    this.#observer = new IntersectionObserver((entries) => {
      let changed = false;
      for (const entry of entries) {
        const was = this.#inView.has(entry.target);
        if (entry.isIntersecting) this.#inView.add(entry.target);
        else this.#inView.delete(entry.target);
        changed ||= was !== entry.isIntersecting;
      }
      if (changed) this.emit('change');
    });
    document.addEventListener('visibilitychange', this.#onPageVisibility);
  }

  get pageVisible(): boolean {
    return document.visibilityState === 'visible';
  }

  observe(el: Element): void {
    this.#observer.observe(el);
  }

  unobserve(el: Element): void {
    this.#observer.unobserve(el);
    this.#inView.delete(el);
  }

  /** In a visible page, inside the window and attached to the document. */
  seen(el: Element): boolean {
    return this.pageVisible && el.isConnected && this.#inView.has(el);
  }

  destroy(): void {
    this.removeAllListeners();
    this.#observer.disconnect();
    this.#inView.clear();
    document.removeEventListener('visibilitychange', this.#onPageVisibility);
  }
}
