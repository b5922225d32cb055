/**
 * TURN credentials against a real coturn (Debian's, in `use-auth-secret` mode sharing
 * Noom's TURN_SECRET): the join answer carries the TURN URLs with credentials for this peer
 * that coturn accepts (a TURN allocation, with a TURN Allocate gets a relayed address),
 * while the same scheme with an expiry in the past, or signed with another secret, is
 * refused with 401.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { turnCredentials } from '../../server/src/turn/credentials.js';
import { startCoturn, type TestCoturn } from '../support/coturn.js';
import { turnAllocate } from '../support/turnAllocate.js';
import { req, socketTracker, startTestServer } from '../support/server.js';

let turn: TestCoturn;
let server: NoomServer;
const sockets = socketTracker();

before(async () => {
  turn = await startCoturn();
  server = await startTestServer({ ...turn.env, TURN_TTL: '600' });
});

after(async () => {
  sockets.closeAll();
  await server?.close();
  await turn?.close();
});

/** A TURN allocation on the test's coturn: the relayed address, or the error code it answered. */
const allocate = (username: string, password: string) => turnAllocate(['127.0.0.1', turn.port], username, password);

test("the join answer's TURN credentials get a relayed address from coturn", async () => {
  const socket = await sockets.open(server.url);
  const joinedAt = Date.now() / 1000;
  const join = await req(socket, 'room:join', { roomId: 'relayed' });
  const entry = join.iceServers.at(-1)!;
  assert.deepEqual(entry.urls, turn.urls);
  const [expiry, user] = entry.username!.split(':');
  assert.equal(user, join.peerId);
  assert.ok(Math.abs(Number(expiry) - (joinedAt + 600)) < 5, `expiry ${expiry}, TURN_TTL 600 s after ${joinedAt}`);
  const result = await allocate(entry.username!, entry.credential!);
  assert.ok('relayed' in result, `refused: ${JSON.stringify(result)}`);
  const [ip, port] = result.relayed;
  assert.equal(ip, '127.0.0.1');
  assert.ok(port >= turn.relayPorts.min && port <= turn.relayPorts.max, `relayed port ${port}`);
});

test('expired credentials are refused by coturn with 401', async () => {
  const expired = turnCredentials(turn.secret, 'late-peer', Date.now() / 1000 - 60);
  assert.deepEqual(await allocate(expired.username, expired.credential), { error: 401 });
  // The same peer a minute later still gets in: only the expiry made the difference.
  const fresh = turnCredentials(turn.secret, 'late-peer', Date.now() / 1000 + 60);
  assert.ok('relayed' in (await allocate(fresh.username, fresh.credential)));
});

test('credentials signed with another secret are refused by coturn with 401', async () => {
  const forged = turnCredentials(`${turn.secret}-not`, 'forger', Date.now() / 1000 + 600);
  assert.deepEqual(await allocate(forged.username, forged.credential), { error: 401 });
});
