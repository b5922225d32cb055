/**
 * The pin toggle on other people's tiles. Pinned people keep a video tile whatever the
 * grid's size and whoever speaks; pins are this browser's own and nobody else sees them.
 */
import { h } from '../lib/dom.js';
import { icon } from '../lib/icons.js';

export interface PinButton {
  el: HTMLButtonElement;
  setPinned(pinned: boolean): void;
}

export function pinButton(toggle: () => void): PinButton {
  const el = h(
    'button',
    { class: 'pin', type: 'button', 'data-testid': 'pin', onclick: () => toggle() },
    icon('pin'),
  );
  const setPinned = (pinned: boolean): void => {
    el.setAttribute('aria-pressed', String(pinned));
    const label = pinned ? 'Unpin' : 'Pin: always show on video';
    el.title = label;
    el.setAttribute('aria-label', label);
  };
  setPinned(false);
  return { el, setPinned };
}
