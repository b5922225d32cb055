/** The WorkerPool against real mediasoup workers. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/index.js';
import { createLogger } from '../../server/src/logger.js';
import { WorkerPool } from '../../server/src/media/WorkerPool.js';
import { eventually } from '../support/eventually.js';
import { TEST_ENV } from '../support/server.js';

let pool: WorkerPool;
before(async () => {
  const config = loadConfig({ ...TEST_ENV, WORKERS: '3' });
  pool = await WorkerPool.create({ ...config.mediasoup, respawnDelayMs: 50 }, createLogger('silent'));
});
after(() => pool.close());

test('starts one worker per configured slot, each with a WebRtcServer', () => {
  assert.equal(pool.slots.length, 3);
  assert.equal(new Set(pool.slots.map((s) => s.worker.pid)).size, 3);
  for (const s of pool.slots) assert.equal(s.webRtcServer.closed, false);
});

test('places routers on the least-loaded worker; leases count peers until released', async () => {
  const placed = [];
  const leases = [];
  for (let i = 0; i < 3; i++) {
    const { router, slot } = await pool.createRouter();
    // A room with 10 - i peers on it.
    for (let n = 0; n < 10 - i; n++) leases.push(pool.lease(slot));
    placed.push({ router, slot });
  }
  assert.deepEqual(placed.map((p) => p.slot.index).sort(), [0, 1, 2], 'one router per idle worker');
  assert.deepEqual(placed.map((p) => p.slot.load), [10, 9, 8]);
  const next = await pool.createRouter();
  assert.equal(next.slot, placed[2]!.slot, 'the worker with the fewest peers gets the next router');
  assert.equal(pool.pick(new Set([placed[2]!.slot.index]))?.index, placed[1]!.slot.index, 'pick leaves out the excluded slots');
  for (const lease of leases) {
    lease.release();
    lease.release(); // a second release gives nothing back twice
  }
  assert.deepEqual(pool.slots.map((s) => s.load), [0, 0, 0], 'leases released');
  for (const p of [...placed, next]) p.router.close();
  await eventually('routers released', () => pool.slots.every((s) => s.routers.size === 0));
});

test('a killed worker is detected and replaced in the same slot', async () => {
  const victim = pool.slots[1]!;
  const { router, slot: placedOn } = await pool.createRouter({}, victim);
  assert.equal(placedOn, victim);
  assert.equal(victim.routers.has(router), true);
  const died = once(pool, 'workerdied');
  const replaced = once(pool, 'workerreplaced');
  const oldPid = victim.worker.pid;
  process.kill(oldPid, 'SIGKILL');
  const [slot, pid] = (await died) as [number, number];
  assert.deepEqual([slot, pid], [1, oldPid]);
  assert.equal(router.closed, true, 'routers on the dead worker are closed');
  const [newSlot, newPid] = (await replaced) as [number, number];
  assert.equal(newSlot, 1);
  assert.notEqual(newPid, oldPid);
  assert.equal(pool.slots.length, 3);
  // The replacement works, and a router asked of the dead slot object is refused.
  await assert.rejects(pool.createRouter({}, victim), /no mediasoup worker/);
  const fresh = await pool.createRouter({}, pool.slots[1]!);
  fresh.router.close();
});

test('RTP sent into a PlainTransport producer arrives at a consumer (packets and bytes)', async () => {
  const { router } = await pool.createRouter();
  const sender = createSocket('udp4');
  const receiver = createSocket('udp4');
  try {
    await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', r));
    const inbound = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const producer = await inbound.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
        encodings: [{ ssrc: 1234 }],
      },
    });
    const outbound = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
    await outbound.connect({ ip: '127.0.0.1', port: receiver.address().port });
    const consumer = await outbound.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    let packets = 0;
    let bytes = 0;
    receiver.on('message', (msg) => {
      if ((msg[1]! & 0x7f) < 64 || (msg[1]! & 0x7f) > 95) {
        packets++;
        bytes += msg.length;
      }
    });
    const payload = Buffer.alloc(160, 7);
    for (let seq = 0; seq < 100; seq++) {
      const header = Buffer.alloc(12);
      header[0] = 0x80;
      header[1] = 100;
      header.writeUInt16BE(seq, 2);
      header.writeUInt32BE(seq * 960, 4);
      header.writeUInt32BE(1234, 8);
      sender.send(Buffer.concat([header, payload]), inbound.tuple.localPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 2));
    }
    await eventually('100 RTP packets at the consumer side', () => packets, (n) => n >= 100);
    assert.ok(bytes >= 100 * 172, `bytes ${bytes}`);
    const [stats] = await consumer.getStats();
    assert.equal(stats?.packetCount, 100);
  } finally {
    sender.close();
    receiver.close();
    router.close();
  }
});

test("each worker's media UDP socket gets the configured buffers, as far as the kernel allows", async () => {
  const wanted = loadConfig(TEST_ENV).mediasoup.udpBufferBytes;
  assert.equal(wanted, 4 * 1024 * 1024);
  const cap = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  for (const s of pool.slots) {
    const dump = await s.webRtcServer.dump();
    const port = dump.udpSockets[0]!.port;
    const out = execFileSync('ss', ['-uamnH', 'sport', '=', `:${port}`], { encoding: 'utf8' });
    // Linux reports twice the size asked for (its bookkeeping share included).
    const rb = Number(/rb(\d+)/.exec(out)?.[1]);
    assert.equal(rb, 2 * Math.min(wanted, cap), `worker ${s.index} socket :${port}: ${out.trim()}`);
  }
});
