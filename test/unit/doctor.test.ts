/**
 * The doctor's judgement without a network: what kind of address an IP is, when an
 * announced IP is wrong, how TURN URLs read, and which results make the exit code non-zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKind } from '../../scripts/doctor/addresses.js';
import { assessAnnouncedIp, type AnnouncedIpFacts } from '../../scripts/doctor/checks/announcedIp.js';
import { exitCode, summarize, type CheckResult } from '../../scripts/doctor/report.js';
import { turnTargets } from '../../scripts/doctor/turn.js';

test('addresses are told apart: loopback, private, shared, link-local, documentation, public', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.10', 'private'],
    ['fd00::5', 'private'],
    ['100.64.0.1', 'shared'],
    ['169.254.3.4', 'link-local'],
    ['fe80::1', 'link-local'],
    ['192.0.2.55', 'documentation'],
    ['0.0.0.0', 'unspecified'],
    ['::ffff:10.0.0.1', 'private'],
    ['8.8.8.8', 'public'],
    ['2a00:1450::1', 'public'],
  ];
  for (const [ip, kind] of cases) assert.equal(addressKind(ip), kind, ip);
});

const facts = (f: Partial<AnnouncedIpFacts>): AnnouncedIpFacts => ({
  announced: ['127.0.0.1'],
  urlHost: '127.0.0.1',
  urlAddresses: ['127.0.0.1'],
  hostAddresses: ['127.0.0.1', '10.0.0.5', 'fe80::1'],
  reached: () => true,
  ...f,
});

test('on the server host, the announced IP must be the host\'s own or answer through a NAT', () => {
  assert.equal(assessAnnouncedIp(facts({ announced: ['10.0.0.5'] })).status, 'pass');
  const forwarded = assessAnnouncedIp(facts({ announced: ['203.0.113.9'] }));
  assert.equal(forwarded.status, 'pass');
  assert.match(forwarded.detail, /forwarded here/);
  const wrong = assessAnnouncedIp(facts({ announced: ['192.0.2.55'], reached: () => false }));
  assert.equal(wrong.status, 'fail');
  assert.match(wrong.detail, /^192\.0\.2\.55 is not an address of this host \(127\.0\.0\.1, 10\.0\.0\.5\)/, 'link-local addresses left out');
  assert.match(wrong.fix!, /ANNOUNCED_IP/);
});

test('a loopback announced IP fails once clients come through another address', () => {
  const r = assessAnnouncedIp(facts({ urlHost: '10.0.0.5', urlAddresses: ['10.0.0.5'] }));
  assert.equal(r.status, 'fail');
  assert.match(r.detail, /127\.0\.0\.1 is a loopback address .* but clients come through 10\.0\.0\.5/);
});

test('seen from elsewhere: a private announced IP behind a public URL fails; an unreachable public one only warns', () => {
  const remote = { urlHost: 'meet.example.org', urlAddresses: ['198.18.0.0'], hostAddresses: ['127.0.0.1', '192.168.1.2'] };
  // 198.18.0.0/15 is not in the private table: the URL counts as public here.
  const privateIp = assessAnnouncedIp(facts({ ...remote, announced: ['10.0.0.5'] }));
  assert.equal(privateIp.status, 'fail');
  assert.match(privateIp.detail, /10\.0\.0\.5 is a private address .* the server's URL is public \(meet\.example\.org is 198\.18\.0\.0\)/);
  assert.match(privateIp.fix!, /public address/);
  const silent = assessAnnouncedIp(facts({ ...remote, announced: ['198.18.0.7'], reached: () => false }));
  assert.equal(silent.status, 'warn');
  assert.equal(assessAnnouncedIp(facts({ ...remote, announced: ['198.18.0.7'] })).status, 'pass');
  const lan = { urlHost: '192.168.1.9', urlAddresses: ['192.168.1.9'], hostAddresses: ['127.0.0.1'] };
  assert.equal(assessAnnouncedIp(facts({ ...lan, announced: ['192.168.1.9'] })).status, 'pass', 'a LAN server may announce a LAN address');
});

test('TURN URLs are read as RFC 7065 writes them; STUN URLs are not TURN', () => {
  const { targets, invalid } = turnTargets([
    { urls: ['stun:stun.example.org', 'turn:turn.example.org', 'turn:10.0.0.1:3479?transport=tcp'], username: 'u', credential: 'c' },
    { urls: 'turns:turn.example.org', username: '1700000000:peer', credential: 'x' },
    { urls: ['turn:[2001:db8::1]:5000', 'turn:', 'turn:host:99999'] },
  ]);
  assert.deepEqual(
    targets.map((t) => [t.host, t.port, t.transport, t.username ?? null]),
    [
      ['turn.example.org', 3478, 'udp', 'u'],
      ['10.0.0.1', 3479, 'tcp', 'u'],
      ['turn.example.org', 5349, 'tls', '1700000000:peer'],
      ['2001:db8::1', 5000, 'udp', null],
    ],
  );
  assert.deepEqual(invalid, ['turn:', 'turn:host:99999']);
});

test('the exit code is 0 with warnings and skipped checks, 1 with any failure', () => {
  const check = (status: CheckResult['status']): CheckResult => ({ id: 'http', title: 'HTTP', status, detail: '', durationMs: 0 });
  const at = new Date();
  assert.equal(exitCode(summarize('http://x', at, [check('pass'), check('warn'), check('skip')])), 0);
  assert.equal(exitCode(summarize('http://x', at, [check('pass'), check('fail')])), 1);
});
