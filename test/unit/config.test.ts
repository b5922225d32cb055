import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, redact } from '../../config/index.js';

test('defaults: port 3000, one worker per core, WebRtcServer ports from 40000', () => {
  const c = loadConfig({ ANNOUNCED_IP: '127.0.0.1' });
  assert.equal(c.http.port, 3000);
  assert.ok(c.mediasoup.workers >= 1);
  assert.equal(c.mediasoup.portBase, 40000);
  assert.equal(c.mediasoup.announcedAddress, '127.0.0.1');
  assert.deepEqual(c.iceServers, []);
});

test('environment overrides are parsed and typed', () => {
  const c = loadConfig({
    PORT: '8443',
    WORKERS: '3',
    ICE_SERVERS: '[{"urls":"turn:turn.example.org:3478","username":"u","credential":"secret"}]',
    MAX_PEERS_PER_ROOM: '12',
    WEBRTC_TCP: 'false',
  });
  assert.equal(c.http.port, 8443);
  assert.equal(c.mediasoup.workers, 3);
  assert.equal(c.mediasoup.enableTcp, false);
  assert.equal(c.limits.maxPeersPerRoom, 12);
  assert.equal(c.iceServers[0]?.username, 'u');
  assert.match(JSON.stringify(redact(c)), /\*\*\*/);
  assert.doesNotMatch(JSON.stringify(redact(c)), /secret/);
});

const bad: [string, Record<string, string>][] = [
  ['PORT', { PORT: 'abc' }],
  ['PORT', { PORT: '70000' }],
  ['WORKERS', { WORKERS: '0' }],
  ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
  ['RTC_LISTEN_IP', { RTC_LISTEN_IP: 'not-an-ip' }],
  ['ICE_SERVERS', { ICE_SERVERS: '{nope' }],
  ['ICE_SERVERS', { ICE_SERVERS: '[{"url":"stun:x"}]' }],
  ['RTC_MIN_PORT', { RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000' }],
  ['TLS_KEY', { TLS_CERT: '/tmp/cert.pem' }],
  ['WEBRTC_TCP', { WEBRTC_TCP: 'maybe' }],
];
for (const [variable, env] of bad) {
  test(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.includes(variable),
    );
  });
}
