/**
 * The small tile of someone beyond the grid's video tiles: initials, name, muted and
 * speaking indicators and a pin button. It holds no video, so it costs no decoder.
 */
import { h } from '../lib/dom.js';
import { hue, initials } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import type { Participant } from '../room/RoomState.js';
import type { MenuItem } from './Menu.js';
import { pinButton, type PinButton } from './PinButton.js';
import { peerMenuButton, roleBadge, showRole } from './VideoTile.js';

export class NameTile {
  readonly el: HTMLDivElement;
  readonly #avatar = h('div', { class: 'avatar-circle' });
  readonly #label = h('span', { class: 'label' });
  readonly #pin: PinButton;
  readonly #role = roleBadge();

  constructor(participant: Participant, togglePin: (peerId: string) => void, peerMenuItems?: (peerId: string) => MenuItem[]) {
    this.#pin = pinButton(() => togglePin(participant.id));
    this.el = h(
      'div',
      { class: 'name-tile', 'data-testid': 'name-tile', 'data-peer': participant.id },
      this.#avatar,
      this.#label,
      this.#role,
      icon('micOff', 'icon muted'),
      this.#pin.el,
      peerMenuItems ? h('div', { class: 'tile-menu' }, peerMenuButton(participant, peerMenuItems)) : null,
    );
    this.update(participant);
  }

  update(p: Participant): void {
    this.el.dataset.name = p.displayName;
    this.#label.textContent = p.displayName;
    this.el.dataset.role = p.role;
    showRole(this.#role, p);
    this.#avatar.textContent = initials(p.displayName);
    this.#avatar.style.background = `hsl(${hue(p.displayName)} 55% 42%)`;
    this.el.classList.toggle('mic-off', !p.media.mic || p.media.mic.paused);
  }

  setSpeaking(speaking: boolean): void {
    this.el.classList.toggle('speaking', speaking);
  }

  setPinned(pinned: boolean): void {
    this.#pin.setPinned(pinned);
  }
}
