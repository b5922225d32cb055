/**
 * Lays out the tiles: an even grid sized to fill the available space at 16:9, or, while
 * someone shares a screen, the screen on a large stage with people in a side strip. Only
 * the first N people get a video tile (last-N: N from tileBudget.ts, who from
 * tileRanking.ts); the others get a small name tile, in a row under the grid or at the end
 * of the strip. After each change it reports which remote videos can be seen, so that only
 * those are received and decoded.
 */
import { Emitter, Subscriptions } from '../lib/Emitter.js';
import { h } from '../lib/dom.js';
import type { Participant, RoomState } from '../room/RoomState.js';
import { NameTile } from './NameTile.js';
import { SpeakerHistory } from './SpeakerHistory.js';
import {
  ASPECT,
  GAP,
  MAX_VIDEO_TILES,
  PHONE_GRID_WIDTH,
  bestTile,
  videoWidthFor,
  fitBox,
  gridVideoBudget,
  stripBelow,
  stripVideoBudget,
} from './tileBudget.js';
import { keepPlaces, rankForVideo, type Candidate } from './tileRanking.js';
import { TileVisibility } from './TileVisibility.js';
import { VideoTile, type TileActions } from './VideoTile.js';

type VideoGridEvents = {
  /** After each layout: how wide each person's video tile is, in device pixels. */
  sizes: [Map<string, number>];
  /** Producer ids of the remote videos that can be seen now; the others need not be received. */
  visible: [ReadonlySet<string>];
};

export class VideoGrid extends Emitter<VideoGridEvents> {
  readonly el: HTMLDivElement;
  readonly #state: RoomState;
  /** Everyone's camera tile, in join order, whether it is placed or not. */
  readonly #people = new Map<string, VideoTile>();
  /** Everyone else's name tile, placed when they have no video tile. */
  readonly #names = new Map<string, NameTile>();
  readonly #screens = new Map<string, VideoTile>();
  readonly #stage = h('div', { class: 'stage' });
  readonly #strip = h('div', { class: 'strip' });
  readonly #others = h('div', { class: 'others', 'data-testid': 'others' });
  readonly #subs = new Subscriptions();
  readonly #resize: ResizeObserver;
  readonly #visibility = new TileVisibility();
  readonly #actions: TileActions;
  readonly #speakers = new SpeakerHistory(MAX_VIDEO_TILES);
  /**
   * Pinned people, most recently pinned first. Kept when their tiles go: a reconnect of ours
   * removes everyone and brings the same people back with the same ids.
   */
  #pinned: string[] = [];
  /** Unpinned people with a video tile, in the order of their places in the grid. */
  #placed: string[] = [];
  /** The camera tiles placed by the last layout. */
  #shown: VideoTile[] = [];
  #visible: ReadonlySet<string> = new Set();
  /** Video tiles the last measurable layout allowed, for when the grid is hidden and measures 0. */
  #budget = MAX_VIDEO_TILES;
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
      state.on('speaker', (id) => this.#onSpeaker(id)),
      // Not through a layout: a hidden page runs no animation frames.
      this.#visibility.on('change', () => this.#reportVisible()),
    );
    this.#markSpeaker();
  }

  destroy(): void {
    this.removeAllListeners();
    this.#subs.clear();
    this.#resize.disconnect();
    this.#visibility.destroy();
    cancelAnimationFrame(this.#frame);
    for (const tile of [...this.#people.values(), ...this.#screens.values()]) tile.remove();
  }

  #apply(p: Participant): void {
    const person = this.#people.get(p.id);
    if (person) person.update(p);
    else this.#people.set(p.id, this.#newTile('person', p));
    if (!p.local) {
      const name = this.#names.get(p.id);
      if (name) name.update(p);
      else this.#names.set(p.id, this.#newNameTile(p));
    }

    const screen = this.#screens.get(p.id);
    if (p.media.screen) {
      if (screen) screen.update(p);
      else {
        const tile = this.#newTile('screen', p);
        tile.onContentResize(() => this.#scheduleLayout());
        this.#screens.set(p.id, tile);
      }
    } else if (screen) {
      this.#dropTile(screen);
      this.#screens.delete(p.id);
    }
    this.#markSpeaker();
    this.#scheduleLayout();
  }

  #newTile(kind: 'person' | 'screen', p: Participant): VideoTile {
    const { peerMenuItems } = this.#actions;
    const actions = p.local
      ? this.#actions
      : { togglePin: (id: string) => this.#togglePin(id), ...(peerMenuItems ? { peerMenuItems } : {}) };
    const tile = new VideoTile(kind, p, actions);
    tile.setPinned(this.#pinned.includes(p.id));
    this.#visibility.observe(tile.el);
    return tile;
  }

  #newNameTile(p: Participant): NameTile {
    const tile = new NameTile(p, (id) => this.#togglePin(id), this.#actions.peerMenuItems);
    tile.setPinned(this.#pinned.includes(p.id));
    return tile;
  }

  #dropTile(tile: VideoTile): void {
    this.#visibility.unobserve(tile.el);
    tile.remove();
  }

  #remove(id: string): void {
    const person = this.#people.get(id);
    if (person) this.#dropTile(person);
    this.#people.delete(id);
    this.#names.get(id)?.el.remove();
    this.#names.delete(id);
    const screen = this.#screens.get(id);
    if (screen) this.#dropTile(screen);
    this.#screens.delete(id);
    this.#speakers.forget(id);
    this.#scheduleLayout();
  }

  #onSpeaker(id: string | null): void {
    // One's own tile is always shown; only other people compete for tiles.
    if (id !== null && id !== this.#state.localId && this.#speakers.spoke(id)) this.#scheduleLayout();
    this.#markSpeaker();
  }

  #togglePin(id: string): void {
    this.#pinned = this.#pinned.includes(id) ? this.#pinned.filter((other) => other !== id) : [id, ...this.#pinned];
    const pinned = this.#pinned.includes(id);
    this.#people.get(id)?.setPinned(pinned);
    this.#names.get(id)?.setPinned(pinned);
    this.#scheduleLayout();
  }

  #markSpeaker(): void {
    const speaker = this.#state.speaker;
    // The server keeps naming the last dominant speaker after they mute; do not light them up.
    const mic = speaker ? this.#state.participant(speaker)?.media.mic : undefined;
    const audible = mic !== undefined && !mic.paused;
    for (const [id, tile] of this.#people) tile.setSpeaking(audible && id === speaker);
    for (const [id, tile] of this.#names) tile.setSpeaking(audible && id === speaker);
  }

  #scheduleLayout(): void {
    cancelAnimationFrame(this.#frame);
    this.#frame = requestAnimationFrame(() => this.#layout());
  }

  /** Moving a video element in the DOM pauses it. */
  #resumeAll(): void {
    for (const tile of [...this.#shown, ...this.#screens.values()]) tile.resume();
  }

  #layout(): void {
    if (this.#screens.size > 0) this.#arrangeStaged();
    else this.#arrangeGrid();
    this.#resumeAll();
    const sizes = new Map<string, number>();
    for (const tile of this.#shown) {
      const id = tile.el.dataset.peer;
      const box = { width: tile.el.clientWidth, height: tile.el.clientHeight };
      if (id) sizes.set(id, Math.round(videoWidthFor(box) * window.devicePixelRatio));
    }
    this.emit('sizes', sizes);
    this.#reportVisible();
  }

  #arrangeGrid(): void {
    this.el.classList.remove('staged', 'strip-below');
    const { width, height } = this.el.getBoundingClientRect();
    // Hidden (e.g. under the chat on a phone), the grid measures 0: keep the last plan.
    const measured = width > 0 && height > 0;
    let videoHeight = height;
    let budget = measured ? gridVideoBudget(width, height) : this.#budget;
    if (measured && this.#people.size > budget) {
      // The row of name tiles takes its height from the grid before the video tiles share the rest.
      if (this.#others.parentElement !== this.el) this.el.appendChild(this.#others);
      videoHeight = height - this.#others.offsetHeight - GAP;
      budget = gridVideoBudget(width, videoHeight);
    }
    this.#budget = budget;
    const names = this.#choose(budget);
    placeChildren(this.el, [...this.#shown.map((t) => t.el), ...(names.length > 0 ? [this.#others] : [])]);
    placeChildren(this.#others, names.map((t) => t.el));
    if (!measured) return;
    const size = bestTile(this.#shown.length, width, videoHeight);
    this.el.dataset.cols = String(size.cols);
    for (const t of this.#shown) {
      t.el.style.width = `${size.width}px`;
      t.el.style.height = `${size.height}px`;
    }
  }

  #arrangeStaged(): void {
    this.el.classList.add('staged');
    const screens = [...this.#screens.values()];
    placeChildren(this.#stage, screens.map((t) => t.el));
    if (this.#stage.parentElement !== this.el) this.el.replaceChildren(this.#stage, this.#strip);
    const { width, height } = this.el.getBoundingClientRect();
    const measured = width > 0 && height > 0;
    const only = screens.length === 1 ? screens[0] : undefined;
    const aspect = only?.contentAspect ?? ASPECT;
    if (measured) this.el.classList.toggle('strip-below', stripBelow(width, height, aspect, width < PHONE_GRID_WIDTH));
    // The strip's tiles have a fixed size set by the stylesheet: a column of full-width
    // tiles beside the stage, or a row of full-height tiles under it.
    const { clientWidth: w, clientHeight: hgt } = this.#strip;
    const horizontal = w > hgt;
    const budget =
      w > 0 && hgt > 0
        ? stripVideoBudget(horizontal ? w : hgt, horizontal ? hgt * ASPECT : w / ASPECT, width < PHONE_GRID_WIDTH)
        : this.#budget;
    this.#budget = budget;
    const names = this.#choose(budget);
    placeChildren(this.#strip, [...this.#shown.map((t) => t.el), ...names.map((t) => t.el)]);
    for (const t of this.#shown) {
      t.el.style.removeProperty('width');
      t.el.style.removeProperty('height');
    }
    // One screen fills its stage at its own aspect ratio, without bars; several share it.
    for (const t of screens) t.el.classList.toggle('fitted', t === only && measured);
    if (only && measured) {
      const box = fitBox(this.#stage.clientWidth, this.#stage.clientHeight, aspect);
      only.el.style.width = `${box.width}px`;
      only.el.style.height = `${box.height}px`;
    } else {
      for (const t of screens) {
        t.el.style.removeProperty('width');
        t.el.style.removeProperty('height');
      }
    }
  }

  /**
   * Picks who is on video for `budget` tiles: oneself first, then pinned people, then the
   * others in the places they had. Sets #shown and returns the name tiles of everyone else,
   * in join order.
   */
  #choose(budget: number): NameTile[] {
    const localId = this.#state.localId;
    const local = localId === null ? undefined : this.#people.get(localId);
    const candidates: Candidate[] = [];
    for (const id of this.#people.keys()) {
      const p = id === localId ? undefined : this.#state.participant(id);
      if (!p) continue;
      const camera = p.media.camera;
      candidates.push({ id, video: camera !== undefined && !camera.paused, presenting: p.media.screen !== undefined });
    }
    const slots = Math.max(0, budget - (local ? 1 : 0));
    const chosen = rankForVideo(candidates, this.#pinned, this.#speakers.ids).slice(0, slots);
    const chosenSet = new Set(chosen);
    const pinned = this.#pinned.filter((id) => chosenSet.has(id));
    this.#placed = keepPlaces(this.#placed, chosen.filter((id) => !pinned.includes(id)));
    const others = [...pinned, ...this.#placed].flatMap((id) => this.#people.get(id) ?? []);
    this.#shown = local ? [local, ...others] : others;
    return candidates.flatMap(({ id }) => {
      const tile = chosenSet.has(id) ? undefined : this.#names.get(id);
      return tile ? [tile] : [];
    });
  }

  /** Tells the session which remote videos can be seen, when that changes. */
  #reportVisible(): void {
    const visible = new Set<string>();
    for (const tile of [...this.#shown, ...this.#screens.values()]) {
      const id = tile.producerId;
      if (id !== null && this.#visibility.seen(tile.el)) visible.add(id);
    }
    if (visible.size === this.#visible.size && [...visible].every((id) => this.#visible.has(id))) return;
    this.#visible = visible;
    this.emit('visible', visible);
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
