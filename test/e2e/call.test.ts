/**
 * Two browsers in one room: camera and microphone media arrive both ways, a screen share
 * becomes an extra tile (the presenter sees a "you are presenting" panel instead of their
 * own screen), and muting shows on the other side.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  inboundTotals,
  twoPersonCall,
  tileAttr,
  tileVideoWidth,
  withDiagnostics,
  waitForMedia,
} from './harness.js';
import { eventually } from '../support/eventually.js';

describe('a two-person call', () => {
  const call = twoPersonCall('call');

  test(
    "each page decodes the other's camera and receives the other's microphone",
    withDiagnostics(call.peers, async () => {
      for (const [me, other] of [
        [call.alice, call.bob],
        [call.bob, call.alice],
      ] as const) {
        const totals = await waitForMedia(me.page, `${me.name} to decode ${other.name}'s video and receive audio`);
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
      assert.equal(await call.alice.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
      // The fake microphone beeps, so the server names an active speaker: its tile lights up.
      await eventually('a speaking highlight', () => call.alice.page.locator('.tile.speaking').count(), (n) => n === 1);
    }),
  );

  test(
    'a screen share appears on the other page as its own tile, and goes away when stopped from the presenter panel',
    withDiagnostics(call.peers, async () => {
      await call.alice.page.click('[data-testid="toggle-screen"]');
      const width = await eventually("Alice's screen to render on Bob's page", () =>
        tileVideoWidth(call.bob.page, 'Alice', 'screen'),
      );
      assert.ok(width > 0);
      assert.equal(await call.bob.page.locator('.tile').count(), 3, 'two people and one screen');
      assert.ok(await call.bob.page.locator('.grid.staged .stage .tile.screen').isVisible(), 'the screen is on the stage');
      // The camera tile moves to the side strip when the screen takes the stage; its video
      // resumes once the strip has laid it out.
      await eventually('camera and screen both received on Bob\'s page', () => inboundTotals(call.bob.page), (t) => t.video.streams === 2);

      // The presenter's own screen tile shows a panel, not the screen itself.
      const ownScreen = call.alice.page.locator('.tile.screen[data-name="Alice"][data-source="screen"]');
      assert.match((await ownScreen.locator('[data-testid="presenting"]').textContent()) ?? '', /You are presenting/);
      assert.equal(await ownScreen.locator('video').count(), 0);
      await ownScreen.locator('[data-testid="stop-presenting"]').click();
      await eventually(
        "Alice's screen tile to disappear",
        () => call.bob.page.locator('.tile.screen').count(),
        (n) => n === 0,
      );
      assert.equal(await call.alice.page.locator('.tile.screen').count(), 0);
      assert.equal(await call.alice.page.getAttribute('[data-testid="toggle-screen"]', 'aria-pressed'), 'false');
    }),
  );

  test(
    'turning the camera off and muting the microphone show on the other page',
    withDiagnostics(call.peers, async () => {
      assert.equal(await tileAttr(call.alice.page, 'Bob', 'camera', 'videoOff'), 'false');
      assert.equal(await tileAttr(call.alice.page, 'Bob', 'camera', 'micOff'), 'false');

      await call.bob.page.click('[data-testid="toggle-camera"]');
      await eventually(
        "Bob's camera to show as off",
        () => tileAttr(call.alice.page, 'Bob', 'camera', 'videoOff'),
        (v) => v === 'true',
      );
      await call.bob.page.click('[data-testid="toggle-mic"]');
      await eventually(
        "Bob's microphone to show as muted",
        () => tileAttr(call.alice.page, 'Bob', 'camera', 'micOff'),
        (v) => v === 'true',
      );
      assert.ok(await call.alice.page.locator('.tile[data-name="Bob"] .nameplate .muted').isVisible());

      await call.bob.page.click('[data-testid="toggle-camera"]');
      await call.bob.page.click('[data-testid="toggle-mic"]');
      await eventually(
        "Bob's camera and microphone to show as on again",
        async () => [
          await tileAttr(call.alice.page, 'Bob', 'camera', 'videoOff'),
          await tileAttr(call.alice.page, 'Bob', 'camera', 'micOff'),
        ],
        ([video, mic]) => video === 'false' && mic === 'false',
      );
      // Frames keep coming after the resume.
      const before = (await inboundTotals(call.alice.page)).video.framesDecoded;
      await eventually(
        "Bob's video to flow again",
        () => inboundTotals(call.alice.page),
        (t) => t.video.framesDecoded > before + 10,
      );
    }),
  );
});
