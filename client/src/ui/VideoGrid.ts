/**
 * Lays out the tiles: an even grid sized to fill the available space at 16:9, or, while
 * someone shares a screen, the screen on a large stage with people in a side strip.
 */
import { Emitter, Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import type { Participant, RoomState } from '../room/RoomState.js';
import { VideoTile, type TileActions } from './VideoTile.js';

const GAP = 10;
const ASPECT = 16 / 9;

type VideoGridEvents = {
  /** After each layout: how wide each person's tile is, in device pixels. */
  sizes: [Map<string, number>];
};

export class VideoGrid extends Emitter<VideoGridEvents> {
  readonly el: HTMLDivElement;
  readonly #state: RoomState;
  readonly #people = new Map<string, VideoTile>();
  readonly #screens = new Map<string, VideoTile>();
  readonly #stage = h('div', { class: 'stage' });
  readonly #strip = h('div', { class: 'strip' });
  readonly #subs = new Subscriptions();
  readonly #resize: ResizeObserver;
  readonly #actions: TileActions;
  #frame = 0;

  /** `actions` are offered on one's own tiles: changing one's name, stopping a share. */
  constructor(state: RoomState, actions: TileActions = {}) {
    super();
    this.#state = state;
    this.#actions = actions;
    this.el = h('div', { class: 'grid', 'data-testid': 'grid' });
    this.#resize = new ResizeObserver(() => this.#scheduleLayout());
    this.#resize.observe(this.el);
    for (const p of state.participants) this.#apply(p);
    this.#subs.add(
      state.on('participant', (p) => this.#apply(p)),
      state.on('participantRemoved', (id) => this.#remove(id)),
      state.on('speaker', () => this.#markSpeaker()),
    );
    this.#markSpeaker();
  }

  destroy(): void {
    this.removeAllListeners();
    this.#subs.clear();
    this.#resize.disconnect();
    cancelAnimationFrame(this.#frame);
    for (const tile of [...this.#people.values(), ...this.#screens.values()]) tile.remove();
  }

  #apply(p: Participant): void {
    const person = this.#people.get(p.id);
    if (person) person.update(p);
    else this.#people.set(p.id, new VideoTile('person', p, p.local ? this.#actions : {}));

    const screen = this.#screens.get(p.id);
    if (p.media.screen) {
      if (screen) screen.update(p);
      else this.#screens.set(p.id, new VideoTile('screen', p, p.local ? this.#actions : {}));
    } else if (screen) {
      screen.remove();
      this.#screens.delete(p.id);
    }
    this.#markSpeaker();
    this.#scheduleLayout();
  }

  #remove(id: string): void {
    this.#people.get(id)?.remove();
    this.#people.delete(id);
    this.#screens.get(id)?.remove();
    this.#screens.delete(id);
    this.#scheduleLayout();
  }

  #markSpeaker(): void {
    const speaker = this.#state.speaker;
    // The server keeps naming the last dominant speaker after they mute; do not light them up.
    const mic = speaker ? this.#state.participant(speaker)?.media.mic : undefined;
    const audible = mic !== undefined && !mic.paused;
    for (const [id, tile] of this.#people) tile.setSpeaking(audible && id === speaker);
  }

  #scheduleLayout(): void {
    cancelAnimationFrame(this.#frame);
    this.#frame = requestAnimationFrame(() => this.#layout());
  }

  /** Local participant first, then remotes in join order. */
  #orderedPeople(): VideoTile[] {
    const tiles = [...this.#people.entries()];
    tiles.sort(([a], [b]) => Number(b === this.#state.localId) - Number(a === this.#state.localId));
    return tiles.map(([, tile]) => tile);
  }

  /** Moving a video element in the DOM pauses it. */
  #resumeAll(): void {
    for (const tile of [...this.#people.values(), ...this.#screens.values()]) tile.resume();
  }

  #layout(): void {
    this.#arrange();
    const sizes = new Map<string, number>();
    for (const [id, tile] of this.#people) sizes.set(id, Math.round(tile.el.clientWidth * window.devicePixelRatio));
    this.emit('sizes', sizes);
  }

  #arrange(): void {
    const people = this.#orderedPeople();
    if (this.#screens.size > 0) {
      this.el.classList.add('staged');
      placeChildren(this.#stage, [...this.#screens.values()].map((t) => t.el));
      placeChildren(this.#strip, people.map((t) => t.el));
      for (const t of people) {
        t.el.style.removeProperty('width');
        t.el.style.removeProperty('height');
      }
      if (this.#stage.parentElement !== this.el) this.el.replaceChildren(this.#stage, this.#strip);
      this.#resumeAll();
      return;
    }
    this.el.classList.remove('staged');
    placeChildren(this.el, people.map((t) => t.el));
    this.#resumeAll();
    const { width, height } = this.el.getBoundingClientRect();
    const size = bestTileWidth(people.length, width, height);
    for (const t of people) {
      t.el.style.width = `${size}px`;
      t.el.style.height = `${size / ASPECT}px`;
    }
  }
}

/**
 * Re-inserting a node, even where it already is, takes focus away from inside it (e.g. from
 * the name field on one's own tile), so the children are only replaced when they differ.
 */
function placeChildren(parent: Element, nodes: Element[]): void {
  const current = parent.children;
  if (current.length === nodes.length && nodes.every((node, i) => current[i] === node)) return;
  parent.replaceChildren(...nodes);
}

/** The largest 16:9 tile width at which n tiles fit into width × height. */
export function bestTileWidth(n: number, width: number, height: number): number {
  if (n === 0 || width <= 0 || height <= 0) return 0;
  let best = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((width - GAP * (cols - 1)) / cols, ((height - GAP * (rows - 1)) / rows) * ASPECT);
    best = Math.max(best, w);
  }
  return Math.floor(best);
}
