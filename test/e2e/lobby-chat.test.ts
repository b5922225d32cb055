/**
 * The lobby and the chat, with three browsers: rooms and counts update live in the lobby,
 * chat travels between pages as text (never as markup), join and leave notices appear,
 * a participant can change their name, locked and full rooms are explained. Saves the
 * lobby and 3-person room screenshots.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { joinBot, type Bot } from './bots.js';
import {
  inboundTotals,
  launchBrowser,
  newPeer,
  ROOT,
  screenshotPath,
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

const inRoom = (peer: Peer) =>
  peer.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });

describe('lobby and chat', () => {
  let server: TestServer;
  let browser: Browser;
  let alice: Peer;
  let bob: Peer;
  let carol: Peer;
  const bots: Bot[] = [];
  const peers = () => [alice, bob, carol];

  before(async () => {
    server = await startServer({ env: { MAX_PEERS_PER_ROOM: '3' } });
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

      await rename('Robert, Keeper of the Release Notes and the Doc');
      await bob.page.waitForSelector('[data-testid="rename-hint"].error');
      assert.match((await bob.page.textContent('[data-testid="rename-hint"]')) ?? '', /40/);
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

      // Later tests know him as Bob.
      await rename('Bob');
      await eventually("Bob's name back on Alice's page", () => nameOnAlice('Bob'), (n) => n === 1);
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
      assert.equal(await carol.page.locator('.room-row[data-room-id="board"] .room-name svg').count(), 1, 'lock icon');
      await carol.page.fill('[data-testid="nickname"]', 'Carol');
      const path = screenshotPath('lobby.png');
      await carol.page.screenshot({ path });
      publishScreenshot(path, 'lobby.png');
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
      const path = screenshotPath('room-3.png');
      await alice.page.screenshot({ path });
      publishScreenshot(path, 'room.png');
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
    'leaving shows a notice to the others and updates the lobby count',
    withDiagnostics(peers, async () => {
      await bob.page.click('[data-testid="leave"]');
      await bob.page.waitForSelector('[data-testid="lobby"]');
      await eventually('Alice to see that Bob left', () => chatTexts(alice.page), (t) =>
        t.some((line) => line.startsWith('Bob left')),
      );
      await eventually(
        'the tile count to drop',
        () => alice.page.locator('.tile').count(),
        (n) => n === 2,
      );
      await eventually('the lobby to count 2 in standup', () => roomCount(bob.page, 'standup'), (c) => c === '2');
    }),
  );

  test(
    'a locked room asks for its password and says when it is wrong',
    withDiagnostics(peers, async () => {
      await bob.page.click('.room-row[data-room-id="board"]');
      await bob.page.waitForSelector('[data-testid="password-input"]');
      await bob.page.fill('[data-testid="password-input"]', 'wrong');
      await bob.page.press('[data-testid="password-input"]', 'Enter');
      await bob.page.waitForSelector('.modal .form-error');
      assert.match((await bob.page.textContent('.modal .form-error')) ?? '', /wrong password/i);
      await bob.page.fill('[data-testid="password-input"]', 'hunter2');
      await bob.page.press('[data-testid="password-input"]', 'Enter');
      await inRoom(bob);
      assert.equal(await bob.page.getAttribute('[data-testid="participant-count"]', 'data-count'), '2');
    }),
  );

  test(
    'a full room is explained',
    withDiagnostics(peers, async () => {
      await bob.page.click('[data-testid="leave"]');
      await bob.page.waitForSelector('.room-row[data-room-id="full-house"]');
      await bob.page.click('.room-row[data-room-id="full-house"]');
      await bob.page.waitForSelector('[data-testid="message-screen"]');
      assert.match((await bob.page.textContent('[data-testid="message-screen"]')) ?? '', /full/i);
    }),
  );
});

/**
 * Keeps the artifact; with NOOM_UPDATE_SCREENSHOTS=1 also refreshes the copy the README
 * shows (a plain test run leaves tracked files alone).
 */
function publishScreenshot(path: string, name: string): void {
  if (process.env.NOOM_UPDATE_SCREENSHOTS !== '1') return;
  const docs = join(ROOT, 'docs', 'screenshots');
  mkdirSync(docs, { recursive: true });
  copyFileSync(path, join(docs, name));
}
