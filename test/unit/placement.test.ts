import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickLeastLoaded } from '../../server/src/media/WorkerPool.js';
import { RateLimiter } from '../../server/src/rooms/RateLimiter.js';

const slot = (index: number, load: number, routers: number) => ({ index, load, routers: { size: routers } });

test('placement picks the worker with the fewest peers', () => {
  assert.equal(pickLeastLoaded([slot(0, 5, 1), slot(1, 2, 3), slot(2, 4, 0)])?.index, 1);
});

test('placement breaks load ties by router count, then by index', () => {
  assert.equal(pickLeastLoaded([slot(0, 2, 2), slot(1, 2, 1), slot(2, 2, 1)])?.index, 1);
});

test('placement over no workers is undefined', () => {
  assert.equal(pickLeastLoaded([]), undefined);
});

test('rate limiter allows a burst of capacity, then refills over the window', () => {
  let now = 0;
  const rl = new RateLimiter(3, 1000, () => now);
  assert.deepEqual([rl.tryTake(), rl.tryTake(), rl.tryTake(), rl.tryTake()], [true, true, true, false]);
  assert.equal(rl.retryAfterMs(), 334, 'a third of the window refills one');
  now = 340;
  assert.equal(rl.retryAfterMs(), 0);
  assert.equal(rl.tryTake(), true);
  assert.equal(rl.tryTake(), false);
  assert.equal(rl.retryAfterMs(), 327);
});
