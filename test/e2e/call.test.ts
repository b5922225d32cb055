/**
 * Two browsers in one room: camera and microphone media arrive both ways, a screen share
 * becomes an extra tile, and muting shows on the other side.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  eventually,
  inboundTotals,
  joinByLink,
  launchBrowser,
  MIN_AUDIO_PACKETS,
  MIN_FRAMES,
  newPeer,
  startServer,
  tileAttr,
  tileVideoWidth,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';

describe('a two-person call', () => {
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
    await joinByLink(alice, server.url, 'call');
    await joinByLink(bob, server.url, 'call');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    "each page decodes the other's camera and receives the other's microphone",
    withDiagnostics(peers, async () => {
      for (const [me, other] of [
        [alice, bob],
        [bob, alice],
      ] as const) {
        const totals = await eventually(
          `${me.name} to decode ${other.name}'s video and receive audio`,
          () => inboundTotals(me.page),
          (t) => t.video.framesDecoded >= MIN_FRAMES && t.audio.packetsReceived >= MIN_AUDIO_PACKETS,
        );
        const width = await eventually(`${other.name}'s tile to render on ${me.name}'s page`, () =>
          tileVideoWidth(me.page, other.name, 'camera'),
        );
        assert.ok(width > 0);
        assert.equal(totals.video.streams, 1, 'one remote camera');
        assert.equal(totals.audio.streams, 1, 'one remote microphone');
        console.log(
          `${me.name}: ${totals.video.framesDecoded} frames of ${other.name} decoded (${width}px wide), ` +
            `${totals.audio.packetsReceived} audio packets`,
        );
      }
      assert.equal(await alice.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
      // The fake microphone beeps, so the server names an active speaker: its tile lights up.
      await eventually('a speaking highlight', () => alice.page.locator('.tile.speaking').count(), (n) => n === 1);
    }),
  );

  test(
    'a screen share appears on the other page as its own tile, and goes away when stopped',
    withDiagnostics(peers, async () => {
      await alice.page.click('[data-testid="toggle-screen"]');
      const width = await eventually("Alice's screen to render on Bob's page", () =>
        tileVideoWidth(bob.page, 'Alice', 'screen'),
      );
      assert.ok(width > 0);
      assert.equal(await bob.page.locator('.tile').count(), 3, 'two people and one screen');
      assert.ok(await bob.page.locator('.grid.staged .stage .tile.screen').isVisible(), 'the screen is on the stage');
      const totals = await inboundTotals(bob.page);
      assert.equal(totals.video.streams, 2, 'camera and screen');

      await alice.page.click('[data-testid="toggle-screen"]');
      await eventually(
        "Alice's screen tile to disappear",
        () => bob.page.locator('.tile.screen').count(),
        (n) => n === 0,
      );
    }),
  );

  test(
    'turning the camera off and muting the microphone show on the other page',
    withDiagnostics(peers, async () => {
      assert.equal(await tileAttr(alice.page, 'Bob', 'camera', 'videoOff'), 'false');
      assert.equal(await tileAttr(alice.page, 'Bob', 'camera', 'micOff'), 'false');

      await bob.page.click('[data-testid="toggle-camera"]');
      await eventually(
        "Bob's camera to show as off",
        () => tileAttr(alice.page, 'Bob', 'camera', 'videoOff'),
        (v) => v === 'true',
      );
      await bob.page.click('[data-testid="toggle-mic"]');
      await eventually(
        "Bob's microphone to show as muted",
        () => tileAttr(alice.page, 'Bob', 'camera', 'micOff'),
        (v) => v === 'true',
      );
      assert.ok(await alice.page.locator('.tile[data-name="Bob"] .nameplate .muted').isVisible());

      await bob.page.click('[data-testid="toggle-camera"]');
      await bob.page.click('[data-testid="toggle-mic"]');
      await eventually(
        "Bob's camera and microphone to show as on again",
        async () => [
          await tileAttr(alice.page, 'Bob', 'camera', 'videoOff'),
          await tileAttr(alice.page, 'Bob', 'camera', 'micOff'),
        ],
        ([video, mic]) => video === 'false' && mic === 'false',
      );
      // Frames keep coming after the resume.
      const before = (await inboundTotals(alice.page)).video.framesDecoded;
      await eventually(
        "Bob's video to flow again",
        () => inboundTotals(alice.page),
        (t) => t.video.framesDecoded > before + 10,
      );
    }),
  );
});
