/**
 * The server goes away and comes back on the same port: pages show that they are
 * reconnecting, rejoin the room by themselves (no reload) and media flows again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  chatMessages,
  eventually,
  inboundTotals,
  joinByLink,
  launchBrowser,
  MIN_AUDIO_PACKETS,
  MIN_FRAMES,
  newPeer,
  peerConnectionCount,
  startServer,
  tileVideoWidth,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';

describe('reconnecting after a server restart', () => {
  let server: TestServer;
  let browser: Browser;
  let alice: Peer;
  let bob: Peer;
  const peers = () => [alice, bob];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    alice = await newPeer(browser, 'Alice');
    bob = await newPeer(browser, 'Bob');
    await joinByLink(alice, server.url, 'sturdy');
    await joinByLink(bob, server.url, 'sturdy');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    'pages rejoin and media flows again once the server is back',
    withDiagnostics(peers, async () => {
      for (const peer of peers()) {
        await eventually(`${peer.name} to receive media`, () => inboundTotals(peer.page), (t) =>
          t.video.framesDecoded >= MIN_FRAMES && t.audio.packetsReceived >= MIN_AUDIO_PACKETS,
        );
      }
      await alice.page.evaluate(() => {
        (window as unknown as { __testMarker: boolean }).__testMarker = true;
      });
      const connectionsBefore = await Promise.all(peers().map((p) => peerConnectionCount(p.page)));

      const port = server.port;
      await server.close();
      for (const peer of peers()) {
        await peer.page.waitForSelector('[data-testid="room"][data-status="reconnecting"]', { timeout: 10_000 });
        assert.ok(await peer.page.isVisible('[data-testid="status-banner"]'), 'the reconnecting banner shows');
      }

      server = await startServer({ port });
      for (const [i, peer] of peers().entries()) {
        await peer.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
        const other = peer === alice ? 'Bob' : 'Alice';
        // Only the peer connections of the new session count.
        const totals = await eventually(
          `${peer.name} to receive ${other}'s media again`,
          () => inboundTotals(peer.page, connectionsBefore[i]),
          (t) => t.video.framesDecoded >= MIN_FRAMES && t.audio.packetsReceived >= MIN_AUDIO_PACKETS,
        );
        const width = await eventually(`${other}'s tile to render again`, () => tileVideoWidth(peer.page, other, 'camera'));
        console.log(
          `${peer.name} after restart: ${totals.video.framesDecoded} frames decoded (${width}px), ` +
            `${totals.audio.packetsReceived} audio packets`,
        );
        assert.equal(await peer.page.isVisible('[data-testid="status-banner"]'), false);
        assert.equal(await peer.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
      }
      // Same document: the page was never reloaded.
      assert.equal(await alice.page.evaluate(() => (window as unknown as { __testMarker?: boolean }).__testMarker), true);

      await bob.page.fill('[data-testid="chat-input"]', 'still here');
      await bob.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually('chat to work after the restart', () => chatMessages(alice.page), (t) => t.includes('still here'));
    }),
  );
});
