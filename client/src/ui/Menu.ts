/**
 * A pop-up menu under the button that opens it (WAI-ARIA menu button): arrow keys, Home and
 * End move between items, Enter or Space chooses, Escape, Tab or a click elsewhere closes it
 * and gives focus back to the button. Items are built when it opens, so they reflect the
 * state of that moment.
 */
import { h } from '../lib/dom.js';

export interface MenuItem {
  label: string;
  run: () => void;
  /** Red: removes someone or ends something. */
  danger?: boolean;
  disabled?: boolean;
  /** A setting that is on or off (menuitemcheckbox). */
  checked?: boolean;
  testId?: string;
}

export class Menu {
  readonly #button: HTMLButtonElement;
  readonly #items: () => MenuItem[];
  readonly #label: string;
  #el: HTMLDivElement | null = null;
  readonly #onOutside = (e: MouseEvent): void => {
    if (e.target instanceof Node && !this.#el?.contains(e.target) && !this.#button.contains(e.target)) this.close(false);
  };

  /** Turns `button` into the menu's button; `items` are read each time it opens. */
  constructor(button: HTMLButtonElement, label: string, items: () => MenuItem[]) {
    this.#button = button;
    this.#label = label;
    this.#items = items;
    button.setAttribute('aria-haspopup', 'menu');
    button.setAttribute('aria-expanded', 'false');
    button.addEventListener('click', (e) => {
      e.stopPropagation();
      if (this.#el) this.close(true);
      else this.open();
    });
    button.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowDown' || this.#el) return;
      e.preventDefault();
      this.open();
    });
  }

  get isOpen(): boolean {
    return this.#el !== null;
  }

  open(): void {
    if (this.#el) return;
    const buttons = this.#items().map((item) =>
      h(
        'button',
        {
          type: 'button',
          class: `menu-item${item.danger ? ' danger' : ''}`,
          role: item.checked === undefined ? 'menuitem' : 'menuitemcheckbox',
          'aria-checked': item.checked === undefined ? undefined : String(item.checked),
          'aria-disabled': item.disabled ? 'true' : undefined,
          'data-testid': item.testId,
          tabindex: -1,
          onclick: () => {
            if (item.disabled) return;
            this.close(true);
            item.run();
          },
        },
        item.label,
      ),
    );
    const el = h('div', { class: 'menu', role: 'menu', 'aria-label': this.#label }, ...buttons);
    el.addEventListener('keydown', (e) => this.#onKey(e, buttons));
    this.#el = el;
    // Beside the button, so that it scrolls and is laid out with it.
    this.#button.insertAdjacentElement('afterend', el);
    this.#button.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', this.#onOutside);
    (buttons.find((b) => b.getAttribute('aria-disabled') !== 'true') ?? buttons[0])?.focus();
  }

  /** `refocus`: give focus back to the button (after a key or a choice, not a click elsewhere). */
  close(refocus: boolean): void {
    if (!this.#el) return;
    document.removeEventListener('mousedown', this.#onOutside);
    this.#el.remove();
    this.#el = null;
    this.#button.setAttribute('aria-expanded', 'false');
    if (refocus && this.#button.isConnected) this.#button.focus();
  }

  #onKey(e: KeyboardEvent, buttons: HTMLButtonElement[]): void {
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const move = (i: number) => buttons[(i + buttons.length) % buttons.length]?.focus();
    switch (e.key) {
      case 'Escape':
        e.preventDefault();
        e.stopPropagation();
        this.close(true);
        return;
      case 'Tab':
        this.close(false);
        return;
      case 'ArrowDown':
        e.preventDefault();
        move(at + 1);
        return;
      case 'ArrowUp':
        e.preventDefault();
        move(at - 1);
        return;
      case 'Home':
        e.preventDefault();
        move(0);
        return;
      case 'End':
        e.preventDefault();
        move(buttons.length - 1);
        return;
      default:
        return;
    }
  }
}
