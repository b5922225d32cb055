/**
 * Moderation in real Chromium on an open server: the room's first page hosts it. The host
 * mutes a participant's microphone from the participant's tile (the muted page is told and
 * shows its mic off, and its audio stops reaching the host), removes the participant (who
 * sees why and cannot come straight back by the link), and lets a newcomer in from the
 * waiting room; then denies one newcomer, and another gives up waiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { eventually } from '../support/eventually.js';
import {
  inboundTotals,
  joinByLink,
  launchBrowser,
  newPeer,
  passPreJoin,
  saveScreenshot,
  serverPeer,
  startServer,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';

const ROOM = 'moderated';

describe('moderation in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let host: Peer;
  let bob: Peer;
  let carol: Peer | undefined;
  let dave: Peer | undefined;
  let erin: Peer | undefined;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    host = await newPeer(browser, 'Hana');
    bob = await newPeer(browser, 'Bob');
    await joinByLink(host, server.url, ROOM);
    await joinByLink(bob, server.url, ROOM);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    'the host mutes and removes a participant and admits a newcomer from the waiting room',
    withDiagnostics(() => [host, bob, carol], async () => {
      // Roles: the first page hosts; everyone sees who the moderator is.
      await host.page.waitForSelector('[data-testid="my-role"][data-role="moderator"]');
      assert.equal(await bob.page.isVisible('[data-testid="my-role"]'), false, 'a participant has no role pill');
      await bob.page.waitForSelector('.tile[data-name="Hana"] [data-testid="role-badge"]:has-text("Moderator")');
      assert.equal(await bob.page.isVisible('[data-testid="room-menu"]'), false, 'no room menu for a participant');
      assert.equal(await bob.page.isVisible('.tile[data-name="Hana"] [data-testid="peer-menu"]'), false);

      // Bob's audio reaches the host before the mute.
      await eventually('the host to hear Bob', () => inboundTotals(host.page), (t) => t.audio.packetsReceived > 25);

      // The menu on Bob's tile, by keyboard: Enter opens it on its first item, Escape closes it.
      const menuButton = host.page.locator('.tile[data-name="Bob"] [data-testid="peer-menu"]');
      await menuButton.focus();
      await host.page.keyboard.press('Enter');
      await host.page.waitForSelector('[role="menu"] [data-testid="mute-peer"]:focus');
      await saveScreenshot(host.page, 'moderation-menu.png', 'moderator-menu.png');
      await host.page.keyboard.press('Escape');
      await host.page.waitForSelector('[role="menu"]', { state: 'detached' });
      assert.equal(await menuButton.evaluate((b) => b === document.activeElement), true, 'focus is back on the menu button');
      await host.page.keyboard.press('Enter');
      await host.page.keyboard.press('Enter');

      // Bob is told, and his page shows the mic off (he may turn it on again).
      await bob.page.waitForSelector('.toast:has-text("A moderator muted your microphone")');
      await bob.page.waitForSelector('[data-testid="toggle-mic"][aria-pressed="false"]');
      const mic = () => [...serverPeer(server, ROOM, 'Bob').producers.values()].find((p) => p.source === 'mic');
      assert.equal(mic()?.producer.paused, true, "the server paused Bob's microphone");
      await host.page.waitForSelector('.tile[data-name="Bob"][data-mic-off="true"]');
      // Bob's audio stops arriving at the host: after the packets in flight, no more come.
      await new Promise((r) => setTimeout(r, 500));
      const muted = (await inboundTotals(host.page)).audio.packetsReceived;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await inboundTotals(host.page)).audio.packetsReceived, muted, "no audio from Bob after the mute");

      // Remove Bob, after a confirmation.
      await menuButton.click();
      await host.page.click('[data-testid="remove-peer"]');
      await host.page.click('[data-testid="confirm-remove-confirm"]');
      await bob.page.waitForSelector('[data-testid="message-screen"][data-kind="kicked"]:has-text("You were removed from this room")');
      assert.equal(await bob.page.isVisible('[data-testid="room"]'), false, 'Bob is out of the room view');
      await host.page.waitForSelector('[data-testid="participant-count"][data-count="1"]');
      assert.throws(() => serverPeer(server, ROOM, 'Bob'), /nobody named "Bob"/);
      // The link does not take him straight back.
      await bob.page.goto(`${server.url}/r/${ROOM}`);
      await passPreJoin(bob.page);
      await bob.page.waitForSelector('[data-testid="message-screen"][data-kind="kicked"]:has-text("try again in")');
      assert.throws(() => serverPeer(server, ROOM, 'Bob'), /nobody named "Bob"/, 'no rejoin');

      // Waiting room: on from the room menu; a newcomer waits until the host admits her.
      await host.page.click('[data-testid="room-menu"]');
      await host.page.click('[data-testid="room-lobby"][aria-checked="false"]');
      await host.page.waitForSelector('[data-testid="waiting-button"]');
      carol = await newPeer(browser, 'Carol');
      await carol.page.goto(`${server.url}/r/${ROOM}`);
      await passPreJoin(carol.page);
      await carol.page.waitForSelector('[data-testid="waiting-screen"]:has-text("Waiting for a moderator to let you in")');
      assert.equal(server.noom.rooms.get(ROOM)?.peerCount, 1, 'a waiting newcomer is not in the room');
      await host.page.waitForSelector('[data-testid="waiting-count"]:has-text("1")');
      await host.page.click('[data-testid="waiting-button"]');
      await host.page.click('[data-testid="waiting-entry"][data-name="Carol"] [data-testid="admit"]');
      await carol.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
      await host.page.waitForSelector('[data-testid="participant-count"][data-count="2"]');
      await eventually('Carol to be a member on the server', () => server.noom.rooms.get(ROOM)?.peerCount, (n) => n === 2);
    }),
  );

  test(
    'with the waiting room still on, the host denies a newcomer, and another cancels while waiting',
    withDiagnostics(() => [host, dave, erin], async () => {
      const waitingAtServer = () => server.noom.rooms.get(ROOM)?.moderation.waitingList().map((w) => w.displayName);
      const members = server.noom.rooms.get(ROOM)?.peerCount;
      assert.equal(members, 2, 'Hana and Carol');
      if (await host.page.locator('#waiting-panel').isHidden()) await host.page.click('[data-testid="waiting-button"]');

      dave = await newPeer(browser, 'Dave');
      await dave.page.goto(`${server.url}/r/${ROOM}`);
      await passPreJoin(dave.page);
      await dave.page.waitForSelector('[data-testid="waiting-screen"]');
      await host.page.click('[data-testid="waiting-entry"][data-name="Dave"] [data-testid="deny"]');
      await dave.page.waitForSelector('[data-testid="message-screen"][data-kind="denied"]:has-text("You were not let in")');
      await host.page.waitForSelector('[data-testid="waiting-entry"][data-name="Dave"]', { state: 'detached' });
      assert.deepEqual(waitingAtServer(), []);
      assert.equal(server.noom.rooms.get(ROOM)?.peerCount, members, 'Dave did not come in');

      erin = await newPeer(browser, 'Erin');
      await erin.page.goto(`${server.url}/r/${ROOM}`);
      await passPreJoin(erin.page);
      await erin.page.waitForSelector('[data-testid="waiting-screen"]');
      await host.page.waitForSelector('[data-testid="waiting-entry"][data-name="Erin"]');
      assert.deepEqual(waitingAtServer(), ['Erin']);
      await erin.page.click('[data-testid="waiting-cancel"]');
      await erin.page.waitForSelector('[data-testid="lobby"]');
      await host.page.waitForSelector('[data-testid="waiting-entry"][data-name="Erin"]', { state: 'detached' });
      await host.page.waitForSelector('[data-testid="waiting-count"]', { state: 'hidden' });
      await eventually('the server to drop Erin from the waiting room', waitingAtServer, (w) => w?.length === 0);
      assert.equal(server.noom.rooms.get(ROOM)?.peerCount, members, 'Erin did not come in');
    }),
  );
});
