/** The browser grid's last-N policy: how many people get a video tile, who, and where. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerHistory } from '../../client/src/ui/SpeakerHistory.js';
import {
  MAX_PHONE_VIDEO_TILES,
  MAX_VIDEO_TILES,
  MIN_TILE_WIDTH,
  bestTile,
  bestTileWidth,
  fitBox,
  gridVideoBudget,
  stripBelow,
  stripVideoBudget,
  videoWidthFor,
} from '../../client/src/ui/tileBudget.js';
import { keepPlaces, rankForVideo, type Candidate } from '../../client/src/ui/tileRanking.js';

test('a grid shows as many videos as fit at the minimum tile width', () => {
  // 912 × 597: the room beside the chat in a 1280 × 760 window.
  const n = gridVideoBudget(912, 597);
  assert.ok(bestTileWidth(n, 912, 597) >= MIN_TILE_WIDTH);
  assert.ok(n === MAX_VIDEO_TILES || bestTileWidth(n + 1, 912, 597) < MIN_TILE_WIDTH);
  assert.equal(gridVideoBudget(472, 105), 2, 'two tiles of 160 px side by side, no room for a third');
});

test('the grid picks the arrangement with the largest tiles: two people side by side beside the chat', () => {
  // 912 × 597: strict 16:9 tiles would stack two people at 521 × 293; 1:1…16:9 tiles sit side by side.
  assert.deepEqual(bestTile(2, 912, 597), { width: 451, height: 451, cols: 2 });
  assert.deepEqual(bestTile(2, 1252, 597), { width: 621, height: 597, cols: 2 });
  assert.equal(bestTile(2, 358, 640).cols, 1, 'a phone stacks them');
  assert.equal(bestTile(3, 912, 597).cols, 2);
  assert.equal(bestTile(8, 912, 597).cols, 3);
  // A tile narrower than 16:9 crops the camera's sides: its height decides the video width needed.
  assert.equal(Math.round(videoWidthFor({ width: 451, height: 451 })), 802);
  assert.equal(videoWidthFor({ width: 320, height: 180 }), 320);
});

test('a shared screen takes the larger stage: the strip goes under it beside the chat, beside it without', () => {
  assert.equal(stripBelow(912, 597, 16 / 9, false), true);
  assert.equal(stripBelow(1252, 597, 16 / 9, false), false);
  assert.equal(stripBelow(1252, 597, 4 / 3, false), false);
  assert.equal(stripBelow(2000, 597, 16 / 9, true), true, 'a phone always stacks');
  assert.deepEqual(fitBox(912, 467, 16 / 9), { width: 830, height: 467 });
});

test('a large screen is capped, a phone more so, and a tiny window still shows oneself and one other', () => {
  assert.equal(gridVideoBudget(3800, 2000), MAX_VIDEO_TILES);
  assert.equal(gridVideoBudget(358, 680), MAX_PHONE_VIDEO_TILES);
  assert.equal(gridVideoBudget(120, 60), 2);
  assert.equal(gridVideoBudget(0, 0), 2);
});

test('the strip beside a shared screen shows the tiles that fit along it', () => {
  // A column 240 px wide (135 px tiles) and 597 px long: four tiles and their gaps.
  assert.equal(stripVideoBudget(597, 135, false), 4);
  assert.equal(stripVideoBudget(10_000, 135, false), MAX_VIDEO_TILES);
  assert.equal(stripVideoBudget(10_000, 135, true), MAX_PHONE_VIDEO_TILES);
  assert.equal(stripVideoBudget(100, 135, false), 2);
});

const people = (...ids: string[]): Candidate[] => ids.map((id) => ({ id, video: true, presenting: false }));

test('pinned people rank first, then recent speakers, then presenters, then cameras on, then join order', () => {
  const candidates: Candidate[] = [
    { id: 'a', video: false, presenting: false },
    { id: 'b', video: true, presenting: false },
    { id: 'c', video: true, presenting: true },
    { id: 'd', video: true, presenting: false },
    { id: 'e', video: false, presenting: false },
    { id: 'f', video: true, presenting: false },
  ];
  assert.deepEqual(rankForVideo(candidates, ['f'], ['e', 'd']), ['f', 'e', 'd', 'c', 'b', 'a']);
  assert.deepEqual(rankForVideo(candidates, [], []), ['c', 'b', 'd', 'f', 'a', 'e']);
});

test('pins and speakers of people who are not in the room are ignored', () => {
  assert.deepEqual(rankForVideo(people('a', 'b'), ['gone'], ['left', 'b']), ['b', 'a']);
});

test('people keep their places; a newcomer takes the place of whoever left', () => {
  assert.deepEqual(keepPlaces(['a', 'b', 'c'], ['c', 'a', 'b']), ['a', 'b', 'c'], 'same people, same places');
  assert.deepEqual(keepPlaces(['a', 'b', 'c'], ['d', 'a', 'c']), ['a', 'd', 'c'], 'd replaces b in place');
  assert.deepEqual(keepPlaces(['a', 'b', 'c'], ['a', 'c']), ['a', 'c'], 'fewer places');
  assert.deepEqual(keepPlaces(['a'], ['b', 'a', 'c']), ['a', 'b', 'c'], 'more places at the end, in rank order');
});

test('two people talking in turn keep their tiles; a new speaker displaces the longest silent', () => {
  const history = new SpeakerHistory(MAX_VIDEO_TILES);
  const everyone = people('a', 'b', 'c', 'd', 'e');
  // Two tiles for other people: the two latest speakers.
  const shown = (previous: string[]) => keepPlaces(previous, rankForVideo(everyone, [], history.ids).slice(0, 2));
  history.spoke('c');
  history.spoke('d');
  let places = shown([]);
  assert.deepEqual(places, ['d', 'c']);
  for (const id of ['c', 'd', 'c', 'd']) {
    history.spoke(id);
    places = shown(places);
    assert.deepEqual(places, ['d', 'c'], `unchanged after ${id} speaks`);
  }
  history.spoke('e');
  places = shown(places);
  assert.deepEqual(places, ['d', 'e'], 'e takes the place of c, silent longer than d');
});

test('the speaker history is bounded and forgets people who leave', () => {
  const history = new SpeakerHistory(3);
  for (const id of ['a', 'b', 'c', 'd']) history.spoke(id);
  assert.deepEqual(history.ids, ['d', 'c', 'b']);
  assert.equal(history.spoke('d'), false, 'the latest speaker again changes nothing');
  history.forget('c');
  assert.deepEqual(history.ids, ['d', 'b']);
});
