/**
 * TURN credentials against a real coturn (Debian's, in `use-auth-secret` mode sharing
 * Noom's TURN_SECRET): the join answer carries the TURN URLs with credentials for this peer
 * that coturn accepts (a TURN allocation, with a TURN Allocate gets a relayed address),
 * while the same scheme with an expiry in the past, or signed with another secret, is
 * refused with 401 (the doctor's TURN client, which reports the refusal as such).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { turnCredentials } from '../../server/src/turn/credentials.js';
import { TurnError, TurnSession, turnTargets, type TurnTarget } from '../../scripts/doctor/turn.js';
import { startTurnServer, type TestTurnServer } from '../support/turnServer.js';
import { req, socketTracker, startTestServer } from '../support/server.js';

let turn: TestTurnServer;
let server: NoomServer;
const sockets = socketTracker();

before(async () => {
  turn = await startTurnServer();
  server = await startTestServer({ ...turn.env, TURN_TTL: '600' });
});

after(async () => {
  sockets.closeAll();
  await server?.close();
  await turn?.stop();
});

/**
 * A TURN allocation (the doctor's TURN client, which tells a refusal from a silence): the
 * relayed address, or why coturn said no.
 */
async function allocate(target: TurnTarget): Promise<{ relayed: string } | { refused: string }> {
  try {
    const session = await TurnSession.allocate(target, 3000);
    const relayed = session.relayed!;
    session.close();
    return { relayed };
  } catch (error) {
    if (error instanceof TurnError) return { refused: error.reason };
    throw error;
  }
}

const udpTarget = (credentials: { username: string; credential: string }): TurnTarget => ({
  url: turn.url('udp'),
  host: '127.0.0.1',
  port: turn.port,
  transport: 'udp',
  ...credentials,
});

test("the join answer's TURN credentials get a relayed address from coturn", async () => {
  const socket = await sockets.open(server.url);
  const joinedAt = Date.now() / 1000;
  const join = await req(socket, 'room:join', { roomId: 'relayed' });
  const entry = join.iceServers.at(-1)!;
  assert.deepEqual(entry.urls, [turn.url('udp'), turn.url('tcp')]);
  const [expiry, user] = entry.username!.split(':');
  assert.equal(user, join.peerId);
  assert.ok(Math.abs(Number(expiry) - (joinedAt + 600)) < 5, `expiry ${expiry}, TURN_TTL 600 s after ${joinedAt}`);
  // Over UDP and over TCP, as the answer lists them.
  const { targets } = turnTargets(join.iceServers);
  assert.deepEqual(targets.map((t) => t.transport), ['udp', 'tcp']);
  for (const target of targets) {
    const result = await allocate(target);
    assert.ok('relayed' in result, `${target.url}: ${JSON.stringify(result)}\n${turn.log().slice(-2000)}`);
    const [ip, port] = result.relayed.split(':');
    assert.equal(ip, '127.0.0.1');
    assert.ok(Number(port) >= turn.relayPorts.min && Number(port) <= turn.relayPorts.max, `relayed port ${port}`);
  }
});

test('expired credentials are refused by coturn with 401', async () => {
  const expired = turnCredentials(turn.secret, 'late-peer', Date.now() / 1000 - 60);
  assert.deepEqual(await allocate(udpTarget(expired)), { refused: 'unauthorized' });
  // The same peer a minute later still gets in: only the expiry made the difference.
  const fresh = turnCredentials(turn.secret, 'late-peer', Date.now() / 1000 + 60);
  assert.ok('relayed' in (await allocate(udpTarget(fresh))));
});

test('credentials signed with another secret are refused by coturn with 401', async () => {
  const forged = turnCredentials(`${turn.secret}-not`, 'forger', Date.now() / 1000 + 600);
  assert.deepEqual(await allocate(udpTarget(forged)), { refused: 'unauthorized' });
});
