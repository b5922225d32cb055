/**
 * Last-N in the browser: a page receives and decodes only the remote videos it shows.
 * Alice's page shares a room with three bots that publish video; Cat also talks. A bot's
 * video that leaves the screen (pushed beyond the grid's video tiles by a smaller window or
 * by a pin, or in a background tab) has its consumer paused
 * on the server, which then forwards nothing to it; shown again, the consumer is resumed and
 * the tile decodes frames again. Audio plays throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { types } from 'mediasoup';
import type { Browser, Page } from 'playwright-core';
import { joinVideoBot, type VideoBot } from './bots.js';
import {
  joinByLink,
  launchBrowser,
  newPeer,
  serverConsumer,
  serverPeer,
  setPageHidden,
  startServer,
  tileFramesDecoded,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';
import { eventually } from '../support/eventually.js';

const ROOM = 'crowd';
const BOTS = ['Ann', 'Ben', 'Cat'] as const;
type BotName = (typeof BOTS)[number];
/** Room for everyone on video. */
const LARGE = { width: 1280, height: 760 };
/** Room for two video tiles of the minimum width (oneself and one other) above the name tiles. */
const SMALL = { width: 860, height: 330 };
const PHONE = { width: 390, height: 844 };

/** RTP packets the server has sent on a consumer. */
async function packetsSent(consumer: types.Consumer): Promise<number> {
  const stats = await consumer.getStats();
  return stats.reduce((n, s) => n + (s.type === 'outbound-rtp' ? s.packetCount : 0), 0);
}

/** Names on the camera tiles the page shows, in order. */
function videoTileNames(page: Page): Promise<string[]> {
  return page.$$eval('.grid .tile.person', (els) => els.map((e) => (e as HTMLElement).dataset.name ?? ''));
}

function nameTileNames(page: Page): Promise<string[]> {
  return page.$$eval('.grid [data-testid="name-tile"]', (els) => els.map((e) => (e as HTMLElement).dataset.name ?? ''));
}

describe('last-N: a page receives and decodes only the videos it shows', () => {
  let server: TestServer;
  let browser: Browser;
  let alice: Peer;
  const bots = new Map<BotName, VideoBot>();
  const peers = () => [alice];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    alice = await newPeer(browser, 'Alice');
    await joinByLink(alice, server.url, ROOM);
    for (const name of BOTS) bots.set(name, await joinVideoBot(server.url, ROOM, name, { audio: name === 'Cat' }));
  });
  after(async () => {
    for (const bot of bots.values()) await bot.close();
    await browser?.close();
    await server?.close();
  });

  const consumerOf = (name: BotName, kind: 'audio' | 'video') => {
    const bot = bots.get(name)!;
    const producerId = kind === 'video' ? bot.videoProducerId : bot.audioProducerId;
    assert.ok(producerId, `${name} publishes ${kind}`);
    return serverConsumer(server, ROOM, 'Alice', producerId);
  };
  /** Null until Alice's page has subscribed. */
  const paused = (name: BotName, kind: 'audio' | 'video' = 'video'): boolean | null => {
    try {
      return consumerOf(name, kind).paused;
    } catch {
      return null;
    }
  };

  /** The server holds Alice's consumer of the bot's video paused and forwards nothing on it for a second. */
  async function assertNotReceived(name: BotName): Promise<void> {
    await eventually(`the server to pause Alice's consumer of ${name}'s video`, () => paused(name), (p) => p === true);
    const before = await packetsSent(consumerOf(name, 'video'));
    await sleep(1000);
    const sent = (await packetsSent(consumerOf(name, 'video'))) - before;
    assert.equal(sent, 0, `the server sent ${sent} packets of ${name}'s video to Alice in 1 s`);
    assert.equal(paused(name), true, `Alice's consumer of ${name}'s video stays paused`);
  }

  /** Alice's consumer of the bot's video runs on the server and the frames decoded on its tile increase. */
  async function assertReceived(name: BotName): Promise<void> {
    await eventually(`the server to resume Alice's consumer of ${name}'s video`, () => paused(name), (p) => p === false);
    const start = await eventually(`${name}'s video tile`, () => tileFramesDecoded(alice.page, name), (f) => f !== null);
    await eventually(
      `frames decoded on ${name}'s tile`,
      () => tileFramesDecoded(alice.page, name),
      (f) => f !== null && f >= (start ?? 0) + 10,
    );
  }

  async function assertAudioFlows(name: BotName): Promise<void> {
    assert.equal(paused(name, 'audio'), false, `Alice's consumer of ${name}'s audio runs`);
    const before = await packetsSent(consumerOf(name, 'audio'));
    await eventually(`${name}'s audio to keep flowing`, () => packetsSent(consumerOf(name, 'audio')), (n) => n > before + 10);
  }

  test(
    'with room for everyone, every video is received and decoded',
    withDiagnostics(peers, async () => {
      for (const name of BOTS) await assertReceived(name);
      assert.deepEqual((await videoTileNames(alice.page)).sort(), ['Alice', ...BOTS].sort());
      assert.deepEqual(await nameTileNames(alice.page), []);
    }),
  );

  test(
    'videos pushed beyond the last N by a smaller window or a pin stop on the server and come back when shown',
    withDiagnostics(peers, async () => {
      // The server names the dominant speaker, and Alice's beeping fake microphone keeps that
      // title from Cat's steady voice. Cat is the only other person with audio: the test names
      // Cat itself, which the server's own announcements (Alice, ignored, or Cat) cannot undo.
      const cat = serverPeer(server, ROOM, 'Cat');
      serverPeer(server, ROOM, 'Alice').notify('activeSpeaker', { peerId: cat.id });
      await alice.page.setViewportSize(SMALL);
      // As the latest speaker Cat keeps the one video tile beside Alice's own.
      await eventually('Alice and Cat on video', () => videoTileNames(alice.page), (n) => n.join() === 'Alice,Cat');
      assert.deepEqual(await nameTileNames(alice.page), ['Ann', 'Ben']);
      await assertNotReceived('Ann');
      await assertNotReceived('Ben');
      await assertReceived('Cat');

      // A pin outranks the speaker: Ann takes the tile, Cat's video stops, Cat's voice does not.
      await alice.page.click('[data-testid="name-tile"][data-name="Ann"] [data-testid="pin"]');
      await eventually('Alice and Ann on video', () => videoTileNames(alice.page), (n) => n.join() === 'Alice,Ann');
      await assertReceived('Ann');
      await assertNotReceived('Cat');
      await assertAudioFlows('Cat');

      await alice.page.click('.tile.person[data-name="Ann"] [data-testid="pin"]');
      await alice.page.setViewportSize(LARGE);
      for (const name of BOTS) await assertReceived(name);
      assert.deepEqual(await nameTileNames(alice.page), []);
    }),
  );

  test(
    'videos in a background tab stop, audio plays on; on a phone the chat leaves the videos above it playing',
    withDiagnostics(peers, async () => {
      // The chat, open since the wide window, is a sheet under the grid at phone width.
      await alice.page.setViewportSize(PHONE);
      assert.ok(await alice.page.isVisible('[data-testid="chat-log"]'), 'the chat is open');
      for (const name of BOTS) await assertReceived(name);

      await alice.page.click('[data-testid="toggle-chat"]');
      for (const name of BOTS) await assertReceived(name);

      await setPageHidden(alice.page, true);
      for (const name of BOTS) await assertNotReceived(name);
      await assertAudioFlows('Cat');
      await setPageHidden(alice.page, false);
      for (const name of BOTS) await assertReceived(name);
    }),
  );
});
