import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { SocketDrops } from '../../scripts/loadtest/socketDrops.js';

test("a process's own UDP sockets: datagrams dropped for a full receive buffer are counted, and stay counted once it closes", async () => {
  const drops = new SocketDrops();
  const before = drops.read();
  assert.equal(typeof before, 'number');
  const receiver = createSocket('udp4');
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiver.setRecvBufferSize(4096);
  // Not read while it fills: the event loop is busy sending.
  const sender = createSocket('udp4');
  const payload = Buffer.alloc(1000);
  for (let i = 0; i < 200; i++) sender.send(payload, receiver.address().port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 200));
  const during = drops.read()!;
  assert.ok(during - before! >= 150, `dropped ${during - before!} of 200 datagrams into a 4 KiB buffer`);
  receiver.close();
  sender.close();
  assert.equal(drops.read(), during);
});
