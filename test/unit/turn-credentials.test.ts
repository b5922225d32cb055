/**
 * TURN credentials in coturn's REST API scheme, and the TURN variables. The expected
 * password below was computed apart from Noom, with
 * `printf '%s' 1700000000:8c5e2f1a-peer | openssl dgst -sha1 -hmac a-shared-secret-of-coturn -binary | base64`.
 * That coturn accepts them (and refuses expired ones) is tested against a real coturn in
 * test/integration/turn.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, redact } from '../../config/index.js';
import { iceServersFor, turnCredentials, turnServer } from '../../server/src/turn/credentials.js';

const SECRET = 'a-shared-secret-of-coturn';

test('username <expiry>:<peer id>, password base64(HMAC-SHA1(secret, username))', () => {
  assert.deepEqual(turnCredentials(SECRET, '8c5e2f1a-peer', 1_700_000_000), {
    username: '1700000000:8c5e2f1a-peer',
    credential: 'Tvimd3zdU23mtG08S6Tan372AIA=',
  });
  // Fractions of a second are dropped, as coturn reads whole seconds.
  assert.equal(turnCredentials(SECRET, 'p', 1_700_000_000.9).username, '1700000000:p');
});

test('another secret, peer or expiry gives another password', () => {
  const base = turnCredentials(SECRET, 'p', 1_700_000_000).credential;
  assert.notEqual(turnCredentials(`${SECRET}x`, 'p', 1_700_000_000).credential, base);
  assert.notEqual(turnCredentials(SECRET, 'q', 1_700_000_000).credential, base);
  assert.notEqual(turnCredentials(SECRET, 'p', 1_700_000_001).credential, base);
});

test('a user id with the separator is refused', () => {
  assert.throws(() => turnCredentials(SECRET, 'a:b', 1_700_000_000), TypeError);
});

test('the TURN entry expires TURN_TTL seconds from now and lists every URL', () => {
  const turn = { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], secret: SECRET, ttlS: 3600 };
  const entry = turnServer(turn, 'peer-1', 1_700_000_000_500);
  assert.deepEqual(entry.urls, turn.urls);
  assert.equal(entry.username, '1700003600:peer-1');
  assert.equal(entry.credential, turnCredentials(SECRET, 'peer-1', 1_700_003_600).credential);
});

test('join answers: ICE_SERVERS as they are, then the TURN entry with fresh credentials', () => {
  const stun = { urls: 'stun:stun.example.org:3478' };
  assert.deepEqual(iceServersFor({ iceServers: [stun] }, 'p'), [stun]);
  const servers = iceServersFor(loadConfig({ ICE_SERVERS: JSON.stringify([stun]), TURN_URLS: 'turn:t.example.org', TURN_SECRET: SECRET }), 'p', 0);
  assert.equal(servers.length, 2);
  assert.deepEqual(servers[0], stun);
  assert.equal(servers[1]!.username, '86400:p', 'TURN_TTL defaults to a day');
  // No static password anywhere: the secret itself never leaves the server.
  assert.ok(!JSON.stringify(servers).includes(SECRET));
});

test('TURN_URLS, TURN_SECRET and TURN_TTL are parsed, and the secret is masked in the logged config', () => {
  const c = loadConfig({ TURN_URLS: ' turn:a.example.org:3478?transport=udp , turns:a.example.org:5349 ', TURN_SECRET: SECRET, TURN_TTL: '600' });
  assert.deepEqual(c.turn, { urls: ['turn:a.example.org:3478?transport=udp', 'turns:a.example.org:5349'], secret: SECRET, ttlS: 600 });
  assert.doesNotMatch(JSON.stringify(redact(c)), new RegExp(SECRET));
  assert.equal(loadConfig({}).turn, undefined);
});

const bad: [string, Record<string, string>][] = [
  ['TURN_SECRET', { TURN_URLS: 'turn:a.example.org' }],
  ['TURN_URLS', { TURN_SECRET: SECRET }],
  ['TURN_URLS', { TURN_URLS: 'stun:a.example.org', TURN_SECRET: SECRET }],
  ['TURN_URLS', { TURN_URLS: 'https://a.example.org', TURN_SECRET: SECRET }],
  ['TURN_URLS', { TURN_URLS: 'turn:a.example.org?transport=sctp', TURN_SECRET: SECRET }],
  ['TURN_URLS', { TURN_URLS: ' , ', TURN_SECRET: SECRET }],
  ['TURN_SECRET', { TURN_URLS: 'turn:a.example.org', TURN_SECRET: 'short' }],
  ['TURN_TTL', { TURN_URLS: 'turn:a.example.org', TURN_SECRET: SECRET, TURN_TTL: '5' }],
  ['DRAIN_TIMEOUT', { DRAIN_TIMEOUT: '-1' }],
  ['DRAIN_TIMEOUT', { DRAIN_TIMEOUT: 'soon' }],
];
for (const [variable, env] of bad) {
  test(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
    );
  });
}

test('DRAIN_TIMEOUT: 30 s unless set, in ms', () => {
  assert.equal(loadConfig({}).drainTimeoutMs, 30_000);
  assert.equal(loadConfig({ DRAIN_TIMEOUT: '0' }).drainTimeoutMs, 0);
  assert.equal(loadConfig({ DRAIN_TIMEOUT: '90' }).drainTimeoutMs, 90_000);
});
