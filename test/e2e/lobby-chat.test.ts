/**
 * The lobby and the chat, with three browsers: rooms and counts update live in the lobby,
 * chat travels between pages as text (never as markup), join, leave and rename notices
 * appear, a participant can change their name, locked and full rooms are explained without
 * turning the camera on, Back never returns into a room that was left, a long chat history
 * opens at its newest message, and long names fit on a phone. Saves the lobby and 3-person
 * room screenshots.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { joinBot, type Bot } from './bots.js';
import {
  capturedTracks,
  inRoom,
  inboundTotals,
  joinByLink,
  passPreJoin,
  launchBrowser,
  newPeer,
  saveScreenshot,
  startServer,
  tileVideoWidth,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';
import { eventually } from '../support/eventually.js';

const roomCount = (page: Page, roomId: string) =>
  page.evaluate((id) => document.querySelector<HTMLElement>(`.room-row[data-room-id="${id}"]`)?.dataset.count ?? null, roomId);

const chatTexts = (page: Page) =>
  page.evaluate(() => [...document.querySelectorAll('[data-testid="chat-log"] > *')].map((el) => el.textContent ?? ''));


const path = (peer: Peer) => new URL(peer.page.url()).pathname;

describe('lobby and chat', () => {
  let server: TestServer;
  let browser: Browser;
  let alice: Peer;
  let bob: Peer;
  let carol: Peer;
  const bots: Bot[] = [];
  const peers = () => [alice, bob, carol];

  before(async () => {
    // A first page of three rooms: the fourth is behind "Show more".
    server = await startServer({ env: { MAX_PEERS_PER_ROOM: '3', ROOMS_PAGE_SIZE: '3' } });
    browser = await launchBrowser();
    alice = await newPeer(browser, 'Alice');
    bob = await newPeer(browser, 'Bob');
    carol = await newPeer(browser, 'Carol');
    await carol.page.goto(server.url);
  });

  after(async () => {
    for (const bot of bots) bot.close();
    await browser?.close();
    await server?.close();
  });

  test(
    'a room created from the lobby shows up live in another lobby, with its participant count',
    withDiagnostics(peers, async () => {
      await eventually('the lobby to be live', () => carol.page.textContent('.conn'), (t) => t === 'Live');
      assert.equal(await carol.page.getAttribute('[data-testid="room-count"]', 'data-count'), '0');

      await alice.page.goto(server.url);
      await alice.page.fill('[data-testid="room-name"]', 'standup');
      await alice.page.click('[data-testid="join"]');
      await inRoom(alice);
      assert.equal(new URL(alice.page.url()).pathname, '/r/standup');
      assert.equal(await alice.page.locator('[data-testid="room-locked"]').count(), 0, 'an open room shows no lock');
      await eventually('standup to appear with 1 participant', () => roomCount(carol.page, 'standup'), (c) => c === '1');

      await bob.page.goto(server.url);
      await bob.page.click('.room-row[data-room-id="standup"]');
      await inRoom(bob);
      await eventually('standup to count 2 participants', () => roomCount(carol.page, 'standup'), (c) => c === '2');
      assert.equal(await carol.page.getAttribute('[data-testid="room-count"]', 'data-count'), '1');
      await eventually('Alice to see that Bob joined', () => chatTexts(alice.page), (t) =>
        t.some((line) => line.startsWith('Bob joined')),
      );
    }),
  );

  test(
    'a chat message from one page appears on the other',
    withDiagnostics(peers, async () => {
      await alice.page.fill('[data-testid="chat-input"]', 'Good morning, Bob!');
      await alice.page.press('[data-testid="chat-input"]', 'Enter');
      const seen = await eventually('the message to reach Bob', () =>
        bob.page.evaluate(() =>
          [...document.querySelectorAll('.msg')].map((m) => ({
            name: m.querySelector('.msg-name')?.textContent,
            text: m.querySelector('.msg-text')?.textContent,
          })),
        ),
        (msgs) => msgs.length > 0,
      );
      assert.deepEqual(seen, [{ name: 'Alice', text: 'Good morning, Bob!' }]);

      await bob.page.fill('[data-testid="chat-input"]', 'Morning! Release notes are in the doc.');
      await bob.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually('the reply to reach Alice', () => chatTexts(alice.page), (t) =>
        t.some((line) => line.includes('Release notes are in the doc.')),
      );
    }),
  );

  test(
    'a participant renames themselves: the other page, their own tile and their stored nickname follow',
    withDiagnostics(peers, async () => {
      const ownLabel = () => bob.page.textContent('.nameplate:has([data-testid="rename"]) .label');
      const nameOnAlice = (name: string) => alice.page.locator(`.tile.person[data-name="${name}"]`).count();
      const storedNickname = () => bob.page.evaluate(() => localStorage.getItem('noom.nickname'));
      const rename = async (name: string) => {
        await bob.page.click('[data-testid="rename"]');
        await bob.page.fill('[data-testid="rename-input"]', name);
        await bob.page.press('[data-testid="rename-input"]', 'Enter');
      };
      assert.equal(await ownLabel(), 'Bob (you)');
      // Only one's own tile can be renamed.
      assert.equal(await bob.page.locator('[data-testid="rename"]').count(), 1);
      assert.equal(await alice.page.locator('.tile[data-name="Bob"] [data-testid="rename"]').count(), 0);

      await bob.page.click('[data-testid="rename"]');
      await bob.page.fill('[data-testid="rename-input"]', 'Not this one');
      await bob.page.press('[data-testid="rename-input"]', 'Escape');
      assert.equal(await bob.page.isHidden('[data-testid="rename-form"]'), true);
      assert.equal(await ownLabel(), 'Bob (you)');

      // A name over 40 characters is not cut as it is typed: the field says so and refuses it.
      const tooLong = 'Robert, Keeper of the Release Notes and the Doc';
      await bob.page.click('[data-testid="rename"]');
      await bob.page.fill('[data-testid="rename-input"]', tooLong);
      await bob.page.waitForSelector('[data-testid="rename-hint"].error');
      assert.equal(await bob.page.inputValue('[data-testid="rename-input"]'), tooLong, 'nothing typed was dropped');
      await bob.page.press('[data-testid="rename-input"]', 'Enter');
      assert.equal(await bob.page.textContent('[data-testid="rename-hint"]'), 'Names can be at most 40 characters (this one has 47).');
      assert.equal(await bob.page.isVisible('[data-testid="rename-input"]'), true, 'the field stays open to fix the name');
      assert.equal(await ownLabel(), 'Bob (you)');
      assert.equal(await storedNickname(), 'Bob');

      await bob.page.fill('[data-testid="rename-input"]', '  Robert  ');
      await bob.page.press('[data-testid="rename-input"]', 'Enter');
      await eventually("Bob's new name on Alice's page", () => nameOnAlice('Robert'), (n) => n === 1);
      assert.equal(await nameOnAlice('Bob'), 0);
      await bob.page.waitForSelector('[data-testid="rename-form"]', { state: 'hidden' });
      assert.equal(await ownLabel(), 'Robert (you)');
      assert.equal(await storedNickname(), 'Robert');
      await eventually('Alice to read that Bob is now Robert', () => chatTexts(alice.page), (t) =>
        t.some((line) => line.startsWith('Bob is now Robert')),
      );
      assert.ok((await chatTexts(bob.page)).some((line) => line.startsWith('You are now Robert')));

      // Later tests know him as Bob.
      await rename('Bob');
      await eventually("Bob's name back on Alice's page", () => nameOnAlice('Bob'), (n) => n === 1);
      await eventually('Alice to read that Robert is Bob again', () => chatTexts(alice.page), (t) =>
        t.some((line) => line.startsWith('Robert is now Bob')),
      );
      // Alice may hear of the rename before Bob's own request is answered; the form closes on the answer.
      await bob.page.waitForSelector('[data-testid="rename-form"]', { state: 'hidden' });
      assert.equal(await ownLabel(), 'Bob (you)');
      assert.equal(await storedNickname(), 'Bob');
    }),
  );

  test(
    'the lobby lists locked and busy rooms (lobby screenshot)',
    withDiagnostics(peers, async () => {
      bots.push(await joinBot(server.url, { roomId: 'design-review', displayName: 'Dana', public: true }));
      bots.push(await joinBot(server.url, { roomId: 'board', displayName: 'Eve', public: true, password: 'hunter2' }));
      for (const name of ['Finn', 'Gus', 'Hal']) {
        bots.push(await joinBot(server.url, { roomId: 'full-house', displayName: name, public: true }));
      }
      await eventually(
        'four rooms listed',
        () => carol.page.getAttribute('[data-testid="room-count"]', 'data-count'),
        (c) => c === '4',
      );
      // The busiest three come first; the quietest needs "Show more", and stays after later pushes.
      assert.equal(await carol.page.locator('.room-row').count(), 3);
      assert.match((await carol.page.textContent('[data-testid="more-rooms"]')) ?? '', /1 more room/);
      await carol.page.click('[data-testid="more-rooms"]');
      await eventually('all four rooms shown', () => carol.page.locator('.room-row').count(), (n) => n === 4);
      assert.equal(await carol.page.locator('[data-testid="more-rooms"]').count(), 0);
      assert.equal(await carol.page.locator('.room-row[data-room-id="board"] .room-name svg').count(), 1, 'lock icon');
      // MAX_PEERS_PER_ROOM is 3 here: the lobby says which room is full before anyone tries it.
      assert.equal(await carol.page.getAttribute('.room-row[data-room-id="full-house"]', 'data-full'), 'true');
      assert.equal(await carol.page.textContent('.room-row[data-room-id="full-house"] .btn'), 'Full');
      assert.equal(await carol.page.getAttribute('.room-row[data-room-id="board"]', 'data-full'), 'false');
      await carol.page.fill('[data-testid="room-name"]', 'Design review');
      assert.match((await carol.page.textContent('[data-testid="room-link-preview"]')) ?? '', /\/r\/design-review$/);
      await saveScreenshot(carol.page, 'lobby.png', 'lobby.png');
    }),
  );

  test(
    'a third participant joins from the lobby and every page shows three tiles (room screenshot)',
    withDiagnostics(peers, async () => {
      await carol.page.click('.room-row[data-room-id="standup"]');
      await inRoom(carol);
      for (const [viewer, others] of [
        [alice, ['Bob', 'Carol']],
        [carol, ['Alice', 'Bob']],
      ] as const) {
        for (const other of others) {
          await eventually(`${other}'s video on ${viewer.name}'s page`, () => tileVideoWidth(viewer.page, other, 'camera'));
        }
      }
      const totals = await inboundTotals(alice.page);
      assert.equal(totals.video.streams, 2);
      assert.ok(totals.video.framesDecoded > 0);
      assert.equal(await alice.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '3');
      await alice.page.fill('[data-testid="chat-input"]', 'Carol is here too');
      await alice.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually('Carol to see the message', () => chatTexts(carol.page), (t) =>
        t.some((line) => line.includes('Carol is here too')),
      );
      // Show the muted states in the picture: Carol's camera off, Bob's microphone muted.
      await carol.page.click('[data-testid="toggle-camera"]');
      await bob.page.click('[data-testid="toggle-mic"]');
      await eventually(
        'the muted states to reach Alice',
        () => alice.page.locator('.tile[data-name="Carol"].video-off, .tile[data-name="Bob"].mic-off').count(),
        (n) => n === 2,
      );
      // Let the active-speaker highlight and the video settle for the picture.
      await alice.page.waitForTimeout(1000);
      await saveScreenshot(alice.page, 'room-3.png', 'room.png');
    }),
  );

  test(
    'chat text that looks like HTML is shown literally and runs nothing',
    withDiagnostics(peers, async () => {
      const payload = '<img src=x onerror=alert(1)>';
      await bob.page.fill('[data-testid="chat-input"]', payload);
      await bob.page.click('.chat-form button[type="submit"]');
      const texts = await eventually(
        'the message to reach Alice',
        () => alice.page.$$eval('.msg .msg-text', (els) => els.map((e) => e.textContent)),
        (t) => t.includes(payload),
      );
      assert.equal(texts.at(-1), payload);
      // Give a would-be onerror handler the time to fire.
      await alice.page.waitForTimeout(500);
      assert.equal(await alice.page.locator('[data-testid="chat-log"] img').count(), 0);
      assert.deepEqual(alice.dialogs, []);
      assert.deepEqual(bob.dialogs, []);
    }),
  );

  test(
    'leaving shows a notice to the others and updates the lobby count; Back does not return into the room',
    withDiagnostics(peers, async () => {
      await bob.page.click('[data-testid="leave"]');
      await bob.page.waitForSelector('[data-testid="lobby"]');
      assert.equal(path(bob), '/');
      assert.equal((await capturedTracks(bob.page)).live, 0, 'camera and microphone are off after leaving');
      await eventually('Alice to see that Bob left', () => chatTexts(alice.page), (t) =>
        t.some((line) => line.startsWith('Bob left')),
      );
      await eventually(
        'the tile count to drop',
        () => alice.page.locator('.tile').count(),
        (n) => n === 2,
      );
      await eventually('the lobby to count 2 in standup', () => roomCount(bob.page, 'standup'), (c) => c === '2');

      // Leaving replaced the room's history entry: Back goes to the page before the room.
      await bob.page.goBack();
      await bob.page.waitForSelector('[data-testid="lobby"]');
      assert.equal(path(bob), '/');
      assert.equal(await bob.page.locator('[data-testid="room"]').count(), 0);
    }),
  );

  test(
    'a locked room asks for its password after the pre-join screen, and says when it is wrong',
    withDiagnostics(peers, async () => {
      const dialogGone = () =>
        bob.page.waitForSelector('[data-testid="password-dialog"]', { state: 'detached', timeout: 5000 });
      const askForBoard = async () => {
        await bob.page.click('.room-row[data-room-id="board"]');
        await passPreJoin(bob.page);
        await bob.page.waitForSelector('[data-testid="password-input"]');
      };
      await askForBoard();

      // Back closes the dialog and leaves a working lobby.
      await bob.page.goBack();
      await dialogGone();
      await bob.page.waitForSelector('[data-testid="lobby"]');
      assert.equal(path(bob), '/');
      assert.equal((await capturedTracks(bob.page)).live, 0, 'giving up turns camera and microphone off');
      // Escape gives up, like Cancel.
      await askForBoard();
      await bob.page.keyboard.press('Escape');
      await dialogGone();
      await bob.page.waitForSelector('[data-testid="lobby"]');
      assert.equal(path(bob), '/');

      await askForBoard();
      await bob.page.fill('[data-testid="password-input"]', 'wrong');
      await bob.page.press('[data-testid="password-input"]', 'Enter');
      await bob.page.waitForSelector('.modal .form-error');
      assert.match((await bob.page.textContent('.modal .form-error')) ?? '', /wrong password/i);
      await bob.page.fill('[data-testid="password-input"]', 'hunter2');
      await bob.page.press('[data-testid="password-input"]', 'Enter');
      await bob.page.waitForSelector('[data-testid="room"][data-status="joined"]');
      assert.equal(await bob.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
      assert.ok(await bob.page.isVisible('[data-testid="room-locked"]'), 'the header shows the room is locked');
      // The tracks opened on the pre-join screen are the ones the room uses: no second capture.
      assert.equal((await capturedTracks(bob.page)).live, 2);
    }),
  );

  test(
    'a full room is explained',
    withDiagnostics(peers, async () => {
      await bob.page.click('[data-testid="leave"]');
      await bob.page.waitForSelector('.room-row[data-room-id="full-house"]');
      await bob.page.click('.room-row[data-room-id="full-house"]');
      await passPreJoin(bob.page);
      await bob.page.waitForSelector('[data-testid="message-screen"]');
      assert.match((await bob.page.textContent('[data-testid="message-screen"]')) ?? '', /full/i);
      assert.equal((await capturedTracks(bob.page)).live, 0, 'a refused join turns camera and microphone off');
    }),
  );

  test(
    'a long chat history opens at its newest message, and a long name does not widen the chat',
    withDiagnostics(peers, async () => {
      // A private room, so that the lobby's room count stays as the tests above expect.
      const chatty = await joinBot(server.url, { roomId: 'chatty', displayName: 'W'.repeat(40), public: false });
      bots.push(chatty);
      // Under the server's chat rate limit, and far more than the log can show at once.
      for (let i = 1; i <= 16; i++) {
        await chatty.say(`Item ${i}: ` + 'the quarterly numbers, the roadmap and the hiring plan. '.repeat(3));
      }
      await joinByLink(bob, server.url, 'chatty');
      const log = () =>
        bob.page.$eval('[data-testid="chat-log"]', (el) => ({
          top: el.scrollTop,
          gap: el.scrollHeight - el.scrollTop - el.clientHeight,
          overflow: el.scrollHeight - el.clientHeight,
          wide: el.scrollWidth - el.clientWidth,
          messages: el.querySelectorAll('.msg').length,
        }));
      const opened = await eventually('the log to show the newest message', log, (l) =>
        l.messages === 16 && l.gap <= 2,
      );
      assert.ok(opened.overflow > 500, `the history is longer than the log (${opened.overflow}px more)`);
      assert.equal(opened.wide, 0, 'no horizontal scrolling');

      // Reading further up is not interrupted by new messages.
      await bob.page.$eval('[data-testid="chat-log"]', async (el) => {
        el.scrollTo({ top: 0 });
        // The scroll event is dispatched before the next animation frame's callbacks.
        await new Promise((resolve) => requestAnimationFrame(resolve));
      });
      await chatty.say('One more thing');
      await eventually('the new message to arrive', log, (l) => l.messages === 17);
      assert.equal((await log()).top, 0);
    }),
  );

  test(
    'on a phone, a long room name neither widens the lobby nor wraps the participant count',
    withDiagnostics(peers, async () => {
      const roomId = 'retrospective'.repeat(5).slice(0, 64);
      bots.push(await joinBot(server.url, { roomId, displayName: 'Ivy', public: true }));
      await bob.page.setViewportSize({ width: 390, height: 844 });
      await bob.page.goto(server.url);
      // One of the quiet rooms: past the first page.
      await bob.page.click('[data-testid="more-rooms"]');
      await bob.page.waitForSelector(`.room-row[data-room-id="${roomId}"]`);
      const pageWidth = () => bob.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok((await pageWidth()) <= 390, `the lobby is ${await pageWidth()}px wide`);

      await bob.page.click(`.room-row[data-room-id="${roomId}"]`);
      await inRoom(bob);
      const count = () => bob.page.getAttribute('[data-testid="participant-count"]', 'data-count');
      await eventually('two participants', count, (c) => c === '2');
      assert.ok((await pageWidth()) <= 390, `the room is ${await pageWidth()}px wide`);
      const countLines = await bob.page.$eval('[data-testid="participant-count"]', (el) => {
        // One rectangle per line the text occupies.
        const range = document.createRange();
        range.selectNodeContents(el.lastChild ?? el);
        return range.getClientRects().length;
      });
      assert.equal(countLines, 1, 'the participant count stays on one line');
    }),
  );
});
