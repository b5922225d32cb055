import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { ConfigError, loadConfig, redact, redactRedisUrl } from '../../config/index.js';

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
  ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
  ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
  ['REDIS_URL', { REDIS_URL: 'redis://' }],
  ['REDIS_URL', { REDIS_URL: 'redis://127.0.0.1:6379/cache' }],
  ['REDIS_URL', { REDIS_URL: 'redis://127.0.0.1:99999' }],
  ['NODE_ID', { REDIS_URL: 'redis://127.0.0.1', NODE_ID: 'node one' }],
  ['NODE_ID', { REDIS_URL: 'redis://127.0.0.1', NODE_ID: 'x'.repeat(65) }],
  ['PIPE_LISTEN_IP', { REDIS_URL: 'redis://127.0.0.1', PIPE_LISTEN_IP: 'eth0' }],
];
for (const [variable, env] of bad) {
  test(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.includes(variable),
    );
  });
}

test('without REDIS_URL there is no cluster section, whatever the other cluster variables say', () => {
  const c = loadConfig({ ANNOUNCED_IP: '127.0.0.1', NODE_ID: 'a', PIPE_LISTEN_IP: '10.0.0.1' });
  assert.equal(c.cluster, undefined);
  assert.equal('cluster' in c, false);
});

test('REDIS_URL turns cluster mode on, with node id <host>:<PORT> and pipes on the RTC addresses', () => {
  const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', PORT: '3001', RTC_LISTEN_IP: '10.1.2.3', ANNOUNCED_IP: '203.0.113.7' });
  assert.deepEqual(c.cluster, {
    redisUrl: 'redis://127.0.0.1:6379',
    nodeId: `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 59)}:3001`,
    pipeListenIp: '10.1.2.3',
    // A specific listen address is what the other nodes reach, not the public one.
    pipeAnnouncedIp: '10.1.2.3',
  });
});

test('behind a wildcard bind the pipe is announced on the RTC announced address', () => {
  const c = loadConfig({ REDIS_URL: 'rediss://cache.example.org:6380/2', ANNOUNCED_IP: '198.51.100.4' });
  assert.equal(c.cluster?.pipeListenIp, '0.0.0.0');
  assert.equal(c.cluster?.pipeAnnouncedIp, '198.51.100.4');
});

test('NODE_ID, PIPE_LISTEN_IP and PIPE_ANNOUNCED_IP override the defaults', () => {
  const c = loadConfig({
    REDIS_URL: 'redis://127.0.0.1',
    NODE_ID: 'eu-1.noom:a_b',
    PIPE_LISTEN_IP: '0.0.0.0',
    PIPE_ANNOUNCED_IP: '10.0.0.8',
  });
  assert.equal(c.cluster?.nodeId, 'eu-1.noom:a_b');
  assert.equal(c.cluster?.pipeListenIp, '0.0.0.0');
  assert.equal(c.cluster?.pipeAnnouncedIp, '10.0.0.8');
});

test('with PORT=0 the default node id carries the process id, so two such nodes on a host differ', () => {
  const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1', PORT: '0', ANNOUNCED_IP: '127.0.0.1' });
  assert.match(c.cluster!.nodeId, new RegExp(`:pid${process.pid}$`));
  assert.match(c.cluster!.nodeId, /^[A-Za-z0-9._:-]{1,64}$/);
});

test('the Redis password is masked in the logged config and never echoed by a config error', () => {
  const c = loadConfig({ REDIS_URL: 'redis://noom:s3cret@127.0.0.1:6379/0', ANNOUNCED_IP: '127.0.0.1' });
  assert.equal(c.cluster?.redisUrl, 'redis://noom:s3cret@127.0.0.1:6379/0');
  assert.doesNotMatch(JSON.stringify(redact(c)), /s3cret/);
  assert.equal(redactRedisUrl('redis://:s3cret@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
  assert.throws(
    () => loadConfig({ REDIS_URL: 'redis://:s3cret@127.0.0.1:6379/db' }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'REDIS_URL' && !e.message.includes('s3cret'),
  );
});
