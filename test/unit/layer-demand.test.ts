/** Dynacast bookkeeping: which layers of a producer anyone watches, and when to say so. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { LayerDemand } from '../../server/src/media/LayerDemand.js';

function demand(holdMs = 40) {
  const d = new LayerDemand(holdMs);
  const told: (number | null)[] = [];
  d.on('change', (_producerId, layer) => told.push(layer));
  return { d, told };
}

test('a producer nobody watches is told so, after the hold', async () => {
  const { d, told } = demand();
  d.addProducer('p', 3);
  assert.deepEqual(told, [], 'not at once');
  await sleep(80);
  assert.deepEqual(told, [null]);
  d.close();
});

test('a viewer who resumes raises the demand at once, to every layer unless it prefers fewer', async () => {
  const { d, told } = demand();
  d.addProducer('p', 3);
  await sleep(80);
  d.addViewer('p', 'c1');
  assert.deepEqual(told, [null], 'a paused consumer watches nothing');
  d.setPaused('p', 'c1', false);
  assert.deepEqual(told, [null, 2]);
  d.setLayer('p', 'c1', 0);
  assert.deepEqual(told, [null, 2], 'less is said only after the hold');
  await sleep(80);
  assert.deepEqual(told, [null, 2, 0]);
  d.close();
});

test('the highest layer among resumed viewers counts; a short dip is not said', async () => {
  const { d, told } = demand();
  d.addProducer('p', 3);
  d.addViewer('p', 'small');
  d.addViewer('p', 'large');
  d.setPaused('p', 'small', false);
  d.setLayer('p', 'small', 0);
  d.setPaused('p', 'large', false);
  d.setLayer('p', 'large', 1);
  assert.equal(d.wanted('p'), 1);
  await sleep(80);
  assert.deepEqual(told, [1]);
  // The large tile shrinks and grows back within the hold: the publisher hears nothing.
  d.setLayer('p', 'large', 0);
  await sleep(10);
  d.setLayer('p', 'large', 1);
  await sleep(80);
  assert.deepEqual(told, [1]);
  d.removeViewer('p', 'large');
  await sleep(80);
  assert.deepEqual(told, [1, 0]);
  d.setPaused('p', 'small', true);
  await sleep(80);
  assert.deepEqual(told, [1, 0, null]);
  d.close();
});

test('layers are clamped to what the producer sends; unknown ids are ignored', () => {
  const { d, told } = demand();
  d.addProducer('p', 2);
  d.addViewer('p', 'c');
  d.setPaused('p', 'c', false);
  d.setLayer('p', 'c', 9);
  assert.equal(d.wanted('p'), 1);
  d.setLayer('nope', 'c', 0);
  d.setPaused('p', 'nope', false);
  d.removeViewer('nope', 'c');
  assert.equal(d.wanted('nope'), null);
  assert.deepEqual(told, []);
  d.close();
});
