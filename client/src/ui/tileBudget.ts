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

/**
 * The narrowest a camera tile may be, as width / height. A tile between this and 16:9 shows
 * the camera cropped at its sides (faces are in the middle), which lets two people sit side by
 * side in a window that is only a little wider than tall, where strict 16:9 tiles would
 * stack them into two letterbox strips.
 */
export const MIN_ASPECT = 1;

export interface TileSize {
  width: number;
  height: number;
  cols: number;
}

/**
 * The arrangement of n equal tiles in width × height that gives the largest tiles: for each
 * column count, each tile takes its cell's shape within MIN_ASPECT…16:9, and the largest
 * area wins (more columns on a tie).
 */
export function bestTile(n: number, width: number, height: number): TileSize {
  let best: TileSize = { width: 0, height: 0, cols: 1 };
  if (n === 0 || width <= 0 || height <= 0) return best;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cellW = (width - GAP * (cols - 1)) / cols;
    const cellH = (height - GAP * (rows - 1)) / rows;
    if (cellW <= 0 || cellH <= 0) continue;
    const aspect = Math.min(ASPECT, Math.max(MIN_ASPECT, cellW / cellH));
    const w = Math.min(cellW, cellH * aspect);
    if (w * (w / aspect) >= best.width * best.height) best = { width: Math.floor(w), height: Math.floor(w / aspect), cols };
  }
  return best;
}

/** The largest tile width at which n tiles fit into width × height. */
export function bestTileWidth(n: number, width: number, height: number): number {
  return bestTile(n, width, height).width;
}

/**
 * How wide a 16:9 video must be to fill a tile without upscaling: a tile narrower than 16:9
 * crops the sides, so its height decides.
 */
export function videoWidthFor(tile: { width: number; height: number }): number {
  return Math.max(tile.width, tile.height * ASPECT);
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

/** The people strip beside a shared screen is this wide; under it, this tall (the stylesheet agrees). */
export const STRIP_SIDE_WIDTH = 240;
export const STRIP_BELOW_HEIGHT = 120;

/**
 * Whether the people strip goes under a shared screen rather than beside it: wherever the
 * screen, shown whole at its own aspect ratio, comes out larger. Phones always stack.
 */
export function stripBelow(width: number, height: number, screenAspect: number, phone: boolean): boolean {
  if (phone) return true;
  const beside = Math.min(width - STRIP_SIDE_WIDTH - GAP, height * screenAspect);
  const below = Math.min(width, (height - STRIP_BELOW_HEIGHT - GAP) * screenAspect);
  return below > beside;
}

/** The largest box of `aspect` that fits in width × height. */
export function fitBox(width: number, height: number, aspect: number): { width: number; height: number } {
  const w = Math.max(0, Math.min(width, height * aspect));
  return { width: Math.floor(w), height: Math.floor(w / aspect) };
}
