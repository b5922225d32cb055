/**
 * Dynacast seen from the publisher's browser: Alice's camera sends only the simulcast
 * layers Bob's page watches (`producer:demand` from the server), nothing while Bob's page
 * shows no video at all, and everything again once he looks. Turning the camera off and on,
 * or a screen share starting and stopping, meanwhile neither resumes the layers nor confuses
 * the camera button, and after a rejoin the new camera producer starts with every layer on
 * and follows the demand as before.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import {
  outboundVideo,
  peerConnectionCount,
  roomWorkerPid,
  serverPeer,
  setPageHidden,
  tileFramesDecoded,
  twoPersonCall,
  waitForMedia,
  withDiagnostics,
} from './harness.js';
import { eventually } from '../support/eventually.js';

const ROOM = 'dyna';
/** With the chat closed, two tiles in this window are narrower than 240 px: the smallest layer fits them. */
const SMALL = { width: 800, height: 280 };
const LARGE = { width: 1280, height: 760 };

interface CameraLayers {
  /** The camera's encodings that are switched on, e.g. "r0,r1". */
  on: string;
  /** Those that sent bytes during a second. */
  sending: string;
}

/** Alice's camera encodings: which are on, and which sent anything over one second. */
async function cameraLayers(page: Page, sincePc = 0): Promise<CameraLayers> {
  const camera = async () => (await outboundVideo(page, sincePc)).filter((s) => s.rid !== null);
  const before = await camera();
  await sleep(1000);
  const after = await camera();
  const grew = (rid: string | null, bytes: number) => bytes > (before.find((s) => s.rid === rid)?.bytesSent ?? 0);
  return {
    on: after.filter((s) => s.active).map((s) => s.rid).join(','),
    sending: after.filter((s) => grew(s.rid, s.bytesSent)).map((s) => s.rid).join(','),
  };
}

/**
 * Chromium sends two simulcast layers of the 640×360 fake camera, whatever is switched on:
 * r2 (full size) stays empty, so "every layer on" sends r0 and r1.
 */
const ALL_ON: CameraLayers = { on: 'r0,r1,r2', sending: 'r0,r1' };

describe("dynacast in the publisher's browser", () => {
  const call = twoPersonCall(ROOM, { env: { WORKERS: '2', DYNACAST_HOLD_MS: '300' } });

  async function waitForLayers(what: string, want: CameraLayers, sincePc = 0): Promise<void> {
    await eventually(what, () => cameraLayers(call.alice.page, sincePc), (l) => l.on === want.on && l.sending === want.sending, {
      timeoutMs: 20_000,
    });
  }

  /** Bob's page decodes more frames of Alice's camera tile. */
  async function bobSeesAlice(): Promise<void> {
    const start = await eventually("Alice's tile on Bob's page", () => tileFramesDecoded(call.bob.page, 'Alice'), (f) => f !== null);
    await eventually("Bob's page to decode Alice's camera", () => tileFramesDecoded(call.bob.page, 'Alice'), (f) => (f ?? 0) >= (start ?? 0) + 10);
  }

  test(
    "Alice's camera sends the layers Bob watches, none while he watches nothing, and all again when he looks",
    withDiagnostics(call.peers, async () => {
      const { alice, bob } = call;
      await waitForMedia(bob.page, "Bob to receive Alice's media");
      // Chat closed: Alice's tile fills half of Bob's window, which asks for the top layer.
      await bob.page.click('[data-testid="toggle-chat"]');
      await waitForLayers('every layer on', ALL_ON);

      await bob.page.setViewportSize(SMALL);
      await eventually(
        "Alice's tile on Bob's page to be small enough for the smallest layer",
        () => bob.page.$eval('.tile.person[data-name="Alice"]', (el) => el.clientWidth),
        (width) => width <= 240,
      );
      await waitForLayers('only the smallest layer', { on: 'r0', sending: 'r0' });

      await setPageHidden(bob.page, true);
      await waitForLayers('no layer while Bob sees no video', { on: '', sending: '' });
      // The others were not told that the camera is off: it is not.
      assert.equal(await alice.page.getAttribute('[data-testid="toggle-camera"]', 'aria-pressed'), 'true');
      const aliceOnServer = serverPeer(call.server, ROOM, 'Alice');
      assert.ok([...aliceOnServer.producers.values()].every(({ producer }) => !producer.paused), 'no producer of Alice is paused');

      // The camera switch and dynacast are separate: off and on again still sends nothing.
      await alice.page.click('[data-testid="toggle-camera"]');
      await eventually('the camera to show as off', () => alice.page.getAttribute('[data-testid="toggle-camera"]', 'aria-pressed'), (v) => v === 'false');
      await alice.page.click('[data-testid="toggle-camera"]');
      await eventually('the camera to show as on', () => alice.page.getAttribute('[data-testid="toggle-camera"]', 'aria-pressed'), (v) => v === 'true');
      assert.deepEqual(await cameraLayers(alice.page), { on: '', sending: '' });

      // A screen share renegotiates Alice's sending connection, and stopping it again: the
      // camera's layers stay off through both.
      const screenButton = () => alice.page.getAttribute('[data-testid="toggle-screen"]', 'aria-pressed');
      await alice.page.click('[data-testid="toggle-screen"]');
      await eventually('the screen share to start', screenButton, (v) => v === 'true');
      await eventually("the screen share to reach Bob's page", () => bob.page.locator('.tile.screen').count(), (n) => n === 1);
      assert.deepEqual(await cameraLayers(alice.page), { on: '', sending: '' });
      await alice.page.click('[data-testid="toggle-screen"]');
      await eventually('the screen share to stop', screenButton, (v) => v === 'false');
      await eventually("the screen share to leave Bob's page", () => bob.page.locator('.tile.screen').count(), (n) => n === 0);
      assert.deepEqual(await cameraLayers(alice.page), { on: '', sending: '' });

      await bob.page.setViewportSize(LARGE);
      await setPageHidden(bob.page, false);
      await waitForLayers('every layer on again', ALL_ON);
      await bobSeesAlice();
    }),
  );

  test(
    'after a rejoin the new camera producer sends every layer until the demand says otherwise',
    withDiagnostics(call.peers, async () => {
      const { alice, bob } = call;
      await setPageHidden(bob.page, true);
      await waitForLayers('no layer while Bob sees no video', { on: '', sending: '' });

      const before = await peerConnectionCount(alice.page);
      process.kill(roomWorkerPid(call.server, ROOM), 'SIGKILL');
      await eventually('Alice to rejoin', () => peerConnectionCount(alice.page), (n) => n > before);
      await alice.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
      // Bytes sent only add up: any at all means the fresh producer started with its layers on.
      await eventually('the new camera producer to send', () => outboundVideo(alice.page, before), (s) =>
        s.some((x) => x.rid !== null && x.bytesSent > 0),
      );
      // Bob's page, still hidden, keeps his new consumer paused: the demand stops the layers again.
      await waitForLayers('no layer on the new producer while Bob sees no video', { on: '', sending: '' }, before);

      await setPageHidden(bob.page, false);
      await waitForLayers('every layer on the new producer once Bob looks', ALL_ON, before);
      await bobSeesAlice();
    }),
  );
});
