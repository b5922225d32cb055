/**
 * HTTP and Socket.IO as a hostile site or a prober meets them: security headers on every
 * page, no stack traces or paths in error answers (412 and 416 from the static files
 * included), pages and WebSockets of other origins refused, /metrics behind its token, and
 * private rooms in no list.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import type { NoomServer } from '../../server/src/app.js';
import { collect, req, socketTracker, startTestServer } from '../support/server.js';
import { eventually } from '../support/eventually.js';
import { ensureClientBuilt } from '../e2e/harness.js';

const TOKEN = 'metrics-token-0123456789';
let noom: NoomServer;
const sockets = socketTracker();
before(async () => {
  noom = await startTestServer({ STATIC_DIR: ensureClientBuilt(), ALLOWED_ORIGINS: 'https://partner.example', METRICS_TOKEN: TOKEN });
});
after(async () => {
  sockets.closeAll();
  await noom.close();
});

test('every page carries the security headers: CSP with frame-ancestors none, nosniff', async () => {
  for (const path of ['/', '/r/some-room', '/api/rooms', '/healthz', '/no/such/file.js']) {
    const res = await fetch(noom.url + path);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /script-src 'self'/, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN', path);
    assert.equal(res.headers.get('x-powered-by'), null, path);
  }
});

test('412 and 416 from the static files answer without stack or path', async () => {
  const page = await fetch(noom.url + '/');
  const etag = page.headers.get('etag');
  assert.ok(etag);
  const answers = [
    await fetch(noom.url + '/', { headers: { 'if-match': '"nope"' } }),
    await fetch(noom.url + '/', { headers: { range: 'bytes=999999-1000000' } }),
  ];
  assert.deepEqual(answers.map((r) => r.status), [412, 416]);
  for (const r of answers) {
    const body = await r.text();
    assert.doesNotMatch(body, /at .*\(|\/work\/|node_modules|Error:/, body);
    assert.ok(body.length < 64, body);
  }
});

test('a page of another origin is refused over HTTP and WebSocket; the own origin, listed ones and Node clients pass', async () => {
  const evil = await fetch(noom.url + '/api/rooms', { headers: { origin: 'https://evil.example' } });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  const own = await fetch(noom.url + '/api/rooms', { headers: { origin: noom.url } });
  assert.equal(own.status, 200);
  assert.equal((await fetch(noom.url + '/api/rooms', { headers: { origin: 'https://partner.example' } })).status, 200);

  const ws = (origin: string) =>
    new Promise<string>((resolve) => {
      const s = io(noom.url, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { origin } });
      s.once('connect', () => {
        s.close();
        resolve('connected');
      });
      s.once('connect_error', () => {
        s.close();
        resolve('refused');
      });
    });
  assert.equal(await ws('https://evil.example'), 'refused');
  assert.equal(await ws(noom.url), 'connected');
  assert.equal(await ws('https://partner.example'), 'connected');
  // And the tests' own sockets, which send no Origin, connect throughout.
});

test('/metrics needs its token', async () => {
  assert.equal((await fetch(noom.url + '/metrics')).status, 401);
  assert.equal((await fetch(noom.url + '/metrics', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
  const ok = await fetch(noom.url + '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /noom_rooms/);
});

test('a private room is in no list: /api/rooms, rooms:list, rooms:update, metric labels', async () => {
  const watcher = await sockets.open(noom.url);
  const updates = collect(watcher, 'rooms:update');
  const a = await sockets.open(noom.url);
  const b = await sockets.open(noom.url);
  await req(a, 'room:join', { roomId: 'secret-plans', public: false });
  await req(b, 'room:join', { roomId: 'open-house' });
  await eventually('the public room listed', () => updates.some((u) => u.rooms.some((r) => r.id === 'open-house')));
  const api = (await (await fetch(noom.url + '/api/rooms')).json()) as { rooms: { id: string }[] };
  const listed = await req(watcher, 'rooms:list', {});
  const metrics = await (await fetch(noom.url + '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  assert.ok(api.rooms.some((r) => r.id === 'open-house'));
  assert.ok(!api.rooms.some((r) => r.id === 'secret-plans'));
  assert.ok(!listed.rooms.some((r) => r.id === 'secret-plans'));
  assert.ok(!updates.some((u) => u.rooms.some((r) => r.id === 'secret-plans')));
  assert.doesNotMatch(metrics, /secret-plans/);
});
