/**
 * The load tester's counts at 100 peers, checked against two counts it does not make: the
 * kernel's (an nftables counter on the RTP datagrams the server sends) and the server's own
 * (`noom_rtp_packets_forwarded_total` on /metrics, as the report integrates it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import { startTestServer } from '../support/server.js';
import { blackoutUnavailable } from '../support/blackout.js';
import { countRtpFrom, type RtpCounter } from '../support/rtpCount.js';
import { runLoadTest } from '../../scripts/loadtest/run.js';

/** The one worker's WebRtcServer port: every datagram the server sends to a peer leaves it. */
const MEDIA_PORT = 20_000;
const unavailable = blackoutUnavailable();

let noom: NoomServer;
let counter: RtpCounter | undefined;

before(async () => {
  noom = await startTestServer({ WORKERS: '1', RTC_PORT_BASE: String(MEDIA_PORT), WEBRTC_TCP: 'false' });
});

after(async () => {
  counter?.stop();
  await noom?.close();
});

/** The server's count of RTP packets sent to consumers so far (retransmissions excluded). */
async function forwarded(): Promise<number> {
  const text = await (await fetch(`${noom.url}/metrics`)).text();
  const m = /^noom_rtp_packets_forwarded_total (\d+)$/m.exec(text);
  assert.ok(m, 'noom_rtp_packets_forwarded_total is on /metrics');
  return Number(m[1]);
}

const within = (actual: number, reference: number, pct: number, what: string) => {
  const off = (Math.abs(actual - reference) / reference) * 100;
  assert.ok(off <= pct, `${what}: ${actual} vs ${reference} (${off.toFixed(2)} % apart, at most ${pct} % allowed)`);
};

test('100 peers: the packets the report counts agree with the kernel and /metrics within 2 %', { skip: unavailable }, async () => {
  const rtp = (counter = countRtpFrom(MEDIA_PORT));
  const forwardedBefore = await forwarded();
  let forwardedDuring: number | undefined;
  const { report } = await runLoadTest(
    {
    url: noom.url,
    rooms: 20,
    publishers: 1,
    subscribers: 4,
    durationSec: 12,
    rampPerSec: 25,
    processes: 2,
    progress: false,
    },
    // The server's media stops reaching the peers as they take their final counts: what the
    // kernel let through is then all the peers could receive, sooner or later.
    // The server's own count is read then too, while every consumer is still open (a
    // consumer's packets since the last scrape leave /metrics with it).
    {
      beforeStop: async () => {
        rtp.freeze();
        forwardedDuring = (await forwarded()) - forwardedBefore;
      },
    },
  );
  const kernel = rtp.read();

  assert.equal(report.peers.joined, 100, `failures: ${JSON.stringify(report.failureReasons)}`);
  assert.equal(report.peers.withoutSummary, 0);
  // 20 rooms × 4 subscribers × (audio + video).
  assert.equal(report.consumers.actual, 160);
  assert.ok(kernel.packets > 10_000, `the kernel counted ${kernel.packets} RTP datagrams from the server`);
  // Every packet that left the server before the freeze, and only those, could arrive. Loss
  // on the way in (a full socket buffer at the server when this machine is busy) never left
  // the server, so it is in neither count.
  within(report.totals.packetsReceived, kernel.packets, 2, 'packets the peers received vs RTP datagrams the kernel saw leave the server');
  assert.ok(forwardedDuring !== undefined);
  within(report.totals.packetsReceived, forwardedDuring, 2, 'packets the peers received vs packets /metrics says the server forwarded');
});
