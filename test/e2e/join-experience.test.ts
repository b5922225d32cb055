/**
 * The way into a room, as a person meets it: a direct link opens the pre-join screen (name,
 * camera preview, microphone level, devices) and the server hears nothing until Join; the
 * chosen name and devices are the ones the room gets; joining with the camera off publishes
 * no video. Room names follow one rule in the lobby, in links and on the server, and the
 * page says what a name becomes before it is used; bad or long names never break a page.
 * Escape closes the room's device picker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  capturedTracks,
  inRoom,
  inboundTotals,
  launchBrowser,
  newPeer,
  passPreJoin,
  saveScreenshot,
  serverPeer,
  startServer,
  tileAttr,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';
import { eventually } from '../support/eventually.js';

const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);
const path = (page: Page) => new URL(page.url()).pathname;

describe('join experience: pre-join screen and room names', () => {
  let server: TestServer;
  let browser: Browser;
  let zoe: Peer;
  let yuri: Peer;
  const peers = () => [zoe, yuri];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    // No remembered nickname: a first-time visitor.
    zoe = await newPeer(browser, 'Zoe', { nickname: false });
    yuri = await newPeer(browser, 'Yuri');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    'a direct link shows the pre-join screen; nothing reaches the server before Join; the chosen name and devices are used',
    withDiagnostics(peers, async () => {
      const { page } = zoe;
      await page.goto(`${server.url}/r/design-review`);
      await page.waitForSelector('[data-testid="prejoin"]');
      assert.equal(await page.textContent('[data-testid="prejoin-room"]'), 'design-review');
      // A first visit: the name field is empty and has the focus, and says what empty means.
      assert.equal(await page.inputValue('[data-testid="prejoin-name"]'), '');
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'prejoin-name');
      assert.match((await page.textContent('#prejoin-name-hint')) ?? '', /random name/);

      // The camera preview plays the real capture, and the microphone meter moves.
      await eventually('the camera preview to play', () =>
        page.$eval('[data-testid="prejoin-video"]', (v: HTMLVideoElement) => v.videoWidth),
      );
      await eventually('the microphone meter to move', () =>
        page.$eval('[role="meter"]', (el) => Number(el.getAttribute('aria-valuenow'))),
      );
      const devices = await page.$$eval('[data-testid="prejoin-camera-device"] option', (els) => els.map((e) => e.textContent));
      assert.ok(devices.length >= 1 && devices.every((d) => d && d.length > 0), `camera choices: ${JSON.stringify(devices)}`);
      // Every control is labelled for screen readers.
      const unlabelled = await page.$$eval('[data-testid="prejoin"] :is(input, select, button)', (els) =>
        els.filter((el) => !(el.getAttribute('aria-label') || (el as HTMLInputElement).labels?.length || el.textContent?.trim())).length,
      );
      assert.equal(unlabelled, 0, 'unlabelled controls on the pre-join screen');

      assert.equal(server.noom.rooms.get('design-review'), undefined, 'the server knows of no room before Join');
      await saveScreenshot(page, 'prejoin.png', 'prejoin.png');

      // A name over the limit is shown, not cut, and Join waits until it is fixed.
      await page.fill('[data-testid="prejoin-name"]', 'Zoë Example of the Very Long Name Department');
      assert.match((await page.textContent('#prejoin-name-hint')) ?? '', /at most 40 characters \(this one has 44\)/);
      await page.click('[data-testid="prejoin-join"]');
      assert.equal(await page.locator('[data-testid="prejoin"]').count(), 1, 'still on the pre-join screen');
      assert.equal(server.noom.rooms.get('design-review'), undefined);

      await passPreJoin(page, { name: 'Zoë Example' });
      await page.waitForSelector('[data-testid="room"][data-status="joined"]');
      assert.equal(serverPeer(server, 'design-review', 'Zoë Example').displayName, 'Zoë Example');
      assert.equal(await page.evaluate(() => localStorage.getItem('noom.nickname')), 'Zoë Example', 'the name is remembered');
      assert.equal((await capturedTracks(page)).live, 2, 'the pre-join tracks are published, no second capture');
      assert.equal(await page.getAttribute('[data-testid="toggle-camera"]', 'aria-pressed'), 'true');
    }),
  );

  test(
    'a link typed with spaces and capitals lands in the same room; joining with the camera off sends no video',
    withDiagnostics(peers, async () => {
      const { page } = yuri;
      await page.goto(`${server.url}/r/Design%20Review`);
      await page.waitForSelector('[data-testid="prejoin"]');
      // The address bar shows the room's one link.
      assert.equal(path(page), '/r/design-review');
      assert.equal(await page.textContent('[data-testid="prejoin-room"]'), 'design-review');
      // The remembered nickname is filled in, so Join has the focus.
      assert.equal(await page.inputValue('[data-testid="prejoin-name"]'), 'Yuri');
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'prejoin-join');

      await passPreJoin(page, { camera: false });
      await page.waitForSelector('[data-testid="room"][data-status="joined"]');
      assert.equal(await page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
      assert.equal(await page.getAttribute('[data-testid="toggle-camera"]', 'aria-pressed'), 'false');
      assert.equal((await capturedTracks(page)).live, 1, 'only the microphone is open');

      // Zoë hears Yuri and sees him without video.
      const totals = await eventually("Yuri's microphone on Zoë's page", () => inboundTotals(zoe.page), (t) => t.audio.packetsReceived > 25);
      await eventually("Yuri's tile on Zoë's page without video", () => tileAttr(zoe.page, 'Yuri', 'camera', 'videoOff'), (v) => v === 'true');
      assert.equal(totals.video.streams, 0, 'no video from Yuri');
      assert.equal(totals.audio.streams, 1);
      // The choice is remembered for the next visit.
      assert.equal(await page.evaluate(() => localStorage.getItem('noom.joinWith.camera')), 'off');
    }),
  );

  test(
    'Escape closes the device picker and gives the focus back to its button',
    withDiagnostics(peers, async () => {
      const { page } = yuri;
      await page.click('[data-testid="toggle-devices"]');
      await page.waitForSelector('[data-testid="device-picker"]', { state: 'visible' });
      assert.equal(await page.getAttribute('[data-testid="toggle-devices"]', 'aria-expanded'), 'true');
      await page.keyboard.press('Escape');
      await page.waitForSelector('[data-testid="device-picker"]', { state: 'hidden' });
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'toggle-devices');
    }),
  );

  test(
    'the lobby shows what a typed room name becomes and names what cannot be used',
    withDiagnostics(peers, async () => {
      const { page } = yuri;
      await page.click('[data-testid="leave"]');
      await page.waitForSelector('[data-testid="lobby"]');
      const preview = () => page.textContent('[data-testid="room-link-preview"]');
      const cases: [typed: string, shown: RegExp][] = [
        ['Ｔｅａｍ  Sync ', /\/r\/team-sync$/],
        ['!!! ???', /remove “!” “\?”/],
        ['Team 🙂 sync', /remove “🙂”/],
        ['dеmo', /cannot mix Latin and Cyrillic/],
        ['..', /more than dots/],
        ['r'.repeat(70), /at most 64 characters \(this one has 70\)/],
      ];
      for (const [typed, shown] of cases) {
        await page.fill('[data-testid="room-name"]', typed);
        assert.match((await preview()) ?? '', shown, JSON.stringify(typed));
      }
      // Nothing typed was cut.
      assert.equal((await page.inputValue('[data-testid="room-name"]')).length, 70);
      await page.click('[data-testid="join"]');
      assert.equal(path(page), '/', 'an unusable name opens nothing');
      assert.match((await page.textContent('.form-error')) ?? '', /at most 64 characters/);

      await page.fill('[data-testid="room-name"]', 'Design Review');
      await page.click('[data-testid="join"]');
      await inRoom(yuri);
      assert.equal(path(page), '/r/design-review');
      assert.equal(await page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2', 'the same room as the link');
    }),
  );

  test(
    'a link to an unusable room name says why, and a 200-character one does not break the page',
    withDiagnostics(peers, async () => {
      const { page } = zoe;
      for (const viewport of [{ width: 1280, height: 760 }, { width: 390, height: 844 }]) {
        await page.setViewportSize(viewport);
        await page.goto(`${server.url}/r/${'x'.repeat(200)}`);
        await page.waitForSelector('[data-testid="message-screen"]');
        assert.match((await page.textContent('[data-testid="message-screen"]')) ?? '', /at most 64 characters \(this one has 200\)/);
        assert.ok((await pageWidth(page)) <= viewport.width, `the page is ${await pageWidth(page)} px wide at ${viewport.width}`);
      }
      // The longest valid name fits the pre-join screen of a phone.
      const longest = 'retrospective'.repeat(5).slice(0, 64);
      await page.goto(`${server.url}/r/${longest}`);
      await page.waitForSelector('[data-testid="prejoin"]');
      assert.equal(await page.textContent('[data-testid="prejoin-room"]'), longest);
      assert.ok((await pageWidth(page)) <= 390, `the pre-join screen is ${await pageWidth(page)} px wide`);
      await page.goto(`${server.url}/r/${encodeURIComponent('!!! ???')}`);
      await page.waitForSelector('[data-testid="message-screen"]');
      assert.match((await page.textContent('[data-testid="message-screen"]')) ?? '', /remove “!” “\?”/);
      assert.deepEqual([...server.noom.rooms.rooms.keys()], ['design-review'], 'no room was made for a bad name');
    }),
  );
});
