/**
 * `node --import tsx scripts/bench/dynacast-upstream.ts`: what dynacast saves a publisher's
 * uplink. A Chromium page publishes the e2e tests' fake camera (640×360 at 15 fps, sent as
 * the client's three simulcast encodings) to an in-process server; the script reads the
 * page's upstream video bitrate (outbound-rtp bytesSent, summed over the encodings, from
 * pc.getStats() in the page) with no viewer, with one viewer page showing the camera in a
 * small tile and then in a large one. It does so twice: with dynacast as configured by
 * default, and with DYNACAST_HOLD_MS so long that the server never asks for fewer layers
 * during the run, which is what the publisher sends without dynacast. Figures only, no
 * assertions; results also go to artifacts/bench/dynacast-upstream.json.
 *
 * The viewer page has no camera or microphone, so it needs a default route (see
 * scripts/test.sh): run it inside the same private network namespace as the tests.
 */
import type { Page } from 'playwright-core';
import { loadConfig } from '../../config/index.js';
import { joinByLink, launchBrowser, newPeer, outboundVideo, startServer } from '../../test/e2e/harness.js';
import { machineInfo } from './lib/machine.js';
import { log, sleep, writeResult } from './lib/output.js';

const ROOM = 'uplink';
/** Long enough for the demand to change (after the hold), the encoder to follow and the rate to settle. */
const SETTLE_MS = 6000;
const WINDOW_MS = 5000;
/** Alice's tile on the viewer's page: 800 × 280 with the chat closed gives about 220 px, 1920 × 1080 about 940 px. */
const VIEWS = {
  small: { width: 800, height: 280 },
  large: { width: 1920, height: 1080 },
} as const;

interface Rate {
  rid: string | null;
  kbps: number;
  active: boolean;
  frameWidth: number | null;
}

interface Phase {
  phase: string;
  /** Width of the publisher's tile on the viewer's page, CSS px. */
  tileWidth: number | null;
  totalKbps: number;
  encodings: Rate[];
}

/** The page's camera upstream over WINDOW_MS: kbit/s per encoding and in total. */
async function upstream(page: Page): Promise<Omit<Phase, 'phase' | 'tileWidth'>> {
  const camera = async () => (await outboundVideo(page)).filter((s) => s.rid !== null);
  const before = await camera();
  const t0 = Date.now();
  await sleep(WINDOW_MS);
  const after = await camera();
  const seconds = (Date.now() - t0) / 1000;
  const encodings = after.map((s) => {
    const bytes = s.bytesSent - (before.find((b) => b.rid === s.rid)?.bytesSent ?? 0);
    return { rid: s.rid, kbps: Math.round((bytes * 8) / seconds / 100) / 10, active: s.active, frameWidth: s.frameWidth };
  });
  const totalKbps = Math.round(encodings.reduce((n, e) => n + e.kbps, 0) * 10) / 10;
  return { totalKbps, encodings };
}

async function run(label: string, holdMs: number): Promise<Phase[]> {
  const server = await startServer({ env: { DYNACAST_HOLD_MS: String(holdMs) } });
  const browser = await launchBrowser({ fakeUi: false });
  const phases: Phase[] = [];
  try {
    const alice = await newPeer(browser, 'Alice');
    await joinByLink(alice, server.url, ROOM);
    await sleep(SETTLE_MS);
    phases.push({ phase: 'no viewer', tileWidth: null, ...(await upstream(alice.page)) });

    const bob = await newPeer(browser, 'Bob', { mediaPermission: false });
    await bob.page.setViewportSize(VIEWS.small);
    await joinByLink(bob, server.url, ROOM);
    // The chat opens beside the grid in a window this wide; the tile gets the whole width.
    await bob.page.click('[data-testid="toggle-chat"]');
    const tileWidth = () => bob.page.$eval('.tile.person[data-name="Alice"]', (el) => el.clientWidth).catch(() => null);
    for (const [name, viewport] of Object.entries(VIEWS)) {
      await bob.page.setViewportSize(viewport);
      await sleep(SETTLE_MS);
      phases.push({ phase: `one viewer, ${name} tile`, tileWidth: await tileWidth(), ...(await upstream(alice.page)) });
    }
  } finally {
    await browser.close();
    await server.close();
  }
  for (const p of phases) {
    const layers = p.encodings.map((e) => `${e.rid} ${e.active ? 'on' : 'off'} ${e.kbps}${e.frameWidth ? ` (${e.frameWidth} px)` : ''}`);
    log(`${label.padEnd(18)} ${p.phase.padEnd(24)} ${String(p.totalKbps).padStart(7)} kbit/s   ${layers.join(', ')}`);
  }
  return phases;
}

const defaultHold = loadConfig({}).mediasoup.dynacastHoldMs;
log(`camera upstream (kbit/s of RTP payload), ${WINDOW_MS / 1000} s windows after ${SETTLE_MS / 1000} s to settle`);
const withDynacast = await run(`dynacast (${defaultHold} ms)`, defaultHold);
const without = await run('no dynacast', 60_000);
log(
  await writeResult('dynacast-upstream', {
    machine: machineInfo(),
    windowMs: WINDOW_MS,
    settleMs: SETTLE_MS,
    dynacastHoldMs: defaultHold,
    withDynacast,
    withoutDynacast: without,
  }),
);
