/**
 * The public list stays small on the wire: `rooms:update` carries the first page (the busiest
 * ROOMS_PAGE_SIZE rooms) and the total, goes only to sockets outside a room, and is not sent
 * when a change leaves the first page and the total as they were; `rooms:list` pages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NoomServer } from '../../server/src/app.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { eventually } from '../support/eventually.js';
import { collect, connect, errorCode, rawAck, req, startTestServer } from '../support/server.js';

let noom: NoomServer;
const sockets: ProtocolSocket[] = [];
before(async () => {
  noom = await startTestServer({ ROOMS_PAGE_SIZE: '3', ROOMS_UPDATE_MS: '50' });
});
after(async () => {
  for (const s of sockets) s.close();
  await noom.close();
});
const open = async () => {
  const s = await connect(noom.url);
  sockets.push(s);
  return s;
};
const join = async (roomId: string) => {
  const s = await open();
  await req(s, 'room:join', { roomId, public: true });
  return s;
};

test('rooms:update is the first page and the total, for lobby sockets only; rooms:list pages', async () => {
  const lobby = await open();
  const member = await join('lounge');
  const inLobby = collect(lobby, 'rooms:update');
  const inRoom = collect(member, 'rooms:update');
  // Rooms with 2 … 5 people, and the lounge with 1: five public rooms.
  for (let n = 2; n <= 5; n++) for (let i = 0; i < n; i++) await join(`r${n}`);
  const page = await eventually('a push with every room counted', () => inLobby.at(-1), (u) => u?.total === 5 && u.rooms[0]?.peerCount === 5);
  assert.deepEqual(page?.rooms.map((r) => [r.id, r.peerCount]), [['r5', 5], ['r4', 4], ['r3', 3]]);
  assert.equal(inRoom.length, 0, 'a socket in a room gets no lobby pushes');

  const rest = await req(lobby, 'rooms:list', { offset: 3, limit: 10 });
  assert.deepEqual(rest.rooms.map((r) => r.id), ['r2', 'lounge']);
  assert.equal(rest.total, 5);
  assert.equal((await req(lobby, 'rooms:list', {})).rooms.length, 3, 'the first page by default');
  assert.equal(errorCode(await rawAck(lobby, 'rooms:list', { limit: 0 })), 'INVALID_REQUEST');
  assert.equal(errorCode(await rawAck(lobby, 'rooms:list', { limit: 100_000 })), 'INVALID_REQUEST');

  // A change below the first page that keeps the total is not pushed…
  const pushes = inLobby.length;
  const extra = await join('lounge');
  await sleep(500);
  assert.equal(inLobby.length, pushes, 'no push for a change outside the first page');
  assert.equal((await req(lobby, 'rooms:list', { offset: 3 })).rooms.find((r) => r.id === 'lounge')?.peerCount, 2);
  // …one in the first page is.
  await req(extra, 'room:leave', {});
  await join('r3');
  await eventually('a push for a change in the first page', () => inLobby.at(-1), (u) => u?.rooms[2]?.peerCount === 4);

  // Back in the lobby after leaving, a socket gets pushes again.
  await req(member, 'room:leave', {});
  await join('r2');
  await eventually('the left member to hear of the next change', () => inRoom.length, (n) => n > 0);
});
