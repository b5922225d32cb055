import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsUrls, parsePublishers, parseUrlList, validateOptions, type LoadTestOptions } from '../../scripts/loadtest/options.js';
import { planPeers } from '../../scripts/loadtest/plan.js';

const A = 'http://127.0.0.1:3000';
const B = 'http://127.0.0.1:3001';
const C = 'http://127.0.0.1:3002';

test('one server: every peer joins through it, in the order publishers then subscribers', () => {
  const plan = planPeers({ rooms: 2, publishers: 1, subscribers: 1 }, 'x', [A]);
  assert.deepEqual(
    plan.map((p) => [p.index, p.roomId, p.role, p.url]),
    [
      [0, 'x-1', 'publisher', A],
      [1, 'x-2', 'publisher', A],
      [2, 'x-1', 'subscriber', A],
      [3, 'x-2', 'subscriber', A],
    ],
  );
});

test('one room over several nodes: peer i joins through url[i % n]', () => {
  const plan = planPeers({ rooms: 1, publishers: 2, subscribers: 3 }, 'x', [A, B, C]);
  assert.deepEqual(plan.map((p) => p.url), [A, B, C, A, B]);
});

test('every room spans the nodes and the nodes get equal shares, even as many rooms as nodes', () => {
  const plan = planPeers({ rooms: 2, publishers: 2, subscribers: 2 }, 'x', [A, B]);
  for (const room of ['x-1', 'x-2']) {
    const inRoom = plan.filter((p) => p.roomId === room);
    for (const role of ['publisher', 'subscriber'] as const) {
      assert.deepEqual(new Set(inRoom.filter((p) => p.role === role).map((p) => p.url)), new Set([A, B]), `${room} ${role}s`);
    }
  }
  assert.equal(plan.filter((p) => p.url === A).length, 4);
});

test('URLs: repeated or comma-separated, http(s) only, no node twice, one metrics URL per node', () => {
  assert.deepEqual(parseUrlList(`${A}, ${B}`), [A, B]);
  assert.throws(() => parseUrlList('ws://127.0.0.1:3000'), /--url must be http\(s\)/);
  assert.throws(() => parseUrlList(`${A},`), /invalid --url ""/);
  assert.throws(() => parseUrlList('nope', '--metrics-url'), /invalid --metrics-url "nope"/);
  const o: LoadTestOptions = { url: [A, B], rooms: 1, publishers: 1, subscribers: 1, durationSec: 1, rampPerSec: 1 };
  assert.deepEqual(metricsUrls(o), [`${A}/metrics`, `${B}/metrics`]);
  assert.throws(() => validateOptions({ ...o, url: [A, `${A}/`] }), /given twice/);
  assert.throws(() => validateOptions({ ...o, metricsUrl: `${A}/metrics` }), /one per --url/);
  validateOptions({ ...o, metricsUrl: [`${A}/m`, `${B}/m`] });
  assert.deepEqual(metricsUrls({ url: A, metricsUrl: 'http://h:9/m' }), ['http://h:9/m']);
});

test('publishers as a range: rooms take its counts in turn, and each publisher knows its turn among them', () => {
  assert.deepEqual(parsePublishers('3'), { min: 3 });
  assert.deepEqual(parsePublishers('2-4'), { min: 2, max: 4 });
  assert.throws(() => parsePublishers('4-2'), /low to high/);
  assert.throws(() => parsePublishers('two'), /invalid --publishers/);
  const plan = planPeers({ rooms: 4, publishers: 1, publishersMax: 3, subscribers: 1 }, 'x', [A]);
  const count = (room: string, role: string) => plan.filter((p) => p.roomId === room && p.role === role).length;
  assert.deepEqual(['x-1', 'x-2', 'x-3', 'x-4'].map((r) => count(r, 'publisher')), [1, 2, 3, 1]);
  assert.deepEqual(['x-1', 'x-2', 'x-3', 'x-4'].map((r) => count(r, 'subscriber')), [1, 1, 1, 1]);
  assert.deepEqual(
    plan.filter((p) => p.roomId === 'x-3').map((p) => p.publisherSlot),
    [{ slot: 0, of: 3 }, { slot: 1, of: 3 }, { slot: 2, of: 3 }, undefined],
  );
  assert.deepEqual(plan.map((p) => p.index), plan.map((_, i) => i));
});
