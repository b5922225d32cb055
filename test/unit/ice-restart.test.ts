/**
 * The ICE restart policy the browser client and the load tester's peers share: when a
 * transport is restarted, how often, and when not at all. Driven by a stand-in transport
 * whose connection state the test sets (the real ones are exercised by the blackout tests).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { IceRestarter, type IceRestartEvent, type IceRestartPolicy } from '../../protocol/iceRestart.js';

class StandInTransport extends EventEmitter {
  readonly id = 't1';
  closed = false;
  connectionState = 'connected';
  readonly applied: string[] = [];

  set(state: string): void {
    this.connectionState = state;
    this.emit('connectionstatechange', state);
  }

  async restartIce({ iceParameters }: { iceParameters: string }): Promise<void> {
    this.applied.push(iceParameters);
  }
}

const POLICY: IceRestartPolicy = { disconnectedGraceMs: 120, retryDelaysMs: [160, 240] };

/** A restarter on a stand-in transport; stopped when the test ends, whatever happens. */
function setup(t: TestContext, o: { canSignal?: () => boolean; refuse?: boolean } = {}) {
  const transport = new StandInTransport();
  const requests: number[] = [];
  const events: IceRestartEvent[] = [];
  const t0 = performance.now();
  const restarter = new IceRestarter(transport, {
    request: async () => {
      requests.push(performance.now() - t0);
      if (o.refuse) throw new Error('RATE_LIMITED');
      return `ice-${requests.length}`;
    },
    canSignal: o.canSignal ?? (() => true),
    onEvent: (e) => events.push(e),
    policy: POLICY,
  });
  t.after(() => restarter.stop());
  return { transport, requests, events, restarter };
}

test('a disconnected transport that heals within the grace is not restarted', async (t) => {
  const { transport, requests, restarter } = setup(t);
  transport.set('disconnected');
  await sleep(40);
  transport.set('connected');
  await sleep(200);
  assert.deepEqual(requests, []);
  restarter.stop();
});

test('a transport still disconnected after the grace is restarted, then again while it stays down', async (t) => {
  const { transport, requests, events, restarter } = setup(t);
  transport.set('disconnected');
  await sleep(800);
  // At ~120 ms, then 160 ms later, then every 240 ms: 120, 280, 520, 760.
  assert.ok(requests.length >= 3 && requests.length <= 5, `restarts at ${requests.map(Math.round).join(', ')} ms`);
  assert.ok(requests[0]! >= 110, 'not before the grace');
  for (let i = 1; i < requests.length; i++) assert.ok(requests[i]! - requests[i - 1]! >= 150, 'spaced by the policy');
  assert.deepEqual(transport.applied, requests.map((_, i) => `ice-${i + 1}`), 'each answer applied to the transport');
  transport.set('connected');
  const made = requests.length;
  await sleep(400);
  assert.equal(requests.length, made, 'no restart once connected');
  assert.deepEqual(events.at(-1), { type: 'recovered', transportId: 't1', restarts: made });
  restarter.stop();
});

test('a failed transport is restarted at once, but never sooner than the spacing allows', async (t) => {
  const { transport, requests, restarter } = setup(t);
  transport.set('failed');
  await sleep(30);
  assert.equal(requests.length, 1, 'at once');
  // Fails again right after the restart: the next one waits for the retry delay (160 ms).
  transport.set('failed');
  await sleep(70);
  assert.equal(requests.length, 1);
  await sleep(160);
  assert.equal(requests.length, 2);
  restarter.stop();
  await sleep(500);
  assert.equal(requests.length, 2, 'stop() ends it');
});

test('no restart is asked while signaling is down; it is once signaling is back', async (t) => {
  let up = false;
  const { transport, requests, restarter } = setup(t, { canSignal: () => up });
  transport.set('failed');
  await sleep(300);
  assert.deepEqual(requests, []);
  up = true;
  await sleep(400);
  assert.ok(requests.length >= 1);
  restarter.stop();
});

test('a refused restart is reported and tried again later; a closed transport ends it', async (t) => {
  const { transport, requests, events, restarter } = setup(t, { refuse: true });
  transport.set('failed');
  await sleep(240);
  assert.equal(requests.length, 2, 'at once, then after 160 ms');
  assert.equal(events.filter((e) => e.type === 'restartfailed').length, 2);
  assert.deepEqual(transport.applied, []);
  transport.closed = true;
  transport.set('closed');
  await sleep(500);
  assert.equal(requests.length, 2);
  restarter.stop();
});
