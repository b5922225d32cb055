/**
 * A moderator's controls against a real server: mute (the muted peer is told, the others see
 * the pause and its media stops reaching them), remove (out of the room, not back at once),
 * lock and unlock, end the meeting, and the lobby (admit, deny, a newcomer who gives up).
 * The publisher and the viewer are synthetic WebRTC peers sending and receiving real RTP.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { prepareMedia, SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { mintJoinToken } from '../../server/src/auth/JoinTokens.js';
import { eventually } from '../support/eventually.js';
import { collect, errorCode, rawAck, refusalOf, req, socketTracker, startTestServer } from '../support/server.js';

const SECRET = 'moderation-test-secret-32-characters-long';
let noom: NoomServer;
let authed: NoomServer;
const sockets = socketTracker();
before(async () => {
  await prepareMedia();
  noom = await startTestServer({ KICK_BAN_SECONDS: '60' });
  authed = await startTestServer({ AUTH_SECRET: SECRET, KICK_BAN_SECONDS: '60' });
});
after(async () => {
  sockets.closeAll();
  await noom.close();
  await authed.close();
});

const packets = (peer: SyntheticPeer, kind: 'audio' | 'video') =>
  peer.consumerStats().filter((c) => c.kind === kind).reduce((n, c) => n + c.packets, 0);

test('a muted peer is told, the others see producer:paused, and its audio stops reaching them', async () => {
  const mod = await sockets.open(noom.url);
  assert.equal((await req(mod, 'room:join', { roomId: 'mute', displayName: 'Host' })).role, 'moderator');
  const publisher = await SyntheticPeer.join({ url: noom.url, roomId: 'mute', displayName: 'Loud', publish: { audio: true, video: true }, consume: false });
  const viewer = await SyntheticPeer.join({ url: noom.url, roomId: 'mute', displayName: 'Ear', consume: true });
  try {
    const audioId = publisher.producerStats().find((p) => p.kind === 'audio')!.producerId;
    await eventually('audio and video at the viewer', () => packets(viewer, 'audio') > 20 && packets(viewer, 'video') > 20);
    const muted = collect(publisher.socket, 'peer:muted');
    const pausedAtViewer = collect(viewer.socket, 'producer:paused');
    const pausedAtMod = collect(mod, 'producer:paused');

    await req(mod, 'peer:mute', { peerId: publisher.peerId, source: 'mic' });
    await eventually('the muted peer to hear it', () => muted.length === 1);
    assert.deepEqual(muted, [{ source: 'mic' }]);
    const ref = { producerId: audioId, peerId: publisher.peerId };
    await eventually('the others to see the pause', () => pausedAtViewer.length > 0 && pausedAtMod.length > 0);
    assert.deepEqual(pausedAtViewer, [ref]);
    assert.deepEqual(pausedAtMod, [ref]);
    // The server stops forwarding: a moment for packets in flight, then the count stands
    // while the camera (not muted) keeps flowing.
    await new Promise((r) => setTimeout(r, 300));
    const audioThen = packets(viewer, 'audio');
    const videoThen = packets(viewer, 'video');
    await eventually('more video at the viewer', () => packets(viewer, 'video') > videoThen + 20);
    assert.equal(packets(viewer, 'audio'), audioThen, 'no audio after the mute');

    // Muting is not moderated mode: the peer may unmute itself, and its audio flows again.
    await req(publisher.socket, 'producer:resume', { producerId: audioId });
    await eventually('audio at the viewer again', () => packets(viewer, 'audio') > audioThen + 20);
    // Unknown peers are NOT_FOUND.
    assert.equal(errorCode(await rawAck(mod, 'peer:mute', { peerId: 'nobody', source: 'mic' })), 'NOT_FOUND');
  } finally {
    await publisher.close();
    await viewer.close();
    await req(mod, 'room:leave', {});
  }
});

test('a removed peer hears room:kicked, the others peer:left, and it cannot rejoin at once', async () => {
  const mod = await sockets.open(noom.url);
  await req(mod, 'room:join', { roomId: 'kick', displayName: 'Host' });
  const kim = await SyntheticPeer.join({ url: noom.url, roomId: 'kick', displayName: 'Kim', publish: { video: true }, consume: false });
  const other = await sockets.open(noom.url);
  await req(other, 'room:join', { roomId: 'kick', displayName: 'Olga' });
  try {
    const kicked = collect(kim.socket, 'room:kicked');
    const leftAtOther = collect(other, 'peer:left');
    const closedAtOther = collect(other, 'producer:closed');
    assert.equal(errorCode(await rawAck(mod, 'peer:kick', { peerId: 'nobody' })), 'NOT_FOUND');
    await req(mod, 'peer:kick', { peerId: kim.peerId });
    await eventually('Kim to hear it', () => kicked.length === 1);
    assert.deepEqual(kicked, [{ retryAfterS: 60 }]);
    await eventually('Olga to see Kim leave', () => leftAtOther.length === 1);
    assert.deepEqual(leftAtOther, [{ peerId: kim.peerId }]);
    assert.equal(closedAtOther.length, 1, "Kim's camera is gone too");
    assert.deepEqual([...noom.rooms.get('kick')!.peers.values()].map((p) => p.displayName).sort(), ['Host', 'Olga']);
    // Kim is out: its requests are refused, and so is a rejoin under the same name from the same address.
    assert.equal(errorCode(await rawAck(kim.socket, 'chat:send', { text: 'still here?' })), 'INVALID_STATE');
    const again = (await rawAck(kim.socket, 'room:join', { roomId: 'kick', displayName: 'Kim' })) as { error: { code: string; message: string; retryAfterMs: number } };
    assert.equal(refusalOf(again), 'FORBIDDEN/removed');
    assert.match(again.error.message, /try again in \d+ s/);
    assert.ok(again.error.retryAfterMs > 55_000 && again.error.retryAfterMs <= 60_000, `retry after ${again.error.retryAfterMs} ms`);
    const fresh = await sockets.open(noom.url);
    assert.equal(refusalOf(await rawAck(fresh, 'room:join', { roomId: 'kick', displayName: 'kim' })), 'FORBIDDEN/removed', 'a new connection does not help');
    // Another room is not affected.
    await req(fresh, 'room:join', { roomId: 'kick-elsewhere', displayName: 'Kim' });
    await req(fresh, 'room:leave', {});
    await req(mod, 'room:leave', {});
    assert.equal(errorCode(await rawAck(mod, 'peer:kick', { peerId: 'x' })), 'INVALID_STATE', 'not in a room any more');
  } finally {
    await kim.close();
    await rawAck(other, 'room:leave', {});
  }
});

test('with tokens a removed subject cannot rejoin, whatever connection it uses; another subject can', async () => {
  const token = (name: string, role: 'moderator' | 'participant', sub: string) => mintJoinToken(SECRET, { room: 'kick-t', name, role, sub, ttlS: 600 });
  const mod = await sockets.open(authed.url);
  await req(mod, 'room:join', { roomId: 'kick-t', token: await token('Mo', 'moderator', 'u-mo') });
  const p = await sockets.open(authed.url);
  const joined = await req(p, 'room:join', { roomId: 'kick-t', token: await token('Pia', 'participant', 'u-pia') });
  await req(mod, 'peer:kick', { peerId: joined.peerId });
  const back = await sockets.open(authed.url);
  assert.equal(errorCode(await rawAck(back, 'room:join', { roomId: 'kick-t', token: await token('Pia 2', 'participant', 'u-pia') })), 'FORBIDDEN');
  await req(back, 'room:join', { roomId: 'kick-t', token: await token('Pia', 'participant', 'u-other') });
  await req(back, 'room:leave', {});
  await req(mod, 'room:leave', {});
});

test('lock and unlock: newcomers need the password while locked, members stay, everyone hears the change', async () => {
  const mod = await sockets.open(noom.url);
  await req(mod, 'room:join', { roomId: 'lock', displayName: 'Host' });
  const member = await sockets.open(noom.url);
  await req(member, 'room:join', { roomId: 'lock', displayName: 'Mem' });
  const updates = collect(member, 'room:updated');
  await req(mod, 'room:lock', { password: 'hunter22' });
  await eventually('the member to hear of the lock', () => updates.length === 1);
  assert.deepEqual(updates, [{ locked: true, lobby: false }]);
  const newcomer = await sockets.open(noom.url);
  assert.equal(refusalOf(await rawAck(newcomer, 'room:join', { roomId: 'lock', displayName: 'New' })), 'FORBIDDEN/password-required');
  assert.equal(refusalOf(await rawAck(newcomer, 'room:join', { roomId: 'lock', displayName: 'New', password: 'wrong' })), 'FORBIDDEN/wrong-password');
  const joined = await req(newcomer, 'room:join', { roomId: 'lock', displayName: 'New', password: 'hunter22' });
  assert.equal(joined.locked, true);
  await req(newcomer, 'room:leave', {});
  await req(mod, 'room:unlock', {});
  await eventually('the member to hear of the unlock', () => updates.length === 2);
  assert.deepEqual(updates[1], { locked: false, lobby: false });
  assert.equal((await req(newcomer, 'room:join', { roomId: 'lock', displayName: 'New' })).locked, false);
  for (const s of [newcomer, member, mod]) await req(s, 'room:leave', {});
});

test('ending the meeting sends everyone away with room:closed { reason: "ended" }', async () => {
  const mod = await sockets.open(noom.url);
  await req(mod, 'room:join', { roomId: 'end', displayName: 'Host' });
  const a = await sockets.open(noom.url);
  await req(a, 'room:join', { roomId: 'end', displayName: 'A' });
  const room = noom.rooms.get('end')!;
  const closedA = collect(a, 'room:closed');
  const closedMod = collect(mod, 'room:closed');
  await req(mod, 'room:end', {});
  await eventually('both to hear the end', () => closedA.length === 1 && closedMod.length === 1);
  assert.deepEqual([closedA, closedMod], [[{ reason: 'ended' }], [{ reason: 'ended' }]]);
  assert.equal(room.closed, true);
  assert.equal(errorCode(await rawAck(a, 'chat:send', { text: 'hello?' })), 'INVALID_STATE');
});

test('lobby: newcomers wait until a moderator admits or denies them; one who leaves is reported gone', async () => {
  const mod = await sockets.open(noom.url);
  await req(mod, 'room:join', { roomId: 'lobby', displayName: 'Host' });
  const updates = collect(mod, 'room:updated');
  await req(mod, 'room:lobby', { enabled: true });
  await eventually('the lobby to be on', () => updates.length === 1);
  assert.deepEqual(updates, [{ locked: false, lobby: true }]);
  const waitingAtMod = collect(mod, 'lobby:waiting');
  const leftLobby = collect(mod, 'lobby:left');
  const joinedAtMod = collect(mod, 'peer:joined');

  // Admitted.
  const wendy = await sockets.open(noom.url);
  const toldToWait = collect(wendy, 'room:waiting');
  let answered = false;
  const join = req(wendy, 'room:join', { roomId: 'lobby', displayName: 'Wendy' }).finally(() => (answered = true));
  await eventually('the moderator to see Wendy wait', () => waitingAtMod.length === 1);
  assert.equal(waitingAtMod[0]!.displayName, 'Wendy');
  assert.deepEqual(toldToWait, [{ roomId: 'lobby' }]);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(answered, false, 'the join is not answered while waiting');
  assert.equal(noom.rooms.get('lobby')!.peerCount, 1, 'a waiting newcomer is not a member');
  await req(mod, 'lobby:admit', { peerId: waitingAtMod[0]!.peerId });
  const data = await join;
  assert.equal(data.peerId, waitingAtMod[0]!.peerId, 'the peer joins under the id it waited with');
  assert.equal(data.lobby, true);
  assert.deepEqual(leftLobby, [{ peerId: data.peerId, outcome: 'admitted' }]);
  await eventually('the moderator to see Wendy join', () => joinedAtMod.length === 1);
  // Members who are not moderators do not moderate the lobby and are not told of it.
  const waitingAtWendy = collect(wendy, 'lobby:waiting');

  // Denied.
  const dan = await sockets.open(noom.url);
  const denied = rawAck(dan, 'room:join', { roomId: 'lobby', displayName: 'Dan' });
  await eventually('the moderator to see Dan wait', () => waitingAtMod.length === 2);
  assert.equal(refusalOf(await rawAck(wendy, 'lobby:admit', { peerId: waitingAtMod[1]!.peerId })), 'FORBIDDEN/not-moderator');
  await req(mod, 'lobby:deny', { peerId: waitingAtMod[1]!.peerId });
  const res = (await denied) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(refusalOf(res), 'FORBIDDEN/denied');
  assert.match(res.error.message, /denied/);
  assert.deepEqual(leftLobby[1], { peerId: waitingAtMod[1]!.peerId, outcome: 'denied' });
  assert.equal(errorCode(await rawAck(mod, 'lobby:admit', { peerId: waitingAtMod[1]!.peerId })), 'NOT_FOUND', 'decided once');

  // Gone: the newcomer closes its connection while waiting.
  const gus = await sockets.open(noom.url);
  void rawAck(gus, 'room:join', { roomId: 'lobby', displayName: 'Gus' }).catch(() => undefined);
  await eventually('the moderator to see Gus wait', () => waitingAtMod.length === 3);
  gus.close();
  await eventually('Gus to be reported gone', () => leftLobby.length === 3);
  assert.deepEqual(leftLobby[2], { peerId: waitingAtMod[2]!.peerId, outcome: 'gone' });
  assert.deepEqual(waitingAtWendy, []);

  // Gone too: a newcomer who gives up with room:leave, and may then join elsewhere on the same connection.
  const gia = await sockets.open(noom.url);
  const giaJoin = rawAck(gia, 'room:join', { roomId: 'lobby', displayName: 'Gia' });
  await eventually('the moderator to see Gia wait', () => waitingAtMod.length === 4);
  await req(gia, 'room:leave', {});
  assert.equal(errorCode(await giaJoin), 'INVALID_STATE');
  await eventually('Gia to be reported gone', () => leftLobby.length === 4);
  assert.deepEqual(leftLobby[3], { peerId: waitingAtMod[3]!.peerId, outcome: 'gone' });
  await req(gia, 'room:join', { roomId: 'elsewhere', displayName: 'Gia' });
  await req(gia, 'room:leave', {});

  // Turning the lobby off lets whoever waits in.
  const olive = await sockets.open(noom.url);
  const oliveJoin = req(olive, 'room:join', { roomId: 'lobby', displayName: 'Olive' });
  await eventually('the moderator to see Olive wait', () => waitingAtMod.length === 5);
  await req(mod, 'room:lobby', { enabled: false });
  assert.equal((await oliveJoin).lobby, false);
  assert.equal(noom.rooms.get('lobby')!.peerCount, 3);
  for (const s of [olive, wendy, mod]) await req(s, 'room:leave', {});
});
