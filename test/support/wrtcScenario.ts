/**
 * Run by test/integration/wrtc-peer.test.ts in a child process: a wrtc peer and werift peers
 * in one room of the server at argv[2]. libwebrtc (@roamhq/wrtc 0.10.0) has been seen to
 * crash in native teardown; in a child that cannot take the test runner down with it. The
 * assertions run here; the last line printed, `SCENARIO OK`, says they all passed.
 */
import assert from 'node:assert/strict';
import { prepareMedia, SyntheticPeer, WrtcPeer, type LoadPeer } from '../../scripts/loadtest/peer/index.js';
import { loadWrtc } from '../../scripts/loadtest/peer/wrtc.js';
import { eventually } from './eventually.js';

const url = process.argv[2];
if (!url) throw new Error('usage: wrtcScenario.ts <server url>');
const noom = { url };
const peers: LoadPeer[] = [];

const totalsById = (p: LoadPeer) => new Map(p.consumerStats().map((c) => [c.consumerId, c]));

async function scenario(): Promise<void> {
  const vera = await SyntheticPeer.join({ url: noom.url, roomId: 'engines', displayName: 'Vera', publish: { audio: true, video: true } });
  peers.push(vera);
  const wren = await WrtcPeer.join({ url: noom.url, roomId: 'engines', displayName: 'Wren', publish: { audio: true, video: true } });
  peers.push(wren);
  assert.notEqual(globalThis.RTCPeerConnection, loadWrtc().RTCPeerConnection, 'wrtc left no globals behind');
  // A werift peer set up after a wrtc one still runs on werift.
  const sam = await SyntheticPeer.join({ url: noom.url, roomId: 'engines', displayName: 'Sam' });
  peers.push(sam);

  await Promise.all([
    vera.waitForMedia({ consumers: 2, minPackets: 30, timeoutMs: 20_000 }),
    wren.waitForMedia({ consumers: 2, minPackets: 30, timeoutMs: 20_000 }),
    sam.waitForMedia({ consumers: 4, minPackets: 30, timeoutMs: 20_000 }),
  ]);

  const expectSources = (p: LoadPeer, from: LoadPeer[]) => {
    const stats = p.consumerStats();
    assert.deepEqual(new Set(stats.map((s) => s.peerId)), new Set(from.map((f) => f.peerId)));
    assert.deepEqual(stats.map((s) => s.kind).sort(), from.flatMap(() => ['audio', 'video']).sort());
    for (const s of stats) assert.ok(s.firstPacketAt !== undefined && s.firstPacketAt >= p.joinedAt);
  };
  expectSources(vera, [wren]);
  expectSources(wren, [vera]);
  expectSources(sam, [vera, wren]);

  // libwebrtc encoded and sent both tracks.
  const sent = wren.producerStats();
  assert.deepEqual(sent.map((s) => s.kind).sort(), ['audio', 'video']);
  for (const s of sent) assert.ok(s.packetsSent > 0 && s.bytesSent > 0, `wrtc ${s.kind} producer sent nothing`);

  // libwebrtc decodes the replayed VP8 it receives.
  await eventually("wrtc decodes the werift peer's video", () =>
    wren.consumerStats().some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0),
  );

  // Media keeps flowing: every consumer's packets and bytes grow past a snapshot.
  for (const p of [vera, wren, sam]) {
    const first = totalsById(p);
    await eventually(`every consumer of ${p.peerId} keeps receiving`, () =>
      p.consumerStats().every((now) => {
        const was = first.get(now.consumerId)!;
        return now.packets > was.packets + 20 && now.bytes > was.bytes;
      }),
    );
  }
}

await prepareMedia();
try {
  await scenario();
  console.log('SCENARIO OK');
} finally {
  await Promise.all(peers.map((p) => p.close()));
}
process.exit(0);
