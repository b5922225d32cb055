import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNodes } from '../../scripts/cluster/plan.js';

const base = { nodes: 3, basePort: 3000, rtcPortBase: 40000, workers: 2, redisUrl: 'redis://127.0.0.1:7000' };

test('each node gets its id, its HTTP port and a block of RTC ports of its own', () => {
  const plans = planNodes(base);
  assert.deepEqual(
    plans.map((p) => p.env),
    [0, 1, 2].map((i) => ({
      NODE_ID: `node-${i + 1}`,
      REDIS_URL: 'redis://127.0.0.1:7000',
      PORT: String(3000 + i),
      WORKERS: '2',
      RTC_PORT_BASE: String(40000 + i * 1000),
      RTC_MIN_PORT: String(40100 + i * 1000),
      RTC_MAX_PORT: String(40999 + i * 1000),
    })),
  );
});

test('port 0 lets every node pick free ports; the RTC ranges stay apart', () => {
  const plans = planNodes({ ...base, basePort: 0, rtcPortBase: 0 });
  assert.ok(plans.every((p) => p.env.PORT === '0' && p.env.RTC_PORT_BASE === '0'));
  assert.deepEqual(plans.map((p) => p.env.RTC_MIN_PORT), ['40100', '41100', '42100']);
});

test('ranges that do not fit are refused', () => {
  assert.throws(() => planNodes({ ...base, nodes: 0 }), RangeError);
  assert.throws(() => planNodes({ ...base, basePort: 65535 }), /--base-port/);
  assert.throws(() => planNodes({ ...base, rtcPortBase: 64000 }), /--rtc-port-base/);
  assert.throws(() => planNodes({ ...base, workers: 101 }), /--workers/);
});
