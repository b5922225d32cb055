/**
 * Recording in real Chromium: the host starts a recording from the room menu, every page
 * shows the "Recording" status (a page that joins later too), and it goes away for everyone
 * when the host stops it. The file itself is checked by the integration test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { joinByLink, launchBrowser, newPeer, startServer, withDiagnostics, type Peer, type TestServer } from './harness.js';

const ROOM = 'recorded';
const INDICATOR = '[data-testid="recording"][role="status"]';

describe('recording in the browser', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'noom-e2e-recordings-'));
  let server: TestServer;
  let browser: Browser;
  let host: Peer;
  let late: Peer | undefined;

  before(async () => {
    server = await startServer({ env: { RECORDINGS_DIR: dir, RECORDING_MIN_FREE_MB: '1' } });
    browser = await launchBrowser();
    host = await newPeer(browser, 'Hana');
    await joinByLink(host, server.url, ROOM);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'the host records the room and everyone, a newcomer too, sees that it is recorded',
    withDiagnostics(() => [host, late], async () => {
      await host.page.waitForSelector('[data-testid="my-role"][data-role="moderator"]');
      assert.equal(await host.page.isVisible(INDICATOR), false, 'not recorded yet');
      await host.page.click('[data-testid="room-menu"]');
      await host.page.click('[data-testid="recording-start"]');
      await host.page.waitForSelector(`${INDICATOR}:has-text("Recording")`);
      assert.equal(server.noom.recordings.activeCount, 1);

      late = await newPeer(browser, 'Lee');
      await joinByLink(late, server.url, ROOM);
      await late.page.waitForSelector(INDICATOR);
      assert.equal(await late.page.isVisible('[data-testid="room-menu"]'), false, 'a participant cannot stop it');

      await host.page.click('[data-testid="room-menu"]');
      await host.page.click('[data-testid="recording-stop"]');
      await late.page.waitForSelector(INDICATOR, { state: 'hidden' });
      await host.page.waitForSelector(INDICATOR, { state: 'hidden' });
      assert.equal(server.noom.recordings.activeCount, 0);
    }),
  );
});
