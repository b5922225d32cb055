/**
 * Real WebRTC peers (werift) lose every UDP packet for a while, inside the tests' network
 * namespace, while signaling (TCP) stays up. A blackout shorter than ICE consent (30 s)
 * heals by itself; a longer one fails the transports on both sides (werift's consent expiry,
 * mediasoup's too) and media comes back by ICE restart: the same peers, transports and
 * consumers, no rejoin.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { Peer } from '../../server/src/rooms/Peer.js';
import type { IceRestartEvent } from '../../protocol/index.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { oneNodeCall } from '../support/call.js';
import { blackoutUnavailable, startBlackout } from '../support/blackout.js';
import { eventually } from '../support/eventually.js';

const unavailable = blackoutUnavailable();

describe('a UDP blackout under a call of werift peers', { skip: unavailable }, () => {
  let noom: NoomServer;
  const { peers } = oneNodeCall({}, (server) => (noom = server));

  /** Ada publishes audio and video, Bob audio; each receives the other. */
  async function call(roomId: string) {
    const ada = await SyntheticPeer.join({ url: noom.url, roomId, displayName: 'Ada', publish: { audio: true, video: true } });
    const bob = await SyntheticPeer.join({ url: noom.url, roomId, displayName: 'Bob', publish: { audio: true } });
    peers.push(ada, bob);
    await bob.waitForMedia({ consumers: 2, minPackets: 20, timeoutMs: 15_000 });
    await ada.waitForMedia({ consumers: 1, minPackets: 20, timeoutMs: 15_000 });
    const restarts: IceRestartEvent[] = [];
    const failures: string[] = [];
    for (const p of [ada, bob]) {
      p.events.on('iceRestart', (e) => restarts.push(e));
      p.events.on('failed', (e) => failures.push(e.message));
    }
    const room = noom.rooms.get(roomId)!;
    const serverPeers = new Map<string, Peer>([...room.peers]);
    return { ada, bob, restarts, failures, room, serverPeers };
  }

  /** Packets received per consumer, by kind and sender: what "media in both directions" means here. */
  function flows(ada: SyntheticPeer, bob: SyntheticPeer) {
    const sum = (p: SyntheticPeer, kind: 'audio' | 'video') =>
      p.consumerStats().filter((c) => c.kind === kind && !c.closed).reduce((n, c) => n + c.packets, 0);
    return { adaHearsBob: sum(ada, 'audio'), bobHearsAda: sum(bob, 'audio'), bobSeesAda: sum(bob, 'video') };
  }

  /** Milliseconds from `since` until every flow has moved by 10 packets or more past `base`. */
  async function mediaBack(ada: SyntheticPeer, bob: SyntheticPeer, base: ReturnType<typeof flows>, since: number, timeoutMs: number) {
    await eventually(
      'media in both directions again',
      () => flows(ada, bob),
      (now) => now.adaHearsBob >= base.adaHearsBob + 10 && now.bobHearsAda >= base.bobHearsAda + 10 && now.bobSeesAda >= base.bobSeesAda + 10,
      { timeoutMs, intervalMs: 20 },
    );
    return performance.now() - since;
  }

  test('5 s: the path heals by itself, without an ICE restart', async (t) => {
    const { ada, bob, restarts, failures } = await call('short');
    const blackout = startBlackout();
    // Whatever happens, the namespace gets its UDP back for the tests that follow.
    t.after(() => blackout.end());
    await new Promise((r) => setTimeout(r, 5000));
    const base = flows(ada, bob);
    const lasted = blackout.end();
    const back = await mediaBack(ada, bob, base, performance.now(), 10_000);
    console.log(`5 s blackout (${(lasted / 1000).toFixed(1)} s): media back ${back.toFixed(0)} ms after it ended, ${restarts.length} ICE restart events`);
    assert.deepEqual(restarts, []);
    assert.deepEqual(failures, []);
  });

  test('35 s: ICE consent expires on both sides; ICE restarts bring media back, no rejoin', async (t) => {
    const { ada, bob, restarts, failures, room, serverPeers } = await call('long');
    const transportIds = (p: SyntheticPeer) => p.consumerStats().map((c) => c.consumerId);
    const consumersBefore = [transportIds(ada), transportIds(bob)];
    const blackout = startBlackout();
    t.after(() => blackout.end());
    // The last 5 s of the blackout: nothing may arrive (the blackout is real).
    await new Promise((r) => setTimeout(r, 30_000));
    const late = flows(ada, bob);
    await new Promise((r) => setTimeout(r, 5000));
    const base = flows(ada, bob);
    assert.deepEqual(base, late, 'no media during the blackout');
    assert.ok(restarts.some((e) => e.type === 'restarted'), 'the failed transports were restarted during the blackout');
    const lasted = blackout.end();
    const endedAt = performance.now();
    const back = await mediaBack(ada, bob, base, endedAt, 30_000);
    const recovered = restarts.filter((e) => e.type === 'recovered');
    console.log(
      `35 s blackout (${(lasted / 1000).toFixed(1)} s): media in both directions ${back.toFixed(0)} ms after it ended; ` +
        `${restarts.filter((e) => e.type === 'restarted').length} ICE restarts, ${recovered.length} transports recovered`,
    );
    // No rejoin: the server holds the very same peers, and each peer the same consumers.
    assert.deepEqual(failures, []);
    assert.deepEqual([...room.peers.keys()].sort(), [ada.peerId, bob.peerId].sort());
    for (const [id, peer] of serverPeers) assert.equal(room.peers.get(id), peer, 'the same server-side peer');
    assert.deepEqual([transportIds(ada), transportIds(bob)], consumersBefore, 'the same consumers');
    assert.equal(ada.resumes + bob.resumes, 0, 'signaling never dropped');
    // Every transport (two per peer) came back through a restart.
    assert.equal(new Set(recovered.map((e) => e.transportId)).size, 4, JSON.stringify(restarts));
  });
});
