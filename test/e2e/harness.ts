/**
 * End-to-end harness: builds the client when needed, runs a real Noom server in-process,
 * and drives Debian's Chromium with fake capture devices through playwright-core.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { types } from 'mediasoup';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../config/index.js';
import { startNoom, type NoomServer } from '../../server/src/app.js';
import type { Peer as ServerPeer } from '../../server/src/rooms/Peer.js';
import { eventually } from '../support/eventually.js';
import { fakeCameraClip } from './fakeCamera.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = join(ROOT, 'artifacts', 'e2e');
const CLIENT_DIST = join(ROOT, 'client', 'dist');
const TMP = join(ROOT, '.cache', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// ---------------------------------------------------------------- client build

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds client/dist unless it is newer than every client and protocol source. */
export function ensureClientBuilt(): string {
  const index = join(CLIENT_DIST, 'index.html');
  const sources = [
    join(ROOT, 'client', 'src'),
    join(ROOT, 'client', 'index.html'),
    join(ROOT, 'client', 'vite.config.ts'),
    join(ROOT, 'protocol'),
  ];
  const fresh = existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newestMtime));
  if (!fresh) {
    const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const result = spawnSync(process.execPath, [vite, 'build', '--config', 'client/vite.config.ts', '--logLevel', 'warn'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (result.status !== 0) throw new Error(`client build failed (exit ${result.status})`);
  }
  return CLIENT_DIST;
}

// ---------------------------------------------------------------- server

export interface TestServer {
  url: string;
  port: number;
  /** The in-process server, for tests that reach into it (e.g. to kill a worker). */
  noom: NoomServer;
  close(): Promise<void>;
}

/** A real Noom server with one mediasoup worker (unless `env` says otherwise), on 127.0.0.1 only. */
export async function startServer(options: { port?: number; env?: Record<string, string> } = {}): Promise<TestServer> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: String(options.port ?? 0),
    RTC_PORT_BASE: '0',
    ANNOUNCED_IP: '127.0.0.1',
    RTC_LISTEN_IP: '127.0.0.1',
    WORKERS: '1',
    LOG_LEVEL: 'silent',
    STATIC_DIR: ensureClientBuilt(),
    // Rooms disappear from the lobby as soon as they empty, which the tests watch for.
    ROOM_GRACE_MS: '0',
    RATE_LIMIT_EXEMPT: 'loopback',
    ...options.env,
  });
  const noom = await startNoom(config);
  return {
    url: `http://127.0.0.1:${noom.port}`,
    port: noom.port,
    noom,
    close: () => noom.close(),
  };
}

/**
 * The pid of the mediasoup worker that carries the router of room `roomId`, which must sit
 * on one worker (the room is small). The only place in the e2e tests that knows how a room
 * sits on the workers.
 */
export function roomWorkerPid(server: TestServer, roomId: string): number {
  const room = server.noom.rooms.get(roomId);
  if (!room) throw new Error(`no open room "${roomId}" on the server`);
  const routers = room.media.routers;
  if (routers.length !== 1) throw new Error(`room "${roomId}" has ${routers.length} routers, not one`);
  return routers[0]!.slot.worker.pid;
}

/** The server's side of the participant named `displayName` in room `roomId`. */
export function serverPeer(server: TestServer, roomId: string, displayName: string): ServerPeer {
  const room = server.noom.rooms.get(roomId);
  if (!room) throw new Error(`no open room "${roomId}" on the server`);
  const peer = [...room.peers.values()].find((p) => p.displayName === displayName);
  if (!peer) throw new Error(`nobody named "${displayName}" in room "${roomId}"`);
  return peer;
}

/**
 * The server's consumer through which the participant named `viewer` receives the producer
 * `producerId`. The only place in the e2e tests that knows where the server keeps consumers.
 */
export function serverConsumer(server: TestServer, roomId: string, viewer: string, producerId: string): types.Consumer {
  const consumer = [...serverPeer(server, roomId, viewer).consumers.values()].find((c) => c.producerId === producerId);
  if (!consumer) throw new Error(`${viewer} has no consumer of producer ${producerId}`);
  return consumer;
}

// ---------------------------------------------------------------- browser

/**
 * One Chromium for a whole test file. With `fakeUi` (the default) every capture request is
 * granted, screen capture included; without it, contexts get exactly the permissions they
 * are created with, so a peer can be denied camera and microphone.
 */
export async function launchBrowser(options: { fakeUi?: boolean } = {}): Promise<Browser> {
  mkdirSync(TMP, { recursive: true });
  // Playwright puts the browser profile under os.tmpdir(); keep it inside the project.
  process.env.TMPDIR = TMP;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      ...(options.fakeUi === false ? [] : ['--use-fake-ui-for-media-stream']),
      `--use-file-for-fake-video-capture=${fakeCameraClip(TMP)}`,
      '--auto-select-desktop-capture-source=Entire screen',
      '--autoplay-policy=no-user-gesture-required',
      '--allow-loopback-in-peer-connection',
    ],
  });
}

export interface Peer {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Browser console errors and page errors, printed when a test fails. */
  problems: string[];
  /** Set if the page ever opened an alert/confirm/prompt dialog. */
  dialogs: string[];
}

/**
 * A browser context per participant. An init script records the page's
 * RTCPeerConnections (the app itself exposes none) so tests can read their stats, and the
 * tracks that camera and microphone capture hands out, so tests can tell when capture ran.
 */
export async function newPeer(
  browser: Browser,
  name: string,
  options: { nickname?: boolean; mediaPermission?: boolean } = {},
): Promise<Peer> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 760 },
    deviceScaleFactor: 1,
    permissions: options.mediaPermission === false ? [] : ['camera', 'microphone'],
  });
  await context.addInitScript(
    ({ nickname }) => {
      const pcs: RTCPeerConnection[] = [];
      Object.defineProperty(window, '__testPeerConnections', { value: pcs });
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config?: RTCConfiguration) {
          super(config);
          pcs.push(this);
        }
      };
      const captured: MediaStreamTrack[] = [];
      Object.defineProperty(window, '__testCapturedTracks', { value: captured });
      const devices = navigator.mediaDevices;
      if (devices?.getUserMedia) {
        const getUserMedia = devices.getUserMedia.bind(devices);
        devices.getUserMedia = async (constraints) => {
          const stream = await getUserMedia(constraints);
          captured.push(...stream.getTracks());
          return stream;
        };
      }
      if (nickname !== null && !localStorage.getItem('noom.nickname')) localStorage.setItem('noom.nickname', nickname);
    },
    { nickname: options.nickname === false ? null : name },
  );
  const page = await context.newPage();
  const peer: Peer = { name, context, page, problems: [], dialogs: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') peer.problems.push(`[${name}] ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (error) => peer.problems.push(`[${name}] pageerror: ${error.message}`));
  page.on('dialog', (dialog) => {
    peer.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return peer;
}

// ---------------------------------------------------------------- media assertions

/**
 * What counts as "media arrived": about a second of video at the clip's 15 fps and half a
 * second of 20 ms audio packets. More than a single frame, so that a stream that starts and
 * immediately stalls does not pass.
 */
const MIN_FRAMES = 10;
const MIN_AUDIO_PACKETS = 25;

export interface InboundTotals {
  video: { framesDecoded: number; packetsReceived: number; streams: number };
  audio: { packetsReceived: number; streams: number };
}

/**
 * Sums inbound-rtp stats over the page's peer connections; `sincePc` skips connections
 * created before a given count (e.g. those of a session that was torn down).
 */
export async function inboundTotals(page: Page, sincePc = 0): Promise<InboundTotals> {
  return page.evaluate(async (since) => {
    const pcs = (window as unknown as { __testPeerConnections: RTCPeerConnection[] }).__testPeerConnections.slice(since);
    const totals = {
      video: { framesDecoded: 0, packetsReceived: 0, streams: 0 },
      audio: { packetsReceived: 0, streams: 0 },
    };
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      type Inbound = { type: string; kind?: string; mid?: string; framesDecoded?: number; packetsReceived?: number };
      report.forEach((s: Inbound) => {
        // mediasoup's bandwidth probe arrives as its own "probator" stream; it carries no media.
        if (s.type !== 'inbound-rtp' || s.mid === 'probator') return;
        if (s.kind === 'video') {
          totals.video.streams++;
          totals.video.framesDecoded += s.framesDecoded ?? 0;
          totals.video.packetsReceived += s.packetsReceived ?? 0;
        } else if (s.kind === 'audio') {
          totals.audio.streams++;
          totals.audio.packetsReceived += s.packetsReceived ?? 0;
        }
      });
    }
    return totals;
  }, sincePc);
}

export interface OutboundVideo {
  /** The simulcast encoding, null for a single-encoding sender (a screen share). */
  rid: string | null;
  bytesSent: number;
  /** The encoding is switched on (RTCRtpEncodingParameters.active). */
  active: boolean;
  frameWidth: number | null;
}

/** The page's outbound video streams (one per simulcast encoding) on connections from `sincePc` on. */
export async function outboundVideo(page: Page, sincePc = 0): Promise<OutboundVideo[]> {
  return page.evaluate(async (since) => {
    const pcs = (window as unknown as { __testPeerConnections: RTCPeerConnection[] }).__testPeerConnections.slice(since);
    const streams: OutboundVideo[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      type Outbound = { type: string; kind?: string; rid?: string; bytesSent?: number; active?: boolean; frameWidth?: number };
      (await pc.getStats()).forEach((s: Outbound) => {
        if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
        streams.push({ rid: s.rid ?? null, bytesSent: s.bytesSent ?? 0, active: s.active ?? true, frameWidth: s.frameWidth ?? null });
      });
    }
    return streams.sort((a, b) => (a.rid ?? '').localeCompare(b.rid ?? ''));
  }, sincePc);
}

/**
 * Headless Chromium never hides a page, so tests announce a hidden (or visible again) page
 * the way the browser does when its tab goes to the background.
 */
export function setPageHidden(page: Page, hidden: boolean): Promise<void> {
  return page.evaluate((hide) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, value: hide ? 'hidden' : 'visible' });
    Object.defineProperty(document, 'hidden', { configurable: true, value: hide });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** Waits until `page` has received media (see MIN_FRAMES) on its connections from `sincePc` on. */
export function waitForMedia(page: Page, what: string, sincePc = 0): Promise<InboundTotals> {
  return eventually(what, () => inboundTotals(page, sincePc), (t) =>
    t.video.framesDecoded >= MIN_FRAMES && t.audio.packetsReceived >= MIN_AUDIO_PACKETS,
  );
}

/** Camera and microphone tracks the page has obtained so far, and how many are still live. */
export async function capturedTracks(page: Page): Promise<{ total: number; live: number }> {
  return page.evaluate(() => {
    const tracks = (window as unknown as { __testCapturedTracks: MediaStreamTrack[] }).__testCapturedTracks;
    return { total: tracks.length, live: tracks.filter((t) => t.readyState === 'live').length };
  });
}

export async function peerConnectionCount(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __testPeerConnections: unknown[] }).__testPeerConnections.length);
}

/**
 * Width of the video decoded in a participant's tile, 0 while nothing has been rendered.
 * A remote track that has not had a packet yet is muted, and Chromium may still give its
 * element a 2×2 placeholder frame: that counts as nothing.
 */
export async function tileVideoWidth(page: Page, displayName: string, source: 'camera' | 'screen'): Promise<number> {
  return page.evaluate(
    ({ displayName, source }) => {
      const tile = [...document.querySelectorAll<HTMLElement>('.tile')].find(
        (t) => t.dataset.name === displayName && t.dataset.source === source,
      );
      const video = tile?.querySelector('video');
      const stream = video?.srcObject;
      const track = stream instanceof MediaStream ? stream.getVideoTracks()[0] : undefined;
      if (!video || !track || track.muted) return 0;
      return video.videoWidth;
    },
    { displayName, source },
  );
}

/**
 * Video frames decoded for the track on a participant's tile, from the inbound-rtp stats of
 * the page's peer connections; null while the participant has no video tile there.
 */
export async function tileFramesDecoded(page: Page, displayName: string, source: 'camera' | 'screen' = 'camera'): Promise<number | null> {
  return page.evaluate(
    async ({ displayName, source }) => {
      const tile = [...document.querySelectorAll<HTMLElement>('.tile')].find(
        (t) => t.dataset.name === displayName && t.dataset.source === source && t.isConnected,
      );
      const stream = tile?.querySelector('video')?.srcObject;
      const track = stream instanceof MediaStream ? stream.getVideoTracks()[0] : undefined;
      if (!track) return null;
      const pcs = (window as unknown as { __testPeerConnections: RTCPeerConnection[] }).__testPeerConnections;
      let frames = 0;
      for (const pc of pcs) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((s: { type: string; trackIdentifier?: string; framesDecoded?: number }) => {
          if (s.type === 'inbound-rtp' && s.trackIdentifier === track.id) frames += s.framesDecoded ?? 0;
        });
      }
      return frames;
    },
    { displayName, source },
  );
}

export async function tileAttr(
  page: Page,
  displayName: string,
  source: 'camera' | 'screen',
  attr: string,
): Promise<string | null> {
  return page.evaluate(
    ({ displayName, source, attr }) => {
      const tile = [...document.querySelectorAll<HTMLElement>('.tile')].find(
        (t) => t.dataset.name === displayName && t.dataset.source === source,
      );
      return tile ? (tile.dataset[attr] ?? null) : null;
    },
    { displayName, source, attr },
  );
}

/** The texts of the chat messages shown on a page, oldest first. */
export function chatMessages(page: Page): Promise<(string | null)[]> {
  return page.$$eval('.msg .msg-text', (els) => els.map((e) => e.textContent));
}

export interface PreJoinOptions {
  /** Typed into the name field; by default the remembered nickname stays. */
  name?: string;
  /** Joins with the camera (or microphone) off; by default both are on. */
  camera?: boolean;
  mic?: boolean;
}

/** On the pre-join screen: sets what `options` asks for and clicks Join. */
export async function passPreJoin(page: Page, options: PreJoinOptions = {}): Promise<void> {
  await page.waitForSelector('[data-testid="prejoin"]', { timeout: 20_000 });
  if (options.name !== undefined) await page.fill('[data-testid="prejoin-name"]', options.name);
  for (const kind of ['camera', 'mic'] as const) {
    const want = options[kind];
    if (want === undefined) continue;
    const toggle = `[data-testid="prejoin-${kind}"]`;
    // A capture still starting may turn the toggle off by itself (no device): wait for it to settle first.
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('aria-pressed') !== null, toggle);
    if ((await page.getAttribute(toggle, 'aria-pressed')) !== String(want)) await page.click(toggle);
    await page.waitForSelector(`${toggle}[aria-pressed="${want}"]`);
  }
  await page.click('[data-testid="prejoin-join"]');
}

export async function inRoom(peer: Peer, options: PreJoinOptions = {}): Promise<void> {
  await passPreJoin(peer.page, options);
  await peer.page.waitForSelector('[data-testid="room"][data-status="joined"]', { timeout: 20_000 });
}

export async function joinByLink(peer: Peer, baseUrl: string, roomId: string, options: PreJoinOptions = {}): Promise<void> {
  await peer.page.goto(`${baseUrl}/r/${encodeURIComponent(roomId)}`);
  await inRoom(peer, options);
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** Saves a screenshot to artifacts/e2e/, and to docs/screenshots/ with NOOM_UPDATE_SCREENSHOTS=1. */
export async function saveScreenshot(page: Page, artifact: string, name: string): Promise<void> {
  const path = screenshotPath(artifact);
  await page.screenshot({ path });
  if (process.env.NOOM_UPDATE_SCREENSHOTS !== '1') return;
  const docs = join(ROOT, 'docs', 'screenshots');
  mkdirSync(docs, { recursive: true });
  copyFileSync(path, join(docs, name));
}

export interface StatusChange {
  status: string | undefined;
  /** The banner's text at that moment, null while it is hidden. */
  banner: string | null;
  /** Date.now() in the page (same machine, same clock as the test). */
  at: number;
}

/** Records every status the room view goes through from now on, with the banner shown; read with statusChanges(). */
export function recordStatuses(page: Page): Promise<void> {
  return page.evaluate(() => {
    const room = document.querySelector<HTMLElement>('[data-testid="room"]')!;
    const w = window as unknown as { __testStatuses?: StatusChange[] };
    const changes: StatusChange[] = [];
    w.__testStatuses = changes;
    new MutationObserver(() => {
      if (w.__testStatuses !== changes) return;
      const banner = document.querySelector<HTMLElement>('[data-testid="status-banner"]');
      const text = banner && !banner.hidden ? banner.textContent : null;
      changes.push({ status: room.dataset.status, banner: text, at: Date.now() });
    }).observe(room, { attributes: true, attributeFilter: ['data-status'] });
  });
}

export function statusChanges(page: Page): Promise<StatusChange[]> {
  return page.evaluate(() => (window as unknown as { __testStatuses: StatusChange[] }).__testStatuses);
}

/** The notices (join, leave, connection) in a page's chat, oldest first. */
export function notices(page: Page): Promise<(string | null)[]> {
  return page.$$eval('[data-testid="chat-log"] .notice', (els) => els.map((e) => e.textContent));
}

/** Runs a test body and, if it fails, prints what the pages logged. */
export function withDiagnostics(peers: () => (Peer | undefined)[], body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (error) {
      const lines = peers().flatMap((p) => p?.problems ?? []);
      if (lines.length) console.log(`browser console:\n${lines.slice(-60).join('\n')}`);
      for (const peer of peers()) {
        if (!peer || peer.page.isClosed()) continue;
        const visibility = await peer.page.evaluate(() => `${document.visibilityState}, focus ${document.hasFocus()}`);
        console.log(`${peer.name}'s page (${visibility}) tiles: ${JSON.stringify(await describeTiles(peer.page))}`);
        const chat = await peer.page.$$eval('[data-testid="chat-log"] > *', (els) => els.map((e) => e.textContent));
        console.log(`${peer.name}'s chat: ${JSON.stringify(chat)}`);
      }
      throw error;
    }
  };
}

/** The tiles on a page, for failure reports. */
export function describeTiles(page: Page): Promise<unknown[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.tile')].map((t) => {
      const video = t.querySelector('video');
      const stream = video?.srcObject instanceof MediaStream ? video.srcObject : null;
      return {
        ...t.dataset,
        videoWidth: video?.videoWidth,
        paused: video?.paused,
        readyState: video?.readyState,
        track: stream?.getVideoTracks()[0]?.readyState ?? null,
        muted: stream?.getVideoTracks()[0]?.muted ?? null,
      };
    }),
  );
}

export interface CallFixture {
  /** Replaceable, for tests that restart the server; after() closes whichever is current. */
  server: TestServer;
  readonly alice: Peer;
  readonly bob: Peer;
  readonly peers: () => Peer[];
}

/**
 * Registers before/after hooks in the enclosing describe(): a server (with `env` on top of
 * startServer's), one browser, and Alice and Bob joined to `roomId` by link. Tests read the
 * fixture's fields inside hooks or tests, once before() has run.
 */
export function twoPersonCall(roomId: string, options: { env?: Record<string, string> } = {}): CallFixture {
  const state: { server?: TestServer; browser?: Browser; alice?: Peer; bob?: Peer } = {};
  before(async () => {
    state.server = await startServer(options);
    state.browser = await launchBrowser();
    state.alice = await newPeer(state.browser, 'Alice');
    state.bob = await newPeer(state.browser, 'Bob');
    await joinByLink(state.alice, state.server.url, roomId);
    await joinByLink(state.bob, state.server.url, roomId);
  });
  after(async () => {
    await state.browser?.close();
    await state.server?.close();
  });
  return {
    get server() {
      return state.server!;
    },
    set server(next: TestServer) {
      state.server = next;
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
