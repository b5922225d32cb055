/**
 * Join tokens and roles, against a real server with AUTH_SECRET set: which tokens let a
 * peer in (and with which role and name), what each role may do, and the open server's host
 * (no AUTH_SECRET): the first peer moderates, and the role passes on when it leaves.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import type { NoomServer } from '../../server/src/app.js';
import { mintJoinToken } from '../../server/src/auth/JoinTokens.js';
import type { Role } from '../../protocol/index.js';
import { eventually } from '../support/eventually.js';
import { collect, errorCode, rawAck, refusalOf, req, socketTracker, startTestServer } from '../support/server.js';
import { VP8_PARAMETERS } from '../support/rtp.js';

const SECRET = 'a-test-secret-of-at-least-32-characters';
const sockets = socketTracker();
after(() => sockets.closeAll());

const mint = (room: string, name: string, role: Role, extra: { sub?: string; ttlS?: number } = {}) =>
  mintJoinToken(SECRET, { room, name, role, ttlS: extra.ttlS ?? 600, ...(extra.sub ? { sub: extra.sub } : {}) });

describe('with AUTH_SECRET', () => {
  let noom: NoomServer;
  before(async () => {
    noom = await startTestServer({ AUTH_SECRET: SECRET });
  });
  after(() => noom.close());

  test('a valid token joins with its role and its name, whatever name the request asks for', async () => {
    const s = await sockets.open(noom.url);
    const data = await req(s, 'room:join', { roomId: 'Board', displayName: 'Someone Else', token: await mint('board', 'Alice', 'moderator') });
    assert.equal(data.role, 'moderator');
    assert.equal(data.displayName, 'Alice');
    assert.equal(data.roomId, 'board');
    // The name is the token's: renaming is refused.
    assert.equal(refusalOf(await rawAck(s, 'peer:rename', { displayName: 'Mallory' })), 'FORBIDDEN/name-from-token');
    await req(s, 'room:leave', {});
  });

  test('missing, tampered, expired, other-room and other-key tokens are UNAUTHORIZED, and create no room', async () => {
    const s = await sockets.open(noom.url);
    const good = await mint('vault', 'Bob', 'participant');
    const [header, payload, signature] = good.split('.') as [string, string, string];
    // The same signature over a payload that claims the moderator role.
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'moderator' })).toString('base64url');
    const expired = await new SignJWT({ room: 'vault', name: 'Bob', role: 'participant' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET));
    const noExpiry = await new SignJWT({ room: 'vault', name: 'Bob', role: 'participant' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    const otherKey = await mintJoinToken('another-secret-of-at-least-32-characters', { room: 'vault', name: 'Bob', role: 'participant', ttlS: 600 });
    const cases: [string, string | undefined][] = [
      ['missing', undefined],
      ['tampered payload', `${header}.${forged}.${signature}`],
      ['tampered signature', `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`],
      ['expired', expired],
      ['without expiry', noExpiry],
      ['other room', await mint('other-room', 'Bob', 'participant')],
      ['other key', otherKey],
      ['not a JWT', 'hello'],
    ];
    for (const [what, token] of cases) {
      const res = await rawAck(s, 'room:join', { roomId: 'vault', ...(token ? { token } : {}) });
      assert.equal(errorCode(res), 'UNAUTHORIZED', what);
    }
    assert.equal(noom.rooms.get('vault'), undefined, 'no room was created');
    // And the good one still works.
    assert.equal((await req(s, 'room:join', { roomId: 'vault', token: good })).role, 'participant');
    await req(s, 'room:leave', {});
  });

  test('a room pattern covers the rooms it names and no other', async () => {
    const s = await sockets.open(noom.url);
    const token = await mint('team-*', 'Carol', 'participant');
    assert.equal((await req(s, 'room:join', { roomId: 'Team-Red', token })).roomId, 'team-red');
    await req(s, 'room:leave', {});
    assert.equal(errorCode(await rawAck(s, 'room:join', { roomId: 'teamred', token })), 'UNAUTHORIZED');
  });

  test('npm run token prints a token on its last line that the server accepts', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/token/cli.ts', '--room', 'cli-room', '--name', 'Dave', '--role', 'viewer', '--ttl', '120'],
      { env: { ...process.env, AUTH_SECRET: SECRET } },
    );
    const token = stdout.trim().split('\n').at(-1)!;
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const s = await sockets.open(noom.url);
    const data = await req(s, 'room:join', { roomId: 'cli-room', token });
    assert.deepEqual([data.role, data.displayName], ['viewer', 'Dave']);
    await req(s, 'room:leave', {});
  });

  test('a viewer receives and chats but cannot publish; a participant publishes but cannot moderate', async () => {
    const mod = await sockets.open(noom.url);
    const modJoin = await req(mod, 'room:join', { roomId: 'roles', token: await mint('roles', 'Mo', 'moderator') });
    const viewer = await sockets.open(noom.url);
    const v = await req(viewer, 'room:join', { roomId: 'roles', token: await mint('roles', 'Vi', 'viewer') });
    assert.equal(v.role, 'viewer');
    assert.deepEqual(v.peers, [{ id: modJoin.peerId, displayName: 'Mo', role: 'moderator' }]);
    assert.equal(refusalOf(await rawAck(viewer, 'transport:create', { direction: 'send' })), 'FORBIDDEN/viewer');
    const recv = await req(viewer, 'transport:create', { direction: 'recv' });
    assert.ok(recv.id);
    const produce = await rawAck(viewer, 'producer:create', { transportId: recv.id, kind: 'video', source: 'camera', rtpParameters: VP8_PARAMETERS });
    assert.equal(errorCode(produce), 'FORBIDDEN');
    const heard = collect(mod, 'chat:message');
    await req(viewer, 'chat:send', { text: 'viewers can talk' });
    await eventually('the viewer chat message', () => heard.some((m) => m.text === 'viewers can talk'));

    const part = await sockets.open(noom.url);
    const p = await req(part, 'room:join', { roomId: 'roles', token: await mint('roles', 'Pat', 'participant') });
    assert.equal(p.role, 'participant');
    const send = await req(part, 'transport:create', { direction: 'send' });
    assert.ok(send.id);
    for (const [name, payload] of [
      ['peer:mute', { peerId: v.peerId, source: 'mic' }],
      ['peer:kick', { peerId: v.peerId }],
      ['room:lock', { password: 'secret' }],
      ['room:unlock', {}],
      ['room:end', {}],
      ['room:lobby', { enabled: true }],
      ['lobby:admit', { peerId: v.peerId }],
      ['lobby:deny', { peerId: v.peerId }],
    ] as const) {
      assert.equal(refusalOf(await rawAck(part, name, payload)), 'FORBIDDEN/not-moderator', `participant ${name}`);
      assert.equal(errorCode(await rawAck(viewer, name, payload)), 'FORBIDDEN', `viewer ${name}`);
    }
    assert.equal(noom.rooms.get('roles')?.peerCount, 3, 'nobody was removed');
    // With tokens the host role does not pass on: roles are the tokens'.
    const updates = collect(part, 'peer:updated');
    await req(mod, 'room:leave', {});
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(updates, []);
    await req(part, 'room:leave', {});
    await req(viewer, 'room:leave', {});
  });
});

describe('without AUTH_SECRET', () => {
  let noom: NoomServer;
  before(async () => {
    noom = await startTestServer();
  });
  after(() => noom.close());

  test('the first peer is the host; the role passes to the longest-present peer when the host leaves', async () => {
    const [a, b, c] = [await sockets.open(noom.url), await sockets.open(noom.url), await sockets.open(noom.url)];
    const ja = await req(a, 'room:join', { roomId: 'open', displayName: 'Ann' });
    assert.equal(ja.role, 'moderator');
    // A token is not needed, and one that is sent is ignored.
    const jb = await req(b, 'room:join', { roomId: 'open', displayName: 'Ben', token: 'whatever' });
    assert.equal(jb.role, 'participant');
    assert.deepEqual(jb.peers, [{ id: ja.peerId, displayName: 'Ann', role: 'moderator' }]);
    const jc = await req(c, 'room:join', { roomId: 'open', displayName: 'Cid' });
    assert.equal(jc.role, 'participant');
    const toB = collect(b, 'peer:updated');
    const toC = collect(c, 'peer:updated');
    await req(a, 'room:leave', {});
    const promoted = { peerId: jb.peerId, displayName: 'Ben', role: 'moderator' };
    await eventually('Ben to hear he is host', () => toB.length > 0);
    assert.deepEqual(toB, [promoted]);
    await eventually('Cid to hear Ben is host', () => toC.length > 0);
    assert.deepEqual(toC, [promoted]);
    // The new host moderates; the others still cannot.
    await req(b, 'room:lobby', { enabled: false });
    assert.equal(errorCode(await rawAck(c, 'room:lobby', { enabled: false })), 'FORBIDDEN');
    // A newcomer to a room that has a host is a participant.
    assert.equal((await req(a, 'room:join', { roomId: 'open', displayName: 'Ann' })).role, 'participant');
  });
});
