/**
 * The lobby: a form to create or join a room, and the live list of public rooms. Names and
 * devices are chosen on the pre-join screen that follows.
 */
import { Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import { hue, initials, plural } from '../lib/format.js';
import { brandGlyph, icon } from '../lib/icons.js';
import { ROOM_INPUT_MAX, describeRoomIdProblem, parseRoomId, type RoomSummary } from '../protocol.js';
import type { ConnectionState, SignalingClient } from '../signaling/SignalingClient.js';
import { roomPath } from '../app/routes.js';

/** Rooms added by each "Show more". */
const ROOMS_MORE = 50;

export interface LobbyJoin {
  roomId: string;
  password?: string;
  public: boolean;
}

export class LobbyView {
  readonly el: HTMLDivElement;
  readonly #signaling: SignalingClient;
  readonly #onJoin: (join: LobbyJoin) => void;
  readonly #subs = new Subscriptions();
  readonly #list = h('ul', { class: 'room-list', 'data-testid': 'room-list' });
  /** Rooms the user asked to see with "Show more"; 0: the server's first page. */
  #wanted = 0;
  #shown = 0;
  readonly #roomCount = h('span', { class: 'pill', 'data-testid': 'room-count' }, '0');
  readonly #conn = h('span', { class: 'conn' });
  readonly #error = h('div', { class: 'form-error', role: 'alert' });
  /** What the typed name becomes: the room's link, or why it cannot be one. */
  readonly #link = h('span', { class: 'link-preview', id: 'room-link-preview', 'data-testid': 'room-link-preview' });
  readonly #roomName: HTMLInputElement;
  readonly #password: HTMLInputElement;
  readonly #public: HTMLInputElement;

  constructor(signaling: SignalingClient, onJoin: (join: LobbyJoin) => void, notice?: string) {
    this.#signaling = signaling;
    this.#onJoin = onJoin;
    this.#roomName = h('input', {
      class: 'input',
      'data-testid': 'room-name',
      placeholder: 'e.g. Team standup',
      maxlength: ROOM_INPUT_MAX,
      required: true,
      'aria-describedby': 'room-link-preview',
      oninput: () => this.#renderLink(),
    });
    this.#password = h('input', {
      class: 'input',
      type: 'password',
      'data-testid': 'room-password',
      placeholder: 'Optional — locks a new room',
      maxlength: 128,
      autocomplete: 'new-password',
    });
    this.#public = h('input', { type: 'checkbox', checked: true, 'data-testid': 'room-public' });

    const form = h(
      'form',
      { class: 'join-card card', onsubmit: (e: Event) => this.#submit(e) },
      h('h2', {}, 'Start or join a meeting'),
      h('label', { class: 'field' }, h('span', {}, 'Room name'), this.#roomName, this.#link),
      h('label', { class: 'field' }, h('span', {}, 'Password'), this.#password),
      h('div', { class: 'join-options' }, h('label', { class: 'check' }, this.#public, 'List in public rooms')),
      this.#error,
      h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'join' }, icon('plus'), 'Create or join'),
    );
    const rooms = h(
      'section',
      { class: 'rooms-card card' },
      h('div', { class: 'rooms-head' }, h('h2', {}, 'Public rooms'), this.#roomCount, h('div', { class: 'spacer' }), this.#conn),
      this.#list,
    );
    this.el = h(
      'div',
      { class: 'lobby', 'data-testid': 'lobby' },
      h(
        'header',
        { class: 'topbar' },
        h('div', { class: 'brand' }, h('div', { class: 'brand-mark' }, brandGlyph()), 'Noom'),
      ),
      h(
        'main',
        { class: 'lobby-main' },
        h(
          'div',
          { class: 'hero' },
          h('h1', {}, 'Video meetings on your own server'),
          h('p', {}, 'Pick a name, open a room, share the link. No account needed.'),
        ),
        form,
        rooms,
      ),
    );
    if (notice) this.#error.textContent = notice;

    this.#renderRooms([], 0);
    this.#renderConnection(signaling.state);
    this.#subs.add(
      signaling.listen('rooms:update', (page) => {
        // The push carries the first page; someone who asked for more keeps seeing it.
        if (this.#wanted > page.rooms.length && page.total > page.rooms.length) void this.#refresh();
        else this.#renderRooms(page.rooms, page.total);
      }),
      signaling.on('state', (state) => {
        this.#renderConnection(state);
        if (state === 'connected') void this.#refresh();
      }),
    );
    void this.#refresh();
  }

  destroy(): void {
    this.#subs.clear();
    this.el.remove();
  }

  async #refresh(): Promise<void> {
    try {
      const { rooms, total } = await this.#signaling.request('rooms:list', this.#wanted > 0 ? { limit: this.#wanted } : {});
      this.#renderRooms(rooms, total);
    } catch (error) {
      console.warn('rooms:list failed', error);
    }
  }

  #submit(event: Event): void {
    event.preventDefault();
    const room = parseRoomId(this.#roomName.value);
    if (!room.ok) {
      this.#error.textContent = describeRoomIdProblem(room.problem);
      this.#roomName.focus();
      return;
    }
    this.#error.textContent = '';
    const password = this.#password.value;
    this.#onJoin({ roomId: room.id, public: this.#public.checked, ...(password ? { password } : {}) });
  }

  #renderLink(): void {
    const typed = this.#roomName.value;
    const room = parseRoomId(typed);
    this.#error.textContent = '';
    this.#roomName.setAttribute('aria-invalid', String(typed.trim() !== '' && !room.ok));
    this.#link.classList.toggle('error', typed.trim() !== '' && !room.ok);
    if (!typed.trim()) this.#link.textContent = '';
    else if (room.ok) this.#link.textContent = `Link: ${location.host}${roomPath(room.id)}`;
    else this.#link.textContent = describeRoomIdProblem(room.problem);
  }

  #renderConnection(state: ConnectionState): void {
    this.#conn.className = state === 'connected' ? 'conn connected' : 'conn';
    this.#conn.textContent = state === 'connected' ? 'Live' : 'Connecting…';
  }

  #renderRooms(rooms: RoomSummary[], total: number): void {
    const sorted = [...rooms].sort((a, b) => b.peerCount - a.peerCount || a.name.localeCompare(b.name));
    this.#roomCount.textContent = String(total);
    this.#roomCount.dataset.count = String(total);
    this.#shown = sorted.length;
    if (sorted.length === 0) {
      this.#list.replaceChildren(
        h('li', { class: 'empty' }, h('strong', {}, 'No public rooms yet'), 'Create one and it will show up here.'),
      );
      return;
    }
    const more = total - sorted.length;
    const rows: HTMLLIElement[] = sorted.map((room) => this.#row(room));
    if (more > 0) {
      const label = `Show more (${more} more ${more === 1 ? 'room' : 'rooms'})`;
      const button = h('button', { class: 'btn ghost small', type: 'button', 'data-testid': 'more-rooms', onclick: () => void this.#showMore() }, label);
      rows.push(h('li', { class: 'more' }, button));
    }
    this.#list.replaceChildren(...rows);
  }

  async #showMore(): Promise<void> {
    this.#wanted = this.#shown + ROOMS_MORE;
    await this.#refresh();
  }

  #row(room: RoomSummary): HTMLLIElement {
    const open = () => this.#onJoin({ roomId: room.id, public: true });
    const full = room.peerCount >= room.maxPeers;
    return h(
      'li',
      {
        class: full ? 'room-row full' : 'room-row',
        'data-room-id': room.id,
        'data-count': room.peerCount,
        'data-full': String(full),
        // Long names are cut short in the row; the tooltip has all of it.
        title: room.name,
        tabindex: 0,
        onclick: open,
        onkeydown: (e: Event) => {
          if (e instanceof KeyboardEvent && e.key === 'Enter') open();
        },
      },
      h('div', { class: 'room-avatar', style: `background: hsl(${hue(room.name)} 50% 40%)` }, initials(room.name)),
      h(
        'div',
        { class: 'room-info' },
        h(
          'div',
          { class: 'room-name' },
          h('span', { class: 'room-name-text' }, room.name),
          room.locked ? icon('lock') : null,
        ),
        h(
          'div',
          { class: 'room-meta' },
          icon('users'),
          h('span', { class: 'count' }, plural(room.peerCount, 'participant')),
          full ? h('span', { class: 'room-full' }, '· full') : null,
        ),
      ),
      // A full room can still be tried (someone may leave); the row says what to expect.
      h('button', { class: 'btn small', type: 'button', tabindex: -1 }, full ? 'Full' : 'Join'),
    );
  }
}
