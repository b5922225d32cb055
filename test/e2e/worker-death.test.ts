/**
 * The mediasoup worker carrying a call dies (SIGKILL) while the Socket.IO connections stay
 * up: the server sends `room:closed {reason: 'workerclose'}`, and each page says so, rejoins
 * the room by itself on a healthy worker and media flows again both ways within 3 s of the
 * death, with a muted microphone still muted. Every other way the server can end the room
 * under the pages (`room:closed` with `empty` or `shutdown`) has its own notice and ends
 * the same way: back in the room, media flowing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  inboundTotals,
  notices,
  peerConnectionCount,
  recordStatuses,
  roomWorkerPid,
  statusChanges as statuses,
  tileAttr,
  tileVideoWidth,
  twoPersonCall,
  waitForMedia,
  withDiagnostics,
} from './harness.js';
import { eventually } from '../support/eventually.js';

const ROOM = 'phoenix';
const NOTICE = 'Media server restarted — rejoining…';
/** The issue's bound: media back in both directions within this long of the worker's death. */
const BACK_WITHIN_MS = 3000;

/**
 * Polls until `ready` holds for every page's media on its connections from `since[i]` on;
 * returns, per page, the Date.now() at which it first did.
 */
async function firstMedia(pages: Page[], since: number[], ready: (t: Awaited<ReturnType<typeof inboundTotals>>, i: number) => boolean): Promise<number[]> {
  const at: (number | undefined)[] = pages.map(() => undefined);
  await eventually(
    'first media on every page',
    async () => {
      for (const [i, page] of pages.entries()) if (at[i] === undefined && ready(await inboundTotals(page, since[i]), i)) at[i] = Date.now();
      return at;
    },
    (a) => a.every((t) => t !== undefined),
    { intervalMs: 25 },
  );
  return at as number[];
}

/** Video frames decoded on the page's peer connections from `sincePc` on. */
async function framesSince(page: Page, sincePc: number): Promise<number> {
  return (await inboundTotals(page, sincePc)).video.framesDecoded;
}

describe('a media worker dies under a call', () => {
  const call = twoPersonCall(ROOM, { env: { WORKERS: '2' } });

  test(
    'pages show it, rejoin on a healthy worker with the same mic state, and media flows again',
    withDiagnostics(call.peers, async () => {
      const { alice, bob } = call;
      for (const peer of call.peers()) await waitForMedia(peer.page, `${peer.name} to receive media`);
      await bob.page.click('[data-testid="toggle-mic"]');
      await eventually("Bob's microphone to show as muted", () => tileAttr(alice.page, 'Bob', 'camera', 'micOff'), (v) => v === 'true');

      await alice.page.evaluate(() => {
        (window as unknown as { __testMarker: boolean }).__testMarker = true;
      });
      // Peer connections made before the kill; only those of the new session count afterwards.
      const [aliceBefore, bobBefore] = await Promise.all([alice, bob].map((p) => peerConnectionCount(p.page)));
      for (const peer of call.peers()) await recordStatuses(peer.page);
      const problemsBefore = call.peers().map((p) => p.problems.length);

      const killed = roomWorkerPid(call.server, ROOM);
      const killedAt = Date.now();
      process.kill(killed, 'SIGKILL');
      // Bob's microphone is muted: what Alice gets of him is video; Bob gets both of Alice.
      const firstAt = await firstMedia([alice.page, bob.page], [aliceBefore ?? 0, bobBefore ?? 0], (t, i) =>
        t.video.framesDecoded > 0 && (i === 0 || t.audio.packetsReceived > 0),
      );
      const back = Math.max(...firstAt) - killedAt;
      console.log(`first media on the new sessions: Alice +${firstAt[0]! - killedAt} ms, Bob +${firstAt[1]! - killedAt} ms after the kill`);
      assert.ok(back <= BACK_WITHIN_MS, `media both ways ${back} ms after the kill (bound ${BACK_WITHIN_MS} ms)`);

      for (const [peer, other, before = 0] of [
        [alice, bob, aliceBefore],
        [bob, alice, bobBefore],
      ] as const) {
        const seen = await eventually(
          `${peer.name}'s page to go through reconnecting back to joined`,
          () => statuses(peer.page),
          (changes) => {
            const lost = changes.findIndex((c) => c.status === 'reconnecting');
            return lost >= 0 && changes.slice(lost).some((c) => c.status === 'joined');
          },
        );
        const reconnecting = seen.find((c) => c.status === 'reconnecting');
        assert.equal(reconnecting?.banner, NOTICE, 'the banner says why while reconnecting');
        assert.equal(await peer.page.getAttribute('[data-testid="room"]', 'data-status'), 'joined');

        // Frames on the new session's connections only: all of them came after the kill.
        const frames = await eventually(
          `${peer.name} to decode ${other.name}'s video again`,
          () => framesSince(peer.page, before),
          (n) => n >= 10,
        );
        const width = await eventually(`${other.name}'s tile to render again`, () => tileVideoWidth(peer.page, other.name, 'camera'));
        console.log(
          `${peer.name}: ${seen.map((c) => `${c.status} +${(c.at - killedAt).toFixed(0)} ms`).join(' → ')} after the kill; ` +
            `${frames} frames of ${other.name} decoded (${width}px) ${Date.now() - killedAt} ms after it`,
        );
        assert.ok((await peerConnectionCount(peer.page)) > before, 'a new media session');
        assert.equal(await peer.page.isVisible('[data-testid="status-banner"]'), false);
        assert.equal(await peer.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
        const notices = await peer.page.$$eval('[data-testid="chat-log"] .notice', (els) => els.map((e) => e.textContent));
        assert.ok(notices.some((t) => t?.startsWith(NOTICE)), `a "${NOTICE}" notice in ${JSON.stringify(notices)}`);
        // The connection stayed up throughout.
        assert.ok(!notices.some((t) => t?.startsWith('Connection lost')), `no connection-lost notice in ${JSON.stringify(notices)}`);
      }

      // The room lives on another worker now, and the page was never reloaded.
      const now = roomWorkerPid(call.server, ROOM);
      assert.notEqual(now, killed);
      assert.equal(await alice.page.evaluate(() => (window as unknown as { __testMarker?: boolean }).__testMarker), true);

      // Bob came back muted: his microphone is published paused and turns on when he unmutes.
      assert.equal(await tileAttr(alice.page, 'Bob', 'camera', 'micOff'), 'true');
      assert.equal(await bob.page.getAttribute('[data-testid="toggle-mic"]', 'aria-pressed'), 'false');
      await bob.page.click('[data-testid="toggle-mic"]');
      const totals = await waitForMedia(alice.page, "Alice to receive Bob's audio once he unmutes", aliceBefore);
      assert.equal(await tileAttr(alice.page, 'Bob', 'camera', 'micOff'), 'false');
      console.log(`Alice after Bob unmuted: ${totals.audio.packetsReceived} audio packets of Bob`);

      // Dropping the dead media made no error noise on either page.
      const noise = call.peers().flatMap((p, i) => p.problems.slice(problemsBefore[i]));
      assert.deepEqual(noise, [], 'no console errors or warnings after the kill');
    }),
  );

  for (const reason of ['empty', 'shutdown'] as const) {
    test(
      `room:closed ${reason}: its own notice, then back in the room with media`,
      withDiagnostics(call.peers, async () => {
        const text = reason === 'empty' ? 'The room was closed — rejoining…' : 'The server is restarting — reconnecting…';
        const before = await Promise.all(call.peers().map((p) => peerConnectionCount(p.page)));
        for (const peer of call.peers()) await recordStatuses(peer.page);
        const room = call.server.noom.rooms.get(ROOM);
        assert.ok(room, 'the room is open');
        room.close(reason);
        for (const [i, peer] of call.peers().entries()) {
          const seen = await eventually(
            `${peer.name}'s page to go through reconnecting back to joined`,
            () => statuses(peer.page),
            (changes) => {
              const lost = changes.findIndex((c) => c.status === 'reconnecting');
              return lost >= 0 && changes.slice(lost).some((c) => c.status === 'joined');
            },
          );
          assert.equal(seen.find((c) => c.status === 'reconnecting')?.banner, text);
          await waitForMedia(peer.page, `${peer.name} to receive media again`, before[i]);
          assert.ok((await notices(peer.page)).some((t) => t?.startsWith(text)), `a "${text}" notice`);
          assert.equal(await peer.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
        }
      }),
    );
  }
});
