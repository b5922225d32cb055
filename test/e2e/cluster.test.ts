/**
 * The browser client on a cluster of two nodes sharing a real redis-server: Alice and Carol
 * on node A, Bob on node B, in one room. Every page decodes every other participant's
 * camera (Bob's crosses the pipe between the nodes both ways), chat crosses, and node B's
 * lobby lists the room with the cluster-wide count.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../support/eventually.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import {
  chatMessages,
  joinByLink,
  launchBrowser,
  newPeer,
  startServer,
  tileFramesDecoded,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';
import type { Browser } from 'playwright-core';

describe('a room over two nodes in the browser', () => {
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let browser: Browser;
  const people: Peer[] = [];

  before(async () => {
    redis = await startRedis();
    a = await startServer({ env: { REDIS_URL: redis.url, NODE_ID: 'e2e-a' } });
    b = await startServer({ env: { REDIS_URL: redis.url, NODE_ID: 'e2e-b' } });
    browser = await launchBrowser();
    for (const [name, server] of [['Alice', a], ['Bob', b], ['Carol', a]] as const) {
      const peer = await newPeer(browser, name);
      people.push(peer);
      await joinByLink(peer, server.url, 'across').catch((error: Error) => {
        throw new Error(`${name} could not join: ${error.message}\n${peer.problems.join('\n')}`);
      });
    }
  });

  after(async () => {
    await browser?.close();
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  test(
    "every page decodes every other participant's camera, across the nodes",
    withDiagnostics(() => people, async () => {
      for (const viewer of people) {
        for (const other of people) {
          if (other === viewer) continue;
          await eventually(`${other.name}'s camera decoded on ${viewer.name}'s page`, () => tileFramesDecoded(viewer.page, other.name), (f) => (f ?? 0) >= 10, {
            timeoutMs: 30_000,
          });
        }
      }
      assert.equal(a.noom.rooms.get('across')!.media.importCount, 2, "node A imports Bob's microphone and camera once for Alice and Carol");
      assert.equal(b.noom.rooms.get('across')!.media.importCount, 4, "node B imports Alice's and Carol's producers");
    }),
  );

  test(
    "chat crosses the nodes, and node B's lobby counts everyone in the room",
    withDiagnostics(() => people, async () => {
      const [alice, bob] = people as [Peer, Peer, Peer];
      await alice.page.fill('[data-testid="chat-input"]', 'hello from node A');
      await alice.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually("Bob to read Alice's message", () => chatMessages(bob.page), (texts) => texts.includes('hello from node A'));
      const visitor = await newPeer(browser, 'Visitor');
      people.push(visitor);
      await visitor.page.goto(b.url);
      await eventually(
        'the room listed on node B with three people',
        () => visitor.page.getAttribute('.room-row[data-room-id="across"]', 'data-count').catch(() => null),
        (count) => count === '3',
      );
    }),
  );
});
