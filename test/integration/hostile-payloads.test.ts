/**
 * Every request, in a state where it could succeed, with each field (down to nested RTP and
 * DTLS parameters) replaced by hostile values: each gets a typed answer in time, none is
 * INTERNAL, and afterwards the server's books and the mediasoup router agree.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { ERROR_CODES } from '../../protocol/index.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { connect, rawAck, req, startTestServer, onlyRouter } from '../support/server.js';
import { OPUS_PARAMETERS, VP8_SIMULCAST_PARAMETERS } from '../support/rtp.js';

const deep = (depth: number): unknown => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

const HOSTILE: [string, unknown][] = [
  ['null', null],
  ['zero', 0],
  ['negative', -1],
  ['huge number', 1e308],
  ['fraction', 0.5],
  ['true', true],
  ['empty string', ''],
  // Under the 64 KiB frame limit: a larger frame closes the connection (abuse-limits.test.ts).
  ['50k string', 'x'.repeat(50_000)],
  ['control characters', '\u0000\u001b[31m\u202e'],
  ['empty array', []],
  ['empty object', {}],
  ['proto key', JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')],
  ['10k array', Array.from({ length: 10_000 }, (_, i) => i)],
  ['nested 2000 deep', deep(2000)],
];

type Path = (string | number)[];

/** Paths to every node of a payload, down to `maxDepth`, so that nested fields get their turn. */
function paths(value: unknown, maxDepth: number, prefix: Path = []): Path[] {
  if (prefix.length >= maxDepth || value === null || typeof value !== 'object') return [];
  const out: Path[] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = Array.isArray(value) ? Number(k) : k;
    out.push([...prefix, key], ...paths(v, maxDepth, [...prefix, key]));
  }
  return out;
}

function replaced(payload: unknown, path: Path, with_: unknown): unknown {
  const copy = structuredClone(payload) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = with_;
  return copy;
}

let noom: NoomServer;
const sockets: ProtocolSocket[] = [];
before(async () => {
  // The fuzzing sends thousands of invalid requests per connection, megabytes a second: the flood allowances are not what it checks.
  noom = await startTestServer({ CHAT_RATE_PER_10S: '10000', MAX_PRODUCERS_PER_PEER: '32', INVALID_REQUESTS_PER_10S: '1000000', SIGNALING_MB_PER_10S: '100000' });
});
after(async () => {
  for (const s of sockets) s.close();
  await noom?.close();
});

test('hostile values in every field get typed answers and leave the server consistent', async () => {
  const [a, b, stranger] = await Promise.all([connect(noom.url), connect(noom.url), connect(noom.url)]);
  sockets.push(a, b, stranger);
  const workerPid = noom.pool.slots[0]!.worker.pid;
  await req(a, 'room:join', { roomId: 'fuzz', displayName: 'Ann' });
  const jb = await req(b, 'room:join', { roomId: 'fuzz', displayName: 'Ben' });
  const sendA = await req(a, 'transport:create', { direction: 'send' });
  const recvB = await req(b, 'transport:create', { direction: 'recv' });
  const { producerId } = await req(a, 'producer:create', {
    transportId: sendA.id,
    kind: 'audio',
    source: 'mic',
    rtpParameters: OPUS_PARAMETERS,
  });
  const { consumerId } = await req(b, 'consumer:create', {
    transportId: recvB.id,
    producerId,
    rtpCapabilities: jb.rtpCapabilities,
  });
  const room = () => noom.rooms.get('fuzz')!;
  const dtls = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] };

  const baselines: [ProtocolSocket, string, unknown][] = [
    [stranger, 'room:join', { roomId: 'fuzz-other', displayName: 'Stan', password: 'pw', public: true }],
    [a, 'rooms:list', {}],
    [a, 'peer:rename', { displayName: 'Anna' }],
    [a, 'transport:create', { direction: 'recv' }],
    [a, 'transport:connect', { transportId: sendA.id, dtlsParameters: dtls }],
    [a, 'transport:restartIce', { transportId: sendA.id }],
    [a, 'producer:create', { transportId: sendA.id, kind: 'video', source: 'camera', rtpParameters: VP8_SIMULCAST_PARAMETERS }],
    [a, 'producer:pause', { producerId }],
    [a, 'producer:resume', { producerId }],
    [b, 'consumer:create', { transportId: recvB.id, producerId, rtpCapabilities: jb.rtpCapabilities }],
    [b, 'consumer:pause', { consumerId }],
    [b, 'consumer:resume', { consumerId }],
    [b, 'consumer:setPreferredLayers', { consumerId, spatialLayer: 0, temporalLayer: 0 }],
    [a, 'chat:send', { text: 'hello' }],
    [stranger, 'room:resume', { token: 'x'.repeat(32) }],
  ];

  const codes = new Map<string, number>();
  let sent = 0;
  for (const [socket, name, baseline] of baselines) {
    const variants: [string, unknown][] = [
      ...HOSTILE.map(([label, value]): [string, unknown] => [`payload = ${label}`, value]),
      ...paths(baseline, 4).flatMap((path) =>
        HOSTILE.map(([label, value]): [string, unknown] => [`${path.join('.')} = ${label}`, replaced(baseline, path, value)]),
      ),
    ];
    for (const [what, payload] of variants) {
      const res = (await rawAck(socket, name, payload)) as
        | { ok: true; data: Record<string, unknown> }
        | { ok: false; error: { code: string; message: string } };
      sent++;
      if (!res.ok) {
        assert.ok((ERROR_CODES as readonly string[]).includes(res.error.code), `${name} ${what}: code ${res.error.code}`);
        assert.notEqual(res.error.code, 'INTERNAL', `${name} ${what}: ${res.error.message}`);
        assert.ok(res.error.message.length > 0 && res.error.message.length < 2000, `${name} ${what}: message length`);
        assert.doesNotMatch(res.error.message, /\n\s+at /, `${name} ${what}: stack trace`);
        codes.set(res.error.code, (codes.get(res.error.code) ?? 0) + 1);
        continue;
      }
      codes.set('ok', (codes.get('ok') ?? 0) + 1);
      // A variant that is still valid did its work; undo what would change the next variants.
      if (name === 'room:join') await req(stranger, 'room:leave', {});
      if (name === 'producer:create') await req(a, 'producer:close', { producerId: String(res.data.producerId) });
    }
    // The worker still takes requests: a half-serialized message would poison every later one.
    // (Not an ICE restart: those are rate-limited per transport, and the sweep spent them.)
    await req(a, 'producer:resume', { producerId });
    await onlyRouter(room()).dump();
  }
  console.log(`${sent} hostile requests:`, Object.fromEntries(codes));
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  assert.equal(noom.pool.slots[0]!.worker.pid, workerPid, 'the worker survived');

  // The server's books and the router agree: nothing was created that nobody owns.
  const peers = [...room().peers.values()];
  const dump = await onlyRouter(room()).dump();
  assert.equal(dump.transportIds.length, peers.reduce((n, p) => n + p.transportCount, 0), 'transports');
  assert.equal(dump.mapProducerIdConsumerIds.length, peers.reduce((n, p) => n + p.producers.size, 0), 'producers');
  assert.equal(dump.mapConsumerIdProducerId.length, peers.reduce((n, p) => n + p.consumers.size, 0), 'consumers');
  assert.equal(noom.rooms.get('fuzz-other'), undefined, 'no room left behind by the stranger');
  const health = await fetch(`${noom.url}/healthz`);
  assert.equal(health.status, 200);
  assert.ok(Array.isArray((await req(stranger, 'rooms:list', {})).rooms));
});
