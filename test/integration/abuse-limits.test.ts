/**
 * Abuse limits hold per client address: every test opens a new connection for each try (a
 * reconnect refills nothing), and every refusal is RATE_LIMITED with a retry time. Behind a
 * proxy, X-Forwarded-For counts only when TRUST_PROXY names the proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { NoomServer } from '../../server/src/app.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { OPUS_PARAMETERS } from '../support/rtp.js';
import { errorCode, rawAck, req, startTestServer } from '../support/server.js';

type Answer = { ok: boolean; data?: Record<string, unknown>; error?: { code: string; message: string; retryAfterMs?: number } };

const LIMITS = {
  // Empty: no address is exempt (the tests' default exempts loopback).
  RATE_LIMIT_EXEMPT: '',
  JOINS_PER_MIN: '6',
  ROOM_CREATIONS_PER_MIN: '3',
  PASSWORD_ATTEMPTS: '3',
  CHAT_RATE_PER_10S: '3',
  RENAMES_PER_MIN: '2',
  TRANSPORTS_PER_MIN: '3',
};

const open: ProtocolSocket[] = [];
/** A new connection, as a client that reconnects between tries; `forwardedFor` as a proxy would add it. */
function connect(url: string, forwardedFor?: string): Promise<ProtocolSocket> {
  const socket: ProtocolSocket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(forwardedFor ? { extraHeaders: { 'X-Forwarded-For': forwardedFor } } : {}),
  });
  open.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}
async function once(url: string, name: string, payload: unknown, setup?: (s: ProtocolSocket) => Promise<void>): Promise<Answer> {
  const s = await connect(url);
  try {
    await setup?.(s);
    return (await rawAck(s, name, payload)) as Answer;
  } finally {
    s.close();
  }
}
function assertLimited(a: Answer, what: string): void {
  assert.equal(a.ok, false, `${what}: refused`);
  assert.equal(a.error?.code, 'RATE_LIMITED', `${what}: ${JSON.stringify(a.error)}`);
  assert.ok(typeof a.error?.retryAfterMs === 'number' && a.error.retryAfterMs > 0, `${what}: says when to retry`);
}
after(() => {
  for (const s of open.splice(0)) s.close();
});

describe('per address, across reconnects', () => {
  let noom: NoomServer;
  before(async () => {
    noom = await startTestServer(LIMITS);
  });
  after(() => noom.close());

  test('room creations: 3 new rooms a minute per address, then RATE_LIMITED; MAX_ROOMS is not filled', async () => {
    // Each creator stays, so the rooms stay.
    for (let i = 0; i < 3; i++) await req(await connect(noom.url), 'room:join', { roomId: `made-${i}` });
    assertLimited(await once(noom.url, 'room:join', { roomId: 'made-3' }), 'fourth new room');
    assert.equal(noom.rooms.get('made-3'), undefined);
  });

  test('joins: 6 a minute per address, then RATE_LIMITED, also into an existing room', async () => {
    // 4 joins were spent by the test above (the refused one too).
    for (let i = 0; i < 2; i++) assert.equal((await once(noom.url, 'room:join', { roomId: 'made-0' })).ok, true);
    assertLimited(await once(noom.url, 'room:join', { roomId: 'made-0' }), 'seventh join');
  });
});

describe('passwords, chat, renames and transports', () => {
  let noom: NoomServer;
  before(async () => {
    noom = await startTestServer({ ...LIMITS, JOINS_PER_MIN: '1000', ROOM_CREATIONS_PER_MIN: '1000' });
  });
  after(() => noom.close());

  test('wrong passwords: 3 per address and room, then even the right one waits', async () => {
    const owner = await connect(noom.url);
    const joined = await req(owner, 'room:join', { roomId: 'vault', password: 'right', public: false });
    assert.equal(joined.locked, true);
    for (let i = 0; i < 3; i++) {
      const a = await once(noom.url, 'room:join', { roomId: 'vault', password: `guess-${i}` });
      assert.equal(a.error?.code, 'FORBIDDEN');
    }
    const blocked = await once(noom.url, 'room:join', { roomId: 'vault', password: 'right' });
    assertLimited(blocked, 'after 3 wrong passwords');
    assert.ok(blocked.error!.retryAfterMs! > 50_000, 'blocked for about a minute');
    // Another room's password is counted apart.
    await req(owner, 'room:leave', {});
    await req(owner, 'room:join', { roomId: 'other-vault', password: 'x' });
    assert.equal((await once(noom.url, 'room:join', { roomId: 'other-vault', password: 'y' })).error?.code, 'FORBIDDEN');
    owner.close();
  });

  test('a join that asks for a password and privacy on an existing room is told its real settings', async () => {
    const owner = await connect(noom.url);
    await req(owner, 'room:join', { roomId: 'open-room' });
    const late = await once(noom.url, 'room:join', { roomId: 'open-room', password: 'mine', public: false });
    assert.equal(late.ok, true);
    assert.equal(late.data?.locked, false);
    assert.equal(late.data?.public, true);
    owner.close();
  });

  test('chat: 3 per 10 s per name, which a reconnect does not refill; 15 per address whatever the name', async () => {
    const send = (name: string) =>
      once(noom.url, 'chat:send', { text: 'hello' }, async (s) => {
        await req(s, 'room:join', { roomId: 'chatty', displayName: name });
      });
    for (let i = 0; i < 3; i++) assert.equal((await send('Mallory')).ok, true);
    assertLimited(await send('Mallory'), 'fourth message after a reconnect');
    // New names buy a little, up to the address's own limit (5 × 3).
    let accepted = 3;
    for (let n = 0; n < 6; n++) {
      for (let i = 0; i < 3; i++) if ((await send(`Mallory ${n}`)).ok) accepted++;
    }
    assert.equal(accepted, 15);
  });

  test('renames: 2 a minute per address across reconnects', async () => {
    const rename = (name: string) =>
      once(noom.url, 'peer:rename', { displayName: name }, async (s) => {
        await req(s, 'room:join', { roomId: 'names' });
      });
    assert.equal((await rename('A')).ok, true);
    assert.equal((await rename('B')).ok, true);
    assertLimited(await rename('C'), 'third rename');
  });

  test('transport creations: 3 a minute per address across reconnects', async () => {
    const create = () =>
      once(noom.url, 'transport:create', { direction: 'recv' }, async (s) => {
        await req(s, 'room:join', { roomId: 'transports' });
      });
    for (let i = 0; i < 3; i++) assert.equal((await create()).ok, true);
    assertLimited(await create(), 'fourth transport');
  });
});

describe('producer and consumer bursts', () => {
  let noom: NoomServer;
  before(async () => {
    noom = await startTestServer({ RATE_LIMIT_EXEMPT: '', PRODUCERS_PER_MIN: '2', CONSUMERS_PER_MIN: '2' });
  });
  after(() => noom.close());

  test('producer and consumer creations: 2 a minute per address each, across reconnects', async () => {
    const publish = async (): Promise<Answer> => {
      const s = await connect(noom.url);
      try {
        await req(s, 'room:join', { roomId: 'bursts' });
        const send = await req(s, 'transport:create', { direction: 'send' });
        return (await rawAck(s, 'producer:create', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: OPUS_PARAMETERS })) as Answer;
      } finally {
        s.close();
      }
    };
    // The publisher stays, so that there is something to consume.
    const publisher = await connect(noom.url);
    await req(publisher, 'room:join', { roomId: 'bursts' });
    const send = await req(publisher, 'transport:create', { direction: 'send' });
    const { producerId } = await req(publisher, 'producer:create', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: OPUS_PARAMETERS });
    assert.equal((await publish()).ok, true, 'second producer');
    assertLimited(await publish(), 'third producer');

    const consume = async (): Promise<Answer> => {
      const s = await connect(noom.url);
      try {
        const joined = await req(s, 'room:join', { roomId: 'bursts' });
        const recv = await req(s, 'transport:create', { direction: 'recv' });
        return (await rawAck(s, 'consumer:create', { transportId: recv.id, producerId, rtpCapabilities: joined.rtpCapabilities })) as Answer;
      } finally {
        s.close();
      }
    };
    for (let i = 0; i < 2; i++) assert.equal((await consume()).ok, true, `consumer ${i + 1}`);
    assertLimited(await consume(), 'third consumer');
  });
});

describe('X-Forwarded-For', () => {
  for (const trusted of [false, true]) {
    test(`${trusted ? 'with' : 'without'} TRUST_PROXY=loopback, clients behind the proxy ${trusted ? 'have limits of their own' : 'share the proxy address'}`, async () => {
      const noom = await startTestServer({ ...LIMITS, ...(trusted ? { TRUST_PROXY: 'loopback' } : {}) });
      try {
        const results: boolean[] = [];
        for (let i = 0; i < 4; i++) {
          const s = await connect(noom.url, `198.51.100.${i + 1}`);
          results.push(((await rawAck(s, 'room:join', { roomId: `proxied-${i}` })) as Answer).ok);
          s.close();
        }
        // Four clients, four new rooms: the fourth is refused only if they count as one address.
        assert.deepEqual(results, trusted ? [true, true, true, true] : [true, true, true, false]);
      } finally {
        await noom.close();
      }
    });
  }
});

describe('floods', () => {
  let noom: NoomServer;
  before(async () => {
    noom = await startTestServer({ RATE_LIMIT_EXEMPT: '', INVALID_REQUESTS_PER_10S: '20', SIGNALING_MB_PER_10S: '1' });
  });
  after(() => noom.close());

  /** A connection from another loopback address: each flood test has an address of its own. */
  function from(address: string): Promise<Socket> {
    // socket.io-client hands `localAddress` to the WebSocket of Node's `ws`; its types omit it.
    const socket = io(noom.url, { transports: ['websocket'], reconnection: false, forceNew: true, localAddress: address } as Parameters<typeof io>[1]);
    open.push(socket as unknown as ProtocolSocket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  }
  const dropped = (s: Socket) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not drop the connection within 5 s')), 5000);
      s.once('disconnect', (reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });
  const flooded = async (reason: string) => {
    const text = await (await fetch(`${noom.url}/metrics`)).text();
    return Number(new RegExp(`noom_flood_disconnects_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };

  test('invalid requests: the 21st in 10 s drops the connection and shuts the address out; another address is served', async () => {
    const s = await from('127.0.0.2');
    const gone = dropped(s);
    for (let i = 0; i < 20; i++) assert.equal(errorCode(await rawAck(s as unknown as ProtocolSocket, 'producer:create', { nonsense: i })), 'INVALID_REQUEST');
    assert.equal(s.connected, true, '20 are tolerated');
    s.emit('producer:create', { nonsense: 21 });
    assert.equal(await gone, 'io server disconnect');
    assert.equal(await flooded('invalid'), 1);
    await assert.rejects(from('127.0.0.2'), 'a new connection from that address is refused');
    const other = await from('127.0.0.3');
    assert.equal(errorCode(await rawAck(other as unknown as ProtocolSocket, 'rooms:list', {})), undefined, 'answered, no error');
  });

  test('a frame over 64 KiB closes the connection; a few of them shut the address out', async () => {
    for (let i = 0; i < 4; i++) {
      const s = await from('127.0.0.4');
      const gone = dropped(s);
      s.emit('producer:create', { x: 'a'.repeat(70 * 1024) });
      assert.equal(await gone, 'transport close', `frame ${i + 1}`);
    }
    await assert.rejects(from('127.0.0.4'));
  });

  test('signaling bytes: past 1 MB in 10 s the connection drops and the address is shut out', async () => {
    const s = await from('127.0.0.5');
    const gone = dropped(s);
    // Valid requests, each padded with a long room id refusal would come too late: 40 KB of JSON each.
    const big = { offset: 0, limit: 10, pad: 'x'.repeat(40 * 1024) };
    for (let i = 0; i < 30 && s.connected; i++) s.emit('rooms:list', big);
    assert.equal(await gone, 'io server disconnect');
    assert.equal(await flooded('bytes'), 1);
    await assert.rejects(from('127.0.0.5'));
  });
});
