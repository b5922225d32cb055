/**
 * A rolling restart in the browser: two nodes of a cluster behind one address (a load
 * balancer that sends new connections to the first node whose /readyz answers 200). Alice
 * and Bob are in a call on node A; node A drains. Both pages show the notice, move to node B
 * by themselves (no reload), decode each other's camera again there, and node A's drain
 * ends early because nobody is left on it. Behind a balancer that knows only the draining
 * node, the pages' attempts to move land on it again: they keep their call there instead.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startBalancer, type Balancer } from '../support/balancer.js';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import {
  joinByLink,
  launchBrowser,
  newPeer,
  peerConnectionCount,
  startServer,
  tileFramesDecoded,
  waitForMedia,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';

let redis: TestRedis;
let a: TestServer;
let b: TestServer;
let balancer: Balancer;
let browser: Browser;
const people: Peer[] = [];

before(async () => {
  redis = await startRedis();
  a = await startServer({ env: { REDIS_URL: redis.url, NODE_ID: 'drain-a' } });
  b = await startServer({ env: { REDIS_URL: redis.url, NODE_ID: 'drain-b' } });
  await eventually('the nodes see each other', () => a.noom.cluster!.liveness.isAlive('drain-b'));
  balancer = await startBalancer([a.port, b.port]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await balancer?.close();
  await a?.close();
  await b?.close();
  await redis?.stop();
});

const chatLog = (peer: Peer) => peer.page.$$eval('[data-testid="chat-log"] > *', (els) => els.map((e) => e.textContent ?? ''));

test(
  "a draining node's callers move to the other node behind the same address, without a reload",
  withDiagnostics(() => people, async () => {
    for (const name of ['Alice', 'Bob']) {
      const peer = await newPeer(browser, name);
      people.push(peer);
      await joinByLink(peer, balancer.url, 'moving');
    }
    const [alice, bob] = people as [Peer, Peer];
    for (const [viewer, other] of [[alice, bob], [bob, alice]] as const) {
      await eventually(`${other.name}'s camera on ${viewer.name}'s page`, () => tileFramesDecoded(viewer.page, other.name), (f) => (f ?? 0) >= 10, {
        timeoutMs: 30_000,
      });
    }
    assert.equal(a.noom.rooms.get('moving')?.peerCount, 2, 'both callers start on node A');
    for (const p of people) await p.page.evaluate(() => Object.assign(window, { __sameDocument: true }));
    const pcsBefore = await Promise.all(people.map((p) => peerConnectionCount(p.page)));

    const startedAt = Date.now();
    const drained = a.noom.drain(60_000);
    for (const p of people) {
      await eventually(`the restart notice on ${p.name}'s page`, () => chatLog(p), (lines) => lines.some((l) => l.includes('The server is restarting')));
    }
    await eventually('both callers on node B', () => b.noom.rooms.get('moving')?.peerCount ?? 0, (n) => n === 2, { timeoutMs: 20_000 });
    assert.equal(await drained, 'empty', "node A's drain ends once nobody is left on it");
    const movedAfter = Date.now() - startedAt;
    for (const [i, p] of people.entries()) await waitForMedia(p.page, `media on ${p.name}'s page after the move`, pcsBefore[i]);
    for (const [viewer, other] of [[alice, bob], [bob, alice]] as const) {
      await eventually(`${other.name}'s camera on ${viewer.name}'s page after the move`, () => tileFramesDecoded(viewer.page, other.name), (f) => (f ?? 0) >= 10);
    }
    console.log(`moved to node B ${movedAfter} ms after the drain began; media back ${Date.now() - startedAt} ms after it`);
    for (const p of people) {
      assert.equal(await p.page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, `${p.name}'s page reloaded`);
      assert.equal(await p.page.getAttribute('[data-testid="room"]', 'data-status'), 'joined');
    }
  }),
);

test(
  'attempts to move that reach the draining node again leave the call where it is',
  withDiagnostics(() => people, async () => {
    // Node B only (A is still draining from the test above): every new connection reaches B,
    // draining or not, as behind a balancer that has not noticed yet.
    const stuck = await startBalancer([b.port], 60_000);
    try {
      people.splice(0);
      for (const name of ['Carol', 'Dave']) {
        const peer = await newPeer(browser, name);
        people.push(peer);
        await joinByLink(peer, stuck.url, 'staying');
      }
      const [carol, dave] = people as [Peer, Peer];
      for (const [viewer, other] of [[carol, dave], [dave, carol]] as const) {
        await eventually(`${other.name}'s camera on ${viewer.name}'s page`, () => tileFramesDecoded(viewer.page, other.name), (f) => (f ?? 0) >= 10, {
          timeoutMs: 30_000,
        });
      }
      const sockets = () => b.noom.io.engine.clientsCount;
      const before = sockets();
      const frames = await Promise.all(people.map((p, i) => tileFramesDecoded(p.page, people[1 - i]!.name)));
      const drained = b.noom.drain(8000);
      // Both pages try (another connection opens), find the node draining, and stay.
      await eventually('an attempt to move', () => sockets(), (n) => n > before, { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 5000));
      assert.equal(b.noom.rooms.get('staying')?.peerCount, 2, 'the callers left the draining node for nowhere');
      for (const [i, p] of people.entries()) {
        assert.equal(await p.page.getAttribute('[data-testid="room"]', 'data-status'), 'joined', `${p.name} lost the call`);
        const now = await tileFramesDecoded(p.page, people[1 - i]!.name);
        assert.ok((now ?? 0) > (frames[i] ?? 0) + 30, `${p.name}: video stalled during the drain (${frames[i]} → ${now})`);
      }
      assert.equal(await drained, 'timeout');
    } finally {
      await stuck.close();
    }
  }),
);
