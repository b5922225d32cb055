/**
 * A call through TURN only: Noom with TURN_URLS and TURN_SECRET for a private coturn, and two
 * Chromium pages opened with `?ice=relay`, so their transports use `iceTransportPolicy:
 * 'relay'` and can reach mediasoup's ICE-lite candidates only through coturn. Each page
 * decodes the other's camera; every connection's selected candidate pair is a relayed one
 * that carried bytes; mediasoup sees every transport's media arrive from a relay port of
 * coturn's; and coturn, once the pages leave, reports the bytes it relayed for each peer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startTurnServer, type TestTurnServer } from '../support/turnServer.js';
import { eventually } from '../support/eventually.js';
import { inRoom, launchBrowser, newPeer, serverPeer, startServer, tileFramesDecoded, withDiagnostics, type Peer, type TestServer } from './harness.js';

let turn: TestTurnServer;
let server: TestServer;
let browser: Browser;
const people: Peer[] = [];

before(async () => {
  turn = await startTurnServer();
  server = await startServer({ env: turn.env });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await turn?.stop();
});

interface SelectedPair {
  localType: string;
  remoteType: string;
  bytesSent: number;
  bytesReceived: number;
}

/** The selected candidate pair of every open peer connection of the page. */
function selectedPairs(page: Page): Promise<SelectedPair[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __testPeerConnections: RTCPeerConnection[] }).__testPeerConnections;
    const pairs: SelectedPair[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.set(s.id as string, s));
      for (const s of stats.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        const pair = stats.get(s.selectedCandidatePairId as string)!;
        pairs.push({
          localType: stats.get(pair.localCandidateId as string)?.candidateType as string,
          remoteType: stats.get(pair.remoteCandidateId as string)?.candidateType as string,
          bytesSent: (pair.bytesSent as number) ?? 0,
          bytesReceived: (pair.bytesReceived as number) ?? 0,
        });
      }
    }
    return pairs;
  });
}

test(
  'two pages forced onto the relay call each other through coturn',
  withDiagnostics(() => people, async () => {
    for (const name of ['Alice', 'Bob']) {
      const peer = await newPeer(browser, name);
      people.push(peer);
      await peer.page.goto(`${server.url}/r/relayed?ice=relay`);
      await inRoom(peer);
    }
    const [alice, bob] = people as [Peer, Peer];
    for (const [viewer, other] of [[alice, bob], [bob, alice]] as const) {
      await eventually(`${other.name}'s camera on ${viewer.name}'s page`, () => tileFramesDecoded(viewer.page, other.name), (f) => (f ?? 0) >= 10, {
        timeoutMs: 30_000,
      });
    }

    for (const p of people) {
      const pairs = await selectedPairs(p.page);
      // A send and a receive connection (Chromium may briefly report one more while it renegotiates).
      assert.ok(pairs.length >= 2, `${p.name}: ${JSON.stringify(pairs)}`);
      for (const pair of pairs) {
        assert.equal(pair.localType, 'relay', `${p.name}: ${JSON.stringify(pair)}`);
        // mediasoup is ICE-lite: its own candidates are host ones, reached through the relay.
        assert.equal(pair.remoteType, 'host');
        assert.ok(pair.bytesSent > 0 && pair.bytesReceived > 0, `${p.name}: nothing flowed on ${JSON.stringify(pair)}`);
      }
    }
    const transports = people.flatMap((p) => serverPeer(server, 'relayed', p.name).transports);
    assert.equal(transports.length, 4);
    for (const transport of transports) {
      const tuple = transport.iceSelectedTuple;
      assert.ok(tuple?.remotePort !== undefined, `transport ${transport.id} has no selected tuple`);
      assert.ok(
        tuple.remotePort >= turn.relayPorts.min && tuple.remotePort <= turn.relayPorts.max,
        `transport ${transport.id} gets its media from ${tuple.remoteIp}:${tuple.remotePort}, not from a coturn relay port`,
      );
    }

    // Closing the connections ends their allocations; coturn then logs what it relayed.
    const peerIds = [...server.noom.rooms.get('relayed')!.peers.keys()];
    for (const p of people) {
      await p.page.evaluate(() => {
        for (const pc of (window as unknown as { __testPeerConnections: RTCPeerConnection[] }).__testPeerConnections) pc.close();
      });
    }
    const relayed = (peerId: string) =>
      [...turn.log().matchAll(new RegExp(`peer usage: realm=<[^>]*>, username=<\\d+:${peerId}>, rp=(\\d+), rb=(\\d+), sp=(\\d+), sb=(\\d+)`, 'g'))]
        .reduce((sum, m) => sum + Number(m[2]) + Number(m[4]), 0);
    // Media, not just the ICE checks and TURN upkeep of an allocation (a few hundred bytes).
    await eventually('coturn reports the bytes it relayed for both peers', () => peerIds.map(relayed), (bytes) => bytes.every((b) => b > 20_000), {
      timeoutMs: 15_000,
    });
    console.log(`coturn relayed ${peerIds.map(relayed).join(' and ')} bytes to and from mediasoup`);
  }),
);
