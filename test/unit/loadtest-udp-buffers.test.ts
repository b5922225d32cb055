/** The load tester's werift bots ask for large UDP receive buffers, as far as the OS allows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { installWerift, UDP_RECV_BUFFER_BYTES, werift } from '../../scripts/loadtest/peer/werift.js';

test("a werift ICE socket's receive buffer is raised to the bots' size, capped by net.core.rmem_max", async (t) => {
  installWerift();
  let rmemMax: number;
  try {
    rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    t.skip('no /proc/sys/net/core/rmem_max (not Linux)');
    return;
  }
  const UdpTransport = (werift as unknown as { UdpTransport: { init(type: 'udp4'): Promise<{ socket: import('node:dgram').Socket }> } })
    .UdpTransport;
  const transport = await UdpTransport.init('udp4');
  try {
    // Linux reports twice what was granted (the other half is its bookkeeping).
    const granted = transport.socket.getRecvBufferSize() / 2;
    console.log(`UDP receive buffer of a bot socket: ${granted} bytes (asked ${UDP_RECV_BUFFER_BYTES}, rmem_max ${rmemMax})`);
    assert.equal(granted, Math.min(UDP_RECV_BUFFER_BYTES, rmemMax));
  } finally {
    transport.socket.close();
  }
});
