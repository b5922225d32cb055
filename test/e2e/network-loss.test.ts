/**
 * The network under a call in Chromium. The media path dies for a while (every UDP packet
 * and the media TCP port dropped inside the tests' network namespace) while signaling
 * stays up: the page restarts ICE and media comes back on the same peer connections,
 * without a rejoin. Alice's signaling goes through a proxy that can be cut: a short cut is
 * resumed (same session, media never stopped, what happened meanwhile shown afterwards);
 * one longer than the server's resume window ends in a rejoin, as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { parsePrometheusText } from '../../scripts/loadtest/prometheus.js';
import { blackoutUnavailable, startBlackout } from '../support/blackout.js';
import { eventually } from '../support/eventually.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';
import {
  inboundTotals,
  joinByLink,
  launchBrowser,
  newPeer,
  notices,
  peerConnectionCount,
  recordStatuses,
  serverPeer,
  startServer,
  statusChanges,
  tileAttr,
  waitForMedia,
  withDiagnostics,
  type Peer,
  type TestServer,
} from './harness.js';

const ROOM = 'weather';
const RESUME_WINDOW_MS = 6000;

/** Alice (signaling through `proxy`) and Bob (straight to the server), in one room. */
function proxiedCall(env: Record<string, string> = {}) {
  const state: { server?: TestServer; proxy?: TcpProxy; browser?: Browser; alice?: Peer; bob?: Peer } = {};
  before(async () => {
    state.server = await startServer({ env: { RESUME_WINDOW_MS: String(RESUME_WINDOW_MS), ...env } });
    state.proxy = await startTcpProxy(state.server.port);
    state.browser = await launchBrowser();
    state.alice = await newPeer(state.browser, 'Alice');
    state.bob = await newPeer(state.browser, 'Bob');
    await joinByLink(state.alice, `http://127.0.0.1:${state.proxy.port}`, ROOM);
    await joinByLink(state.bob, state.server.url, ROOM);
    for (const p of [state.alice, state.bob]) await waitForMedia(p.page, `${p.name} to receive media`);
  });
  after(async () => {
    await state.browser?.close();
    await state.proxy?.close();
    await state.server?.close();
  });
  return {
    get server() {
      return state.server!;
    },
    get proxy() {
      return state.proxy!;
    },
    get alice() {
      return state.alice!;
    },
    get bob() {
      return state.bob!;
    },
    peers: () => [state.alice!, state.bob!],
  };
}

/** The WebRtcServers' TCP ports: ICE over TCP is media too. */
async function mediaTcpPorts(server: TestServer): Promise<number[]> {
  const ports: number[] = [];
  for (const slot of server.noom.pool.slots) for (const tcp of (await slot.webRtcServer.dump()).tcpServers) ports.push(tcp.port);
  return ports;
}

async function iceRestartsAnswered(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return parsePrometheusText(text)
    .filter((s) => s.name === 'noom_requests_total' && s.labels.event === 'transport:restartIce' && s.labels.result === 'ok')
    .reduce((n, s) => n + s.value, 0);
}

const totals = async (peers: Peer[]) => Promise.all(peers.map((p) => inboundTotals(p.page)));

describe('the media path dies for a while', { skip: blackoutUnavailable() }, () => {
  const call = proxiedCall();

  test(
    'ICE restarts bring media back on the same connections, without a rejoin',
    (t) => withDiagnostics(call.peers, async () => {
      const peers = call.peers();
      const ids = peers.map((p) => serverPeer(call.server, ROOM, p.name).id);
      const connections = await Promise.all(peers.map((p) => peerConnectionCount(p.page)));
      for (const p of peers) await recordStatuses(p.page);
      const restartsBefore = await iceRestartsAnswered(call.server);

      const blackout = startBlackout({ tcpPorts: await mediaTcpPorts(call.server) });
      // Whatever happens, the namespace gets its UDP back for the tests that follow.
      t.after(() => blackout.end());
      // Long enough for the transports to go disconnected and be restarted while the path is still down.
      await new Promise((r) => setTimeout(r, 9000));
      const stalled = await totals(peers);
      await new Promise((r) => setTimeout(r, 3000));
      const base = await totals(peers);
      assert.deepEqual(
        base.map((t) => t.video.framesDecoded),
        stalled.map((t) => t.video.framesDecoded),
        'no video gets through the blackout',
      );
      const lasted = blackout.end();
      const endedAt = Date.now();
      for (const [i, p] of peers.entries()) {
        await eventually(
          `${p.name} to decode video and receive audio again`,
          () => inboundTotals(p.page),
          (t) => t.video.framesDecoded >= base[i]!.video.framesDecoded + 10 && t.audio.packetsReceived >= base[i]!.audio.packetsReceived + 25,
          { timeoutMs: 20_000, intervalMs: 25 },
        );
        console.log(`${p.name}: media back ${Date.now() - endedAt} ms after a ${(lasted / 1000).toFixed(1)} s blackout`);
      }
      const restarts = (await iceRestartsAnswered(call.server)) - restartsBefore;
      console.log(`${restarts} ICE restarts answered by the server`);
      assert.ok(restarts >= 4, `every transport was restarted (${restarts} restarts)`);
      // No rejoin: the same server-side peers, the same peer connections, never out of the room.
      assert.deepEqual(peers.map((p) => serverPeer(call.server, ROOM, p.name).id), ids);
      assert.deepEqual(await Promise.all(peers.map((p) => peerConnectionCount(p.page))), connections);
      for (const p of peers) {
        assert.deepEqual((await statusChanges(p.page)).map((c) => c.status), [], `${p.name}'s page stayed in the room`);
      }
    })(),
  );
});

describe('the signaling connection drops', () => {
  const call = proxiedCall();

  test(
    'a short drop resumes the session: media never stops, and what happened meanwhile shows afterwards',
    withDiagnostics(call.peers, async () => {
      const { alice, bob } = call;
      const aliceId = serverPeer(call.server, ROOM, 'Alice').id;
      const connections = await peerConnectionCount(alice.page);
      await recordStatuses(alice.page);
      call.proxy.block();
      await alice.page.waitForSelector('[data-testid="room"][data-status="reconnecting"]', { timeout: 20_000 });
      assert.equal(await alice.page.textContent('[data-testid="status-banner"]'), 'Connection lost — reconnecting…');
      // While Alice is cut off: Bob mutes his microphone, and her media keeps flowing.
      const during = await inboundTotals(alice.page);
      await bob.page.click('[data-testid="toggle-mic"]');
      await eventually('Alice to keep decoding video while cut off', () => inboundTotals(alice.page), (t) => t.video.framesDecoded >= during.video.framesDecoded + 10);
      assert.equal(await tileAttr(alice.page, 'Bob', 'camera', 'micOff'), 'false', 'Alice has not heard of it yet');

      call.proxy.unblock();
      await alice.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
      await eventually("Alice to see Bob's muted microphone", () => tileAttr(alice.page, 'Bob', 'camera', 'micOff'), (v) => v === 'true');
      assert.equal(serverPeer(call.server, ROOM, 'Alice').id, aliceId, 'the same session');
      assert.equal(await peerConnectionCount(alice.page), connections, 'the same peer connections');
      assert.deepEqual((await statusChanges(alice.page)).map((c) => c.status), ['reconnecting', 'joined']);
      const seen = await notices(alice.page);
      assert.ok(seen.some((t) => t?.startsWith('Connection restored')), JSON.stringify(seen));
      assert.ok(!seen.some((t) => t?.startsWith('Reconnected')), 'no rejoin');
      // Bob never saw her leave, and hears her still.
      assert.ok(!(await notices(bob.page)).some((t) => t?.startsWith('Alice left')));
      const bobGets = await inboundTotals(bob.page);
      await eventually("Bob to keep receiving Alice", () => inboundTotals(bob.page), (t) => t.audio.packetsReceived >= bobGets.audio.packetsReceived + 25);
      // Requests work on the new connection.
      await alice.page.fill('[data-testid="chat-input"]', 'back');
      await alice.page.press('[data-testid="chat-input"]', 'Enter');
      await eventually('chat after the resume', () => bob.page.$$eval('.msg .msg-text', (els) => els.map((e) => e.textContent)), (t) => t.includes('back'));
      await bob.page.click('[data-testid="toggle-mic"]');
    }),
  );

  test(
    'a drop longer than the resume window ends in a rejoin',
    withDiagnostics(call.peers, async () => {
      const { alice, bob } = call;
      const aliceId = serverPeer(call.server, ROOM, 'Alice').id;
      const connections = await peerConnectionCount(alice.page);
      call.proxy.block();
      await eventually('Bob to see Alice leave once the window is over', () => notices(bob.page), (n) => n.some((t) => t?.startsWith('Alice left')), {
        timeoutMs: RESUME_WINDOW_MS + 20_000,
      });
      call.proxy.unblock();
      await alice.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
      await waitForMedia(alice.page, 'Alice to receive media on a new session', connections);
      assert.notEqual(serverPeer(call.server, ROOM, 'Alice').id, aliceId, 'a new membership');
      assert.ok((await notices(alice.page)).some((t) => t?.startsWith('Reconnected')));
    }),
  );
});
