/**
 * How many people the grid shows on video (last-N): as many as fit at a size where a face
 * is still worth decoding, and never more than a browser should decode at once. Everyone
 * else gets a name tile. Pure geometry, in CSS pixels, so that it can be tested without a
 * browser.
 */

/** Space between tiles; the stylesheet's grid and strip gaps are the same. */
export const GAP = 10;
export const ASPECT = 16 / 9;
/** Below this width a camera tile is a thumbnail that costs a decoder without showing a face. */
export const MIN_TILE_WIDTH = 160;
/**
 * Each shown video costs a decoder; beyond this many a laptop spends more CPU on faces than
 * they are worth, however large the window.
 */
export const MAX_VIDEO_TILES = 16;
/** Phones have weaker decoders and smaller screens. */
export const MAX_PHONE_VIDEO_TILES = 6;
/** Grids narrower than this are on a phone (a 560 px window minus the room's padding). */
export const PHONE_GRID_WIDTH = 540;
/**
 * Oneself and at least one other person stay on video even in a window too small for two
 * tiles of the minimum size: the person who matters most is worth a small tile.
 */
const MIN_VIDEO_TILES = 2;

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

/** Video tiles for an even grid of width × height: as many as fit at MIN_TILE_WIDTH, within the cap. */
export function gridVideoBudget(width: number, height: number): number {
  const cap = width < PHONE_GRID_WIDTH ? MAX_PHONE_VIDEO_TILES : MAX_VIDEO_TILES;
  let n = 1;
  while (n < cap && bestTileWidth(n + 1, width, height) >= MIN_TILE_WIDTH) n++;
  return Math.max(MIN_VIDEO_TILES, n);
}

/**
 * Video tiles for the strip beside a shared screen, whose tiles have a fixed size: as many
 * as it shows without scrolling. `length` is the strip's length along its tiles, `tileLength`
 * a tile's extent in that direction.
 */
export function stripVideoBudget(length: number, tileLength: number, phone: boolean): number {
  const cap = phone ? MAX_PHONE_VIDEO_TILES : MAX_VIDEO_TILES;
  if (length <= 0 || tileLength <= 0) return MIN_VIDEO_TILES;
  const fit = Math.floor((length + GAP) / (tileLength + GAP));
  return Math.min(cap, Math.max(MIN_VIDEO_TILES, fit));
}
