/**
 * `npm run doctor` as a user runs it (the CLI in its own process, exit code and `--json`)
 * against real in-process servers: a good one passes; a wrong ANNOUNCED_IP, RTC ports that
 * are closed at the announced address and an HTTP port nobody listens on each fail, naming
 * the fault, as does a proxy that drops WebSocket upgrades; a real coturn allocates and relays with the issued credentials, and refuses
 * credentials made with another secret; HTTPS with a CA-signed certificate passes and a
 * self-signed one fails.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { NoomServer } from '../../server/src/app.js';
import { DoctorReport, type CheckId, type CheckResult } from '../../scripts/doctor/report.js';
import { freePort } from '../../scripts/cluster/redisServer.js';
import { startTestServer } from '../support/server.js';
import { startTurnServer, type TestTurnServer } from '../support/turnServer.js';

const CLI = fileURLToPath(new URL('../../scripts/doctor/cli.ts', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function server(env: Record<string, string> = {}): Promise<NoomServer> {
  const noom = await startTestServer(env);
  cleanups.push(() => noom.close());
  return noom;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs the doctor with `--json` and parses its report with the published schema. */
async function doctor(
  url: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number | null; report: DoctorReport; byId: Map<CheckId, CheckResult> }> {
  const run = await cli(['--url', url, '--json', '--timeout', '3', '--media-timeout', '10', ...extra], env);
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch {
    assert.fail(`--json printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  const report = DoctorReport.parse(json);
  return { code: run.code, report, byId: new Map(report.checks.map((c) => [c.id, c])) };
}

function statuses(report: DoctorReport): string {
  return report.checks.map((c) => `${c.id}=${c.status}${c.status === 'fail' ? ` (${c.detail})` : ''}`).join('\n');
}

function failed(report: DoctorReport): CheckId[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
}

test('a good server passes every check (exit 0) and media comes back', async () => {
  const noom = await server();
  const { code, report, byId } = await doctor(noom.url);
  assert.equal(code, 0, statuses(report));
  assert.equal(report.ok, true);
  assert.deepEqual(
    report.checks.map((c) => c.id),
    ['http', 'tls', 'websocket', 'announced-ip', 'udp-port', 'tcp-port', 'turn', 'turn-relay', 'media'],
  );
  for (const c of report.checks) assert.ok(c.status === 'pass' || c.status === 'skip', `${c.id}: ${c.status} ${c.detail}`);
  for (const id of ['http', 'websocket', 'announced-ip', 'udp-port', 'tcp-port', 'media'] as const) {
    assert.equal(byId.get(id)?.status, 'pass', `${id}: ${byId.get(id)?.detail}`);
  }
  assert.equal(byId.get('tls')?.status, 'skip', 'plain HTTP on loopback is not a TLS failure');
  assert.equal(byId.get('turn')?.status, 'skip', 'no TURN configured: skipped with a note');
  assert.match(byId.get('turn')!.detail, /no TURN server/);
  const media = byId.get('media')!.data!;
  assert.ok(Number(media.audioPackets) > 0 && Number(media.videoPackets) > 0, `RTP back: ${JSON.stringify(media)}`);
  assert.deepEqual(report.counts, { pass: 6, warn: 0, fail: 0, skip: 3 });
});

test('the terminal output names each check and ends with the counts', async () => {
  const noom = await server();
  const run = await cli(['--url', noom.url, '--media-timeout', '10']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^Noom doctor: http:\/\/127\.0\.0\.1:\d+$/m);
  assert.match(run.stdout, /^ {2}PASS {2}RTC port \(UDP\) +127\.0\.0\.1:\d+ answered a signed STUN binding/m);
  assert.match(run.stdout, /^ {2}PASS {2}Media round trip /m);
  assert.match(run.stdout, /^no check failed: 6 passed, 0 warned, 0 failed, 3 skipped$/m);
});

test('a wrong ANNOUNCED_IP fails the announced-IP, port and media checks, naming the address', async () => {
  const noom = await server({ ANNOUNCED_IP: '192.0.2.55' });
  const { code, report, byId } = await doctor(noom.url, ['--media-timeout', '5']);
  assert.equal(code, 1, statuses(report));
  assert.equal(report.ok, false);
  assert.deepEqual(failed(report), ['announced-ip', 'udp-port', 'tcp-port', 'media'], statuses(report));
  assert.equal(byId.get('http')?.status, 'pass');
  assert.equal(byId.get('websocket')?.status, 'pass');
  const announced = byId.get('announced-ip')!;
  assert.match(announced.detail, /192\.0\.2\.55 is not an address of this host/);
  assert.match(announced.fix!, /ANNOUNCED_IP/);
  assert.match(byId.get('udp-port')!.detail, /^192\.0\.2\.55:\d+\/udp: no answer/);
  assert.match(byId.get('udp-port')!.fix!, /UDP port \d+/);
  assert.match(byId.get('media')!.detail, /no RTP back/);
});

test('RTC ports closed at the announced address fail the port checks, not the announced IP', async (t) => {
  // An address this host owns that the server's media sockets do not listen on.
  const own = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!own) return t.skip('this host has no non-loopback IPv4 address');
  const noom = await server({ RTC_LISTEN_IP: '127.0.0.1', ANNOUNCED_IP: own });
  const { code, report, byId } = await doctor(noom.url, ['--media-timeout', '5']);
  assert.equal(code, 1, statuses(report));
  assert.deepEqual(failed(report), ['udp-port', 'tcp-port', 'media'], statuses(report));
  assert.equal(byId.get('announced-ip')?.status, 'pass', `${own} is this host's`);
  for (const id of ['udp-port', 'tcp-port'] as const) {
    const c = byId.get(id)!;
    assert.equal(c.data?.reason, 'refused', `${id}: ${c.detail}`);
    assert.match(c.detail, /connection refused/);
    assert.match(c.fix!, /RTC_LISTEN_IP/);
  }
});

test('an HTTP port nobody listens on fails the HTTP check and skips the rest', async () => {
  const port = await freePort();
  const { code, report, byId } = await doctor(`http://127.0.0.1:${port}`);
  assert.equal(code, 1);
  assert.deepEqual(failed(report), ['http']);
  assert.match(byId.get('http')!.detail, new RegExp(`nothing listens on 127\\.0\\.0\\.1:${port}`));
  assert.match(byId.get('http')!.fix!, new RegExp(`TCP port ${port}`));
  for (const c of report.checks.slice(1)) assert.equal(c.status, 'skip', c.id);
  assert.deepEqual(report.counts, { pass: 0, warn: 0, fail: 1, skip: 8 });
});

test('a proxy that does not pass WebSocket upgrades fails the WebSocket check with the proxy fix', async () => {
  const noom = await server();
  const target = new URL(noom.url);
  // Forwards plain HTTP requests only: Node's server drops an upgrade nobody handles, as a
  // proxy without the Upgrade and Connection headers does.
  const proxy = http.createServer((req, res) => {
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  cleanups.push(() => new Promise((resolve) => proxy.close(() => resolve())));
  const { code, report, byId } = await doctor(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  assert.equal(code, 1);
  assert.equal(byId.get('http')?.status, 'pass', 'plain HTTP goes through');
  assert.deepEqual(failed(report), ['websocket'], statuses(report));
  assert.match(byId.get('websocket')!.fix!, /pass WebSocket upgrades on \/socket\.io\//);
  for (const c of report.checks.slice(3)) assert.equal(c.status, 'skip', c.id);
});

test('TURN: the issued credentials allocate over UDP and TCP and relay to the media server; another secret is refused', async () => {
  const secret = 'doctor-test-secret';
  const turn: TestTurnServer = await startTurnServer(secret);
  cleanups.push(() => turn.stop());
  // Noom issues the credentials (TURN_URLS + TURN_SECRET), as a deployment would.
  const good = await server(turn.env);
  const ok = await doctor(good.url);
  assert.equal(ok.code, 0, `${statuses(ok.report)}\n${turn.log()}`);
  const allocation = ok.byId.get('turn')!;
  assert.equal(allocation.status, 'pass', allocation.detail);
  assert.deepEqual(allocation.data?.urls, [turn.url('udp'), turn.url('tcp')]);
  assert.match(allocation.detail, /allocated 127\.0\.0\.1:\d+.*allocated 127\.0\.0\.1:\d+/);
  assert.equal(ok.byId.get('turn-relay')?.status, 'pass', ok.byId.get('turn-relay')?.detail);

  const wrong = await server({ ...turn.env, TURN_SECRET: 'not-the-secret-of-this-coturn' });
  const refused = await doctor(wrong.url);
  assert.equal(refused.code, 1, statuses(refused.report));
  assert.deepEqual(failed(refused.report), ['turn'], statuses(refused.report));
  const denied = refused.byId.get('turn')!;
  assert.equal(denied.data?.reason, 'unauthorized');
  assert.match(denied.detail, /refused the credentials \(401/);
  assert.match(denied.fix!, /TURN_SECRET/);
  assert.equal(refused.byId.get('turn-relay')?.status, 'skip');
});

/** A test CA and a certificate it signed for 127.0.0.1, and a self-signed one (openssl). */
async function certificates(dir: string) {
  const openssl = (...args: string[]) => promisify(execFile)('openssl', args);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const f = (name: string) => join(dir, name);
  await openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '90', '-subj', '/CN=Noom test CA');
  await openssl('req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=127.0.0.1');
  await writeFile(f('leaf.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await openssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '90', '-extfile', f('leaf.ext'));
  await openssl('req', '-x509', ...ec, '-keyout', f('self.key'), '-out', f('self.pem'), '-days', '90', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  return { ca: f('ca.pem'), leaf: { cert: f('leaf.pem'), key: f('leaf.key') }, self: { cert: f('self.pem'), key: f('self.key') } };
}

test('TLS: a certificate from a trusted CA passes; a self-signed one fails and holds back the checks that need TLS', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'noom-doctor-tls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const certs = await certificates(dir);

  const trusted = await server({ TLS_CERT: certs.leaf.cert, TLS_KEY: certs.leaf.key });
  assert.match(trusted.url, /^https:/);
  const ok = await doctor(trusted.url, [], { NODE_EXTRA_CA_CERTS: certs.ca });
  assert.equal(ok.code, 0, statuses(ok.report));
  assert.equal(ok.byId.get('tls')?.status, 'pass');
  assert.match(ok.byId.get('tls')!.detail, /^valid for 127\.0\.0\.1 until \d{4}-\d\d-\d\d/);
  assert.equal(ok.byId.get('media')?.status, 'pass', 'media over a wss:// signaling connection');

  const selfSigned = await server({ TLS_CERT: certs.self.cert, TLS_KEY: certs.self.key });
  const refused = await doctor(selfSigned.url);
  assert.equal(refused.code, 1);
  assert.deepEqual(failed(refused.report), ['tls'], statuses(refused.report));
  assert.match(refused.byId.get('tls')!.detail, /self-signed/);
  assert.match(refused.byId.get('tls')!.fix!, /public CA/);
  assert.equal(refused.byId.get('http')?.status, 'pass');
  for (const c of refused.report.checks.slice(2)) assert.equal(c.status, 'skip', c.id);
});
