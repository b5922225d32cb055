/**
 * The server goes away and comes back on the same port: pages show that they are
 * reconnecting, rejoin the room by themselves (no reload) and media flows again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  chatMessages,
  peerConnectionCount,
  startServer,
  twoPersonCall,
  tileVideoWidth,
  withDiagnostics,
  waitForMedia,
} from './harness.js';
import { eventually } from '../support/eventually.js';

describe('reconnecting after a server restart', () => {
  const call = twoPersonCall('sturdy');

  test(
    'pages rejoin and media flows again once the server is back',
    withDiagnostics(call.peers, async () => {
      for (const peer of call.peers()) {
        await waitForMedia(peer.page, `${peer.name} to receive media`);
      }
      await call.alice.page.evaluate(() => {
        (window as unknown as { __testMarker: boolean }).__testMarker = true;
      });
      const connectionsBefore = await Promise.all(call.peers().map((p) => peerConnectionCount(p.page)));

      const port = call.server.port;
      await call.server.close();
      for (const peer of call.peers()) {
        await peer.page.waitForSelector('[data-testid="room"][data-status="reconnecting"]', { timeout: 10_000 });
        assert.ok(await peer.page.isVisible('[data-testid="status-banner"]'), 'the reconnecting banner shows');
      }

      call.server = await startServer({ port });
      for (const [i, peer] of call.peers().entries()) {
        await peer.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
        const other = peer === call.alice ? 'Bob' : 'Alice';
        // Only the peer connections of the new session count.
        const totals = await waitForMedia(peer.page, `${peer.name} to receive ${other}'s media again`, connectionsBefore[i]);
        const width = await eventually(`${other}'s tile to render again`, () => tileVideoWidth(peer.page, other, 'camera'));
        console.log(
          `${peer.name} after restart: ${totals.video.framesDecoded} frames decoded (${width}px), ` +
            `${totals.audio.packetsReceived} audio packets`,
        );
        assert.equal(await peer.page.isVisible('[data-testid="status-banner"]'), false);
        assert.equal(await peer.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
      }
      // Same document: the page was never reloaded.
      assert.equal(await call.alice.page.evaluate(() => (window as unknown as { __testMarker?: boolean }).__testMarker), true);

      await call.bob.page.fill('[data-testid="chat-input"]', 'still here');
      await call.bob.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually('chat to work after the restart', () => chatMessages(call.alice.page), (t) => t.includes('still here'));
    }),
  );
});
