/**
 * A participant who refuses camera and microphone still joins: chat works and the others'
 * media is received; the others see them without video and muted. The toast that says why
 * leaves the chat form and the control bar uncovered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  chatMessages,
  inboundTotals,
  inRoom,
  joinByLink,
  launchBrowser,
  newPeer,
  startServer,
  tileAttr,
  tileVideoWidth,
  withDiagnostics,
  type Peer,
  type TestServer,
  waitForMedia,
} from './harness.js';
import { eventually } from '../support/eventually.js';

describe('joining without camera and microphone', () => {
  let server: TestServer;
  let browser: Browser;
  let alice: Peer;
  let shy: Peer;
  const peers = () => [alice, shy];

  before(async () => {
    server = await startServer();
    // Without the fake permission UI, a context without permissions is refused capture.
    browser = await launchBrowser({ fakeUi: false });
    alice = await newPeer(browser, 'Alice');
    shy = await newPeer(browser, 'Shy', { mediaPermission: false });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    'a peer denied capture joins receive-only, chats, and shows as muted to others',
    withDiagnostics(peers, async () => {
      await joinByLink(alice, server.url, 'receive-only');
      await shy.page.goto(`${server.url}/r/receive-only`);
      // The pre-join screen says why camera and microphone are off, before anything is sent.
      const notes = await eventually(
        'the pre-join screen to explain the blocked devices',
        () => shy.page.$$eval('[data-testid="device-notes"] li', (els) => els.map((e) => e.textContent ?? '')),
        (texts) => texts.length === 2,
      );
      assert.ok(notes.every((t) => /blocked: allow it in the browser's site settings/.test(t)), JSON.stringify(notes));
      assert.equal(await shy.page.getAttribute('[data-testid="prejoin-camera"]', 'aria-pressed'), 'false');
      assert.equal(await shy.page.getAttribute('[data-testid="prejoin-mic"]', 'aria-pressed'), 'false');
      await inRoom(shy);
      // Asking for the camera in the room is refused again, and a toast says so.
      await shy.page.click('[data-testid="toggle-camera"]');
      await eventually(
        'a toast saying why the camera is off',
        () => shy.page.$$eval('.toast', (els) => els.map((e) => e.textContent ?? '')),
        (toasts) => toasts.some((t) => /camera: permission denied/i.test(t)),
      );
      const covered = await shy.page.evaluate(() => {
        const controls = [...document.querySelectorAll('.chat-form, .controls')].map((el) =>
          el.getBoundingClientRect(),
        );
        return [...document.querySelectorAll('.toast')].some((toast) => {
          const t = toast.getBoundingClientRect();
          return controls.some((c) => t.left < c.right && c.left < t.right && t.top < c.bottom && c.top < t.bottom);
        });
      });
      assert.equal(covered, false, 'toasts leave the chat form and the control bar uncovered');

      const totals = await waitForMedia(shy.page, 'Shy to receive Alice');
      assert.ok(await eventually("Alice's tile to render for Shy", () => tileVideoWidth(shy.page, 'Alice', 'camera')));
      console.log(`receive-only peer: ${totals.video.framesDecoded} frames, ${totals.audio.packetsReceived} audio packets`);

      assert.equal(await shy.page.getAttribute('[data-testid="toggle-camera"]', 'aria-pressed'), 'false');

      await eventually(
        "Shy's tile on Alice's page",
        () => tileAttr(alice.page, 'Shy', 'camera', 'videoOff'),
        (v) => v === 'true',
      );
      assert.equal(await tileAttr(alice.page, 'Shy', 'camera', 'micOff'), 'true');
      assert.equal((await inboundTotals(alice.page)).video.streams, 0, 'nothing to receive from Shy');

      await shy.page.fill('[data-testid="chat-input"]', 'I can only listen today');
      await shy.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually('the chat to reach Alice', () => chatMessages(alice.page), (t) => t.includes('I can only listen today'));
    }),
  );

  test(
    'a chat flood is refused in one plain sentence and the refused text is kept',
    withDiagnostics(peers, async () => {
      const input = '[data-testid="chat-input"]';
      // The server allows 20 messages per 10 s. Thirty sends in one task leave together, so
      // the last ten or so are refused however slow the machine is.
      await shy.page.evaluate(() => {
        const field = document.querySelector<HTMLInputElement>('[data-testid="chat-input"]')!;
        for (let i = 0; i < 30; i++) {
          field.value = `flood ${i}`;
          field.form!.requestSubmit();
        }
      });
      const toastTexts = () => shy.page.$$eval('.toast', (els) => els.map((e) => e.textContent ?? ''));
      await eventually('the too-fast toast', toastTexts, (t) => t.some((x) => /too fast/.test(x)));
      // The first refused message comes back to the empty field; later ones leave it be.
      const kept = await eventually('a refused text back in the field', () => shy.page.inputValue(input), (v) => v !== '');
      const index = Number(/^flood (\d+)$/.exec(kept)?.[1]);
      assert.ok(index >= 19 && index <= 29, `kept ${JSON.stringify(kept)}`);
      const toasts = await toastTexts();
      assert.equal(toasts.filter((x) => /too fast/.test(x)).length, 1, `one toast for the burst: ${JSON.stringify(toasts)}`);
      assert.ok(toasts.every((x) => !/RATE_LIMITED|chat:send/.test(x)), `no protocol words: ${JSON.stringify(toasts)}`);
      assert.ok(toasts.length <= 3);
    }),
  );
});
