/** The password back-off: each block after the free attempts is twice as long as the last (at most 1 h). */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { AbuseLimits } from '../../server/src/limits/AbuseLimits.js';
import { AppError } from '../../server/src/errors.js';
import { addressMatcher } from '../../server/src/limits/clientAddress.js';

const limits = () =>
  new AbuseLimits({
    joinsPerMin: 10,
    roomCreationsPerMin: 10,
    passwordAttempts: 3,
    chatPer10s: 3,
    renamesPerMin: 10,
    transportsPerMin: 10,
    producersPerMin: 10,
    consumersPerMin: 10,
    invalidPer10s: 20,
    bytesPer10s: 1024 * 1024,
    isExempt: addressMatcher(['10.0.0.0/8']),
  });

async function retryAfter(p: Promise<void>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (error) {
    assert.ok(error instanceof AppError && error.code === 'RATE_LIMITED');
    return error.details.retryAfterMs;
  }
}

test('wrong passwords: blocks of 1, 2, 4 minutes, each after the free attempts', async () => {
  mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000_000 });
  try {
    const client = limits().forClient('203.0.113.7');
    for (const minutes of [1, 2, 4]) {
      for (let i = 0; i < 3; i++) {
        assert.equal(await retryAfter(client.checkPassword('vault')), undefined);
        await client.passwordFailed('vault');
      }
      const wait = await retryAfter(client.checkPassword('vault'));
      assert.equal(wait, minutes * 60_000);
      mock.timers.tick(wait! + 1);
    }
  } finally {
    mock.timers.reset();
  }
});

test('exempt addresses are not limited; others are, per address', async () => {
  const l = limits();
  const exempt = l.forClient('10.1.2.3');
  for (let i = 0; i < 20; i++) await exempt.take('join');
  const a = l.forClient('203.0.113.8');
  for (let i = 0; i < 10; i++) await a.take('join');
  assert.ok((await retryAfter(l.forClient('203.0.113.8').take('join')))! > 0);
  assert.equal(await retryAfter(l.forClient('203.0.113.9').take('join')), undefined);
});
