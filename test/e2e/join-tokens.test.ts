/**
 * A server with AUTH_SECRET in real Chromium: invitation links carry signed join tokens
 * (`/r/<room>#token=…`). A moderator's link joins with the token's name and role, a viewer's
 * link joins receive-only with no microphone or camera controls, a link without a token is
 * told it needs an invitation; the moderator locks the room and ends the meeting for everyone
 * from the room menu.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { mintJoinToken } from '../../server/src/auth/JoinTokens.js';
import { eventually } from '../support/eventually.js';
import {
  capturedTracks,
  inRoom,
  launchBrowser,
  newPeer,
  passPreJoin,
  serverPeer,
  startServer,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';

const ROOM = 'board-meeting';
const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

describe('invitation links with join tokens', () => {
  let server: TestServer;
  let browser: Browser;
  let mona: Peer;
  let vic: Peer;
  let stranger: Peer;
  const peers = () => [mona, vic, stranger];

  const openInvitation = async (peer: Peer, role: 'moderator' | 'viewer', name: string) => {
    const token = await mintJoinToken(SECRET, { room: ROOM, name, role, ttlS: 600 });
    await peer.page.goto(`${server.url}/r/${ROOM}#token=${token}`);
    await inRoom(peer);
  };
  const menuItem = async (page: Page, item: string) => {
    await page.click('[data-testid="room-menu"]');
    await page.click(`[data-testid="${item}"]`);
  };

  before(async () => {
    server = await startServer({ env: { AUTH_SECRET: SECRET } });
    browser = await launchBrowser();
    mona = await newPeer(browser, 'Typed name');
    vic = await newPeer(browser, 'Vic');
    stranger = await newPeer(browser, 'Stranger');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    'a moderator link and a viewer link join with their roles; a link without a token is refused',
    withDiagnostics(peers, async () => {
      await openInvitation(mona, 'moderator', 'Mona');
      // The token names the person, whatever was typed on the pre-join screen.
      assert.equal(serverPeer(server, ROOM, 'Mona').displayName, 'Mona');
      await mona.page.waitForSelector('[data-testid="my-role"][data-role="moderator"]');
      assert.ok(!new URL(mona.page.url()).hash.includes('token'), 'the token leaves the address bar');

      await openInvitation(vic, 'viewer', 'Vic');
      await vic.page.waitForSelector('[data-testid="viewer-note"]', { state: 'visible' });
      for (const control of ['toggle-mic', 'toggle-camera', 'toggle-screen']) {
        assert.equal(await vic.page.isVisible(`[data-testid="${control}"]`), false, `${control} hidden for a viewer`);
      }
      await eventually('the viewer to release the devices opened before joining', () => capturedTracks(vic.page), (c) => c.live === 0);
      assert.equal(serverPeer(server, ROOM, 'Vic').producers.size, 0, 'a viewer publishes nothing');
      await mona.page.waitForSelector('.tile[data-name="Vic"] [data-testid="role-badge"]:has-text("Viewer")');

      await stranger.page.goto(`${server.url}/r/${ROOM}`);
      await passPreJoin(stranger.page);
      await stranger.page.waitForSelector('[data-testid="message-screen"]:has-text("This room needs an invitation")');
      assert.throws(() => serverPeer(server, ROOM, 'Stranger'));
    }),
  );

  test(
    'the moderator locks the room and ends the meeting for everyone from the room menu',
    withDiagnostics(peers, async () => {
      await menuItem(mona.page, 'room-lock');
      await mona.page.fill('[data-testid="lock-dialog-input"]', 'hunter2');
      await mona.page.click('[data-testid="lock-dialog-confirm"]');
      await vic.page.waitForSelector('[data-testid="room-locked"]');
      assert.equal(server.noom.rooms.get(ROOM)?.locked, true);

      await menuItem(mona.page, 'room-end');
      await mona.page.click('[data-testid="confirm-end-confirm"]');
      for (const peer of [mona, vic]) {
        await peer.page.waitForSelector('[data-testid="message-screen"]:has-text("The meeting was ended by a moderator")');
      }
      await eventually('the room to be gone', () => server.noom.rooms.get(ROOM), (room) => room === undefined);
    }),
  );
});
