/**
 * `node --import tsx scripts/bench/big-room.ts [--window SECONDS]`: what a 50-person room
 * costs the browser. One Chromium page (the built client, the e2e tests' fake camera and
 * microphone) joins a room with 49 synthetic peers (mediasoup-client on werift replaying the
 * load tester's VP8 + Opus clip, 320×240 at 15 fps): 20 with their camera on (3 of them also
 * talking), 4 talking with their camera off, 25 with neither. The first of them also
 * receives the page's camera and microphone (and nothing else), so that the page encodes
 * for a viewer as in any real call; it runs in this process, the others (which receive
 * nothing) in one bot process. The page first joins a small call (itself and the first 3 bots), so
 * that the figures show how its cost grows from 4 people to 50. Each case runs at a desktop
 * window size (1280 × 720, the chat open beside the grid as the client opens it there) and
 * at a phone size (390 × 844, device pixel ratio 1), each in a fresh browser context.
 *
 * After the page has joined, every visible remote video decodes, and SETTLE_MS more, it
 * reads over a steady window (WINDOW_S, default 20 s):
 * - CPU of Chromium's processes from /proc/<pid>/stat (every process under the browser
 *   process, by its --type: renderer, GPU, utility services, browser), as % of one core,
 *   and the renderer's busiest threads;
 * - the page's RTP (pc.getStats()): video streams that decoded frames in the window against
 *   the room's remote video producers; per visible tile frames received and decoded per
 *   second, freezes, loss, NACKs, PLIs and decode time; frames decoded by streams on no
 *   tile (paused: 0 expected); audio streams received; the page's camera encodings;
 * - the server's side of the page's consumers (video paused / running) and the kernel's
 *   UDP receive-buffer drops in the network namespace;
 * - the main thread: CDP Performance.getMetrics deltas (TaskDuration, ScriptDuration,
 *   layout, style recalculation), long tasks (PerformanceObserver 'longtask'), the JS heap
 *   and DOM nodes;
 * - stability: how often the set of video tiles and the server's active speaker changed.
 * In the 50-person cases it saves a screenshot to artifacts/bench/room-50-<size>.png (the
 * desktop one also to docs/screenshots/room-50.png with NOOM_UPDATE_SCREENSHOTS=1). Figures
 * only, no assertions; results go to artifacts/bench/big-room.json.
 *
 * Everything listens on 127.0.0.1. Run it inside the same private network namespace as the
 * tests (see NETNS_SETUP in scripts/test.sh): `unshare -n -- bash -c "$NETNS_SETUP && node
 * --import tsx scripts/bench/big-room.ts"`. About 2.5 minutes. A watchdog ends the run after
 * WATCHDOG_MS, killing Chromium, the bot processes and the workers.
 */
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { processCpuSeconds } from './lib/procCpu.js';
import { udpReceiveBufferErrors } from './lib/udpCounters.js';
import { machineInfo } from './lib/machine.js';
import { ARTIFACTS_DIR, REPO_ROOT, log, sleep, writeResult } from './lib/output.js';
import { BotFleet } from './bots/fleet.js';
import { socketInodes, udpDropsByInode } from '../loadtest/socketDrops.js';
import { prepareMedia, SyntheticPeer } from '../loadtest/peer/index.js';
import { joinByLink, launchBrowser, newPeer, startServer, type Peer, type TestServer } from '../../test/e2e/harness.js';

const ROOM = 'all-hands';
const PAGE_NAME = 'Alice';
const WINDOW_S = Number(process.argv[process.argv.indexOf('--window') + 1]) || 20;
/** After the page shows video on its tiles: bitrate estimation, layer choice and JIT settle. */
const SETTLE_MS = 8000;
/** How long a page may take to show video on every visible tile before the window starts anyway. */
const TILES_TIMEOUT_MS = 30_000;
const WATCHDOG_MS = 10 * 60_000;
/** A page.evaluate or CDP call that takes longer has wedged the page. */
const CALL_TIMEOUT_MS = 15_000;

const VIEWPORTS = {
  desktop: { width: 1280, height: 720 },
  phone: { width: 390, height: 844 },
} as const;
type ViewportName = keyof typeof VIEWPORTS;

/** Who the 49 bots are: the small call's 3 first, then the rest of the room. */
const SMALL_CALL = 3;
const CAMERAS = 20;
const TALKING_CAMERAS = 3;
const TALKING_NO_CAMERA = 4;
const BOTS = 49;
const FIRST = [
  'Ann', 'Ben', 'Cat', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kai', 'Lea', 'Max', 'Nia', 'Omar',
  'Pia', 'Quinn', 'Rae', 'Sam', 'Tom', 'Uma', 'Vic', 'Wes', 'Xin', 'Yara', 'Zoe', 'Abe', 'Bea', 'Cyd', 'Dot',
  'Ed', 'Flo', 'Gil', 'Hal', 'Ida', 'Jo', 'Kit', 'Lou', 'Mo', 'Ned', 'Ola', 'Pat', 'Ray', 'Sid', 'Ted', 'Una',
  'Val', 'Wyn', 'Yves',
];
const LAST = ['Lee', 'Ortiz', 'Novak', 'Sato', 'Berg', 'Khan', 'Moreau', 'Silva', 'Weber', 'Park', 'Rossi'];

interface BotSpec {
  name: string;
  audio: boolean;
  video: boolean;
  consume: boolean;
}

const bots: BotSpec[] = FIRST.slice(0, BOTS).map((first, i) => ({
  name: `${first} ${LAST[i % LAST.length]}`,
  video: i < CAMERAS,
  audio: i < TALKING_CAMERAS || (i >= CAMERAS && i < CAMERAS + TALKING_NO_CAMERA),
  consume: i === 0,
}));

// ---------------------------------------------------------------- bounded calls

function bounded<T>(promise: Promise<T>, what: string, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------- Chromium's processes

interface ChromiumProcess {
  pid: number;
  /** browser, renderer, gpu-process, zygote, utility:<sub-type>, … */
  type: string;
}

async function parentOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Every process under `root` (itself included) whose command line is Chromium's. */
async function chromiumProcesses(root: number): Promise<ChromiumProcess[]> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  const parents = new Map<number, number | null>();
  await Promise.all(pids.map(async (pid) => parents.set(pid, await parentOf(pid))));
  const under = (pid: number): boolean => {
    for (let p: number | null | undefined = pid, hops = 0; p && hops < 20; p = parents.get(p), hops++) if (p === root) return true;
    return false;
  };
  const out: ChromiumProcess[] = [];
  for (const pid of pids) {
    if (!under(pid)) continue;
    let args: string[];
    try {
      // Chromium's child processes rewrite their command line into one space-separated string.
      args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split(/[\0 ]/);
    } catch {
      continue;
    }
    if (!/chrom/i.test(path.basename(args[0] ?? ''))) continue;
    const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    const type = arg('type');
    const sub = arg('utility-sub-type');
    out.push({ pid, type: type === undefined ? 'browser' : sub ? `utility:${sub.replace(/\.mojom\.\w+$/, '')}` : type });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The browser process: the Chromium process whose parent is not Chromium. */
async function browserPid(): Promise<number> {
  const all = await chromiumProcesses(process.pid);
  const pids = new Set(all.map((p) => p.pid));
  for (const p of all) if (!pids.has((await parentOf(p.pid)) ?? 0)) return p.pid;
  throw new Error('no Chromium process under this one');
}

function threadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      // Pools name their threads with a number (ThreadPoolForeg…, WebRTC_W…): one line per kind.
      const kind = name.replace(/\d+$/, '');
      byName.set(kind, (byName.get(kind) ?? 0) + ticks);
    } catch {
      // the thread ended
    }
  }
  return byName;
}

interface CpuSnapshot {
  at: number;
  processes: Map<number, { type: string; seconds: number }>;
  rendererThreads: Map<number, Map<string, number>>;
  others: Map<string, number>;
}

async function cpuSnapshot(browser: number, others: Record<string, number[]>): Promise<CpuSnapshot> {
  const processes = new Map<number, { type: string; seconds: number }>();
  const rendererThreads = new Map<number, Map<string, number>>();
  for (const p of await chromiumProcesses(browser)) {
    try {
      processes.set(p.pid, { type: p.type, seconds: processCpuSeconds(p.pid) });
      if (p.type === 'renderer') rendererThreads.set(p.pid, threadCpu(p.pid));
    } catch {
      // gone meanwhile
    }
  }
  const otherSeconds = new Map<string, number>();
  for (const [name, pids] of Object.entries(others)) {
    let s = 0;
    for (const pid of pids) {
      try {
        s += processCpuSeconds(pid);
      } catch {
        // gone
      }
    }
    otherSeconds.set(name, s);
  }
  return { at: performance.now(), processes, rendererThreads, others: otherSeconds };
}

interface CpuWindow {
  /** % of one core, by process type (summed over processes of that type present throughout). */
  byType: Record<string, number>;
  /** Renderer + GPU + utility processes: what the page costs beyond the browser process. */
  page: number;
  total: number;
  processes: { pid: number; type: string; percent: number }[];
  /** The renderers' busiest threads, % of one core (thread name without its number). */
  rendererThreads: { thread: string; percent: number }[];
  /** Processes that started or ended within the window (not counted). */
  changed: number;
  others: Record<string, number>;
}

function cpuWindow(a: CpuSnapshot, b: CpuSnapshot): CpuWindow {
  const seconds = (b.at - a.at) / 1000;
  const pct = (s: number) => Math.round((1000 * s) / seconds) / 10;
  const byTypeSeconds: Record<string, number> = {};
  const processes: CpuWindow['processes'] = [];
  let changed = 0;
  for (const [pid, end] of b.processes) {
    const start = a.processes.get(pid);
    if (!start) {
      changed++;
      continue;
    }
    const s = end.seconds - start.seconds;
    byTypeSeconds[end.type] = (byTypeSeconds[end.type] ?? 0) + s;
    processes.push({ pid, type: end.type, percent: pct(s) });
  }
  for (const pid of a.processes.keys()) if (!b.processes.has(pid)) changed++;
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const threads = new Map<string, number>();
  for (const [pid, end] of b.rendererThreads) {
    const start = a.rendererThreads.get(pid);
    if (!start) continue;
    for (const [name, t] of end) threads.set(name, (threads.get(name) ?? 0) + t - (start.get(name) ?? 0));
  }
  const total = Object.values(byTypeSeconds).reduce((x, y) => x + y, 0);
  const page = total - (byTypeSeconds.browser ?? 0);
  return {
    byType: Object.fromEntries(Object.entries(byTypeSeconds).map(([t, s]) => [t, pct(s)])),
    page: pct(page),
    total: pct(total),
    processes,
    rendererThreads: [...threads]
      .map(([thread, t]) => ({ thread, percent: pct(t / ticks) }))
      .filter((t) => t.percent > 0)
      .sort((x, y) => y.percent - x.percent)
      .slice(0, 8),
    changed,
    others: Object.fromEntries([...b.others].map(([name, s]) => [name, pct(s - (a.others.get(name) ?? 0))])),
  };
}

// ---------------------------------------------------------------- UDP drops by owner

/** UDP receive-buffer drops so far on the sockets each group of processes holds. */
function udpDropsByOwner(owners: Record<string, number[]>): Record<string, number> {
  const drops = udpDropsByInode();
  return Object.fromEntries(
    Object.entries(owners).map(([name, pids]) => [
      name,
      [...new Set(pids.flatMap((pid) => socketInodes(pid) ?? []))].reduce((n, inode) => n + (drops.get(inode) ?? 0), 0),
    ]),
  );
}

// ---------------------------------------------------------------- the page

interface InboundStream {
  kind: 'audio' | 'video';
  trackIdentifier: string;
  framesDecoded: number;
  framesReceived: number;
  framesDropped: number;
  /** Seconds spent decoding, summed over the frames decoded. */
  totalDecodeTime: number;
  freezeCount: number;
  packetsLost: number;
  nackCount: number;
  pliCount: number;
  packetsReceived: number;
  bytesReceived: number;
  frameWidth: number | null;
}

interface OutboundEncoding {
  rid: string | null;
  bytesSent: number;
  frameWidth: number | null;
  framesPerSecond: number | null;
  /** Why the encoder sends less than it was asked for: 'none', 'cpu', 'bandwidth', 'other'. */
  qualityLimitationReason: string | null;
}

interface PageSnapshot {
  at: number;
  inbound: InboundStream[];
  outbound: OutboundEncoding[];
  /** Camera tiles in the grid: name, and the id of the track they show (null: none). */
  tiles: { name: string; local: boolean; track: string | null; videoOff: boolean; width: number }[];
  nameTiles: number;
  heap: { used: number; total: number } | null;
}

async function pageSnapshot(page: Page): Promise<PageSnapshot> {
  const snap = await bounded(
    page.evaluate(async () => {
      const pcs = (window as unknown as { __testPeerConnections: RTCPeerConnection[] }).__testPeerConnections;
      const inbound: InboundStream[] = [];
      const outbound: OutboundEncoding[] = [];
      for (const pc of pcs) {
        if (pc.connectionState === 'closed') continue;
        type S = {
          type: string;
          kind?: string;
          mid?: string;
          trackIdentifier?: string;
          framesDecoded?: number;
          framesReceived?: number;
          framesDropped?: number;
          totalDecodeTime?: number;
          freezeCount?: number;
          packetsLost?: number;
          nackCount?: number;
          pliCount?: number;
          rid?: string;
          framesPerSecond?: number;
          qualityLimitationReason?: string;
          packetsReceived?: number;
          bytesReceived?: number;
          bytesSent?: number;
          frameWidth?: number;
        };
        (await pc.getStats()).forEach((s: S) => {
          if (s.type === 'outbound-rtp' && s.kind === 'video') {
            outbound.push({
              rid: s.rid ?? null,
              bytesSent: s.bytesSent ?? 0,
              frameWidth: s.frameWidth ?? null,
              framesPerSecond: s.framesPerSecond ?? null,
              qualityLimitationReason: s.qualityLimitationReason ?? null,
            });
          }
          if (s.type !== 'inbound-rtp' || s.mid === 'probator' || (s.kind !== 'audio' && s.kind !== 'video')) return;
          inbound.push({
            kind: s.kind,
            trackIdentifier: s.trackIdentifier ?? '',
            framesDecoded: s.framesDecoded ?? 0,
            framesReceived: s.framesReceived ?? 0,
            framesDropped: s.framesDropped ?? 0,
            totalDecodeTime: s.totalDecodeTime ?? 0,
            freezeCount: s.freezeCount ?? 0,
            packetsLost: s.packetsLost ?? 0,
            nackCount: s.nackCount ?? 0,
            pliCount: s.pliCount ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
            bytesReceived: s.bytesReceived ?? 0,
            frameWidth: s.frameWidth ?? null,
          });
        });
      }
      const tiles = [...document.querySelectorAll<HTMLElement>('.grid .tile.person')].map((t) => {
        const stream = t.querySelector('video')?.srcObject;
        const track = stream instanceof MediaStream ? (stream.getVideoTracks()[0]?.id ?? null) : null;
        // One's own camera tile is the only mirrored one.
        const local = t.classList.contains('mirrored');
        return { name: t.dataset.name ?? '', local, track, videoOff: t.dataset.videoOff === 'true', width: t.clientWidth };
      });
      const nameTiles = document.querySelectorAll('.grid [data-testid="name-tile"]').length;
      const memory = (performance as unknown as { memory?: { usedJSHeapSize: number; totalJSHeapSize: number } }).memory;
      const heap = memory ? { used: memory.usedJSHeapSize, total: memory.totalJSHeapSize } : null;
      return { inbound, outbound, tiles, nameTiles, heap };
    }),
    'page stats',
  );
  return { at: performance.now(), ...snap };
}

/** Long tasks and changes of the video tiles, recorded in the page from now on. */
function startPageRecorder(page: Page): Promise<void> {
  return bounded(
    page.evaluate(() => {
      const rec = { longTasks: [] as number[], tileChanges: 0, tileSets: [] as string[] };
      Object.defineProperty(window, '__benchRecorder', { value: rec, configurable: true });
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) rec.longTasks.push(e.duration);
      }).observe({ type: 'longtask' });
      // No named function here: tsx would wrap it in a helper that the page does not have.
      const selector = '.grid .tile.person';
      let last = [...document.querySelectorAll<HTMLElement>(selector)].map((t) => t.dataset.name).join(',');
      const grid = document.querySelector('.grid');
      if (grid) {
        new MutationObserver(() => {
          const now = [...document.querySelectorAll<HTMLElement>(selector)].map((t) => t.dataset.name).join(',');
          if (now === last) return;
          rec.tileChanges++;
          rec.tileSets.push(now);
          last = now;
        }).observe(grid, { childList: true, subtree: true });
      }
    }),
    'page recorder',
  );
}

function readPageRecorder(page: Page): Promise<{ longTasks: number[]; tileChanges: number; tileSets: string[] }> {
  return bounded(
    page.evaluate(() => (window as unknown as { __benchRecorder: { longTasks: number[]; tileChanges: number; tileSets: string[] } }).__benchRecorder),
    'page recorder',
  );
}

type Metrics = Record<string, number>;
async function cdpMetrics(cdp: CDPSession): Promise<Metrics> {
  const { metrics } = await bounded(cdp.send('Performance.getMetrics'), 'Performance.getMetrics');
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

/** Waits until every camera tile with a remote video has decoded frames, within TILES_TIMEOUT_MS. */
async function waitForTiles(page: Page): Promise<boolean> {
  const deadline = performance.now() + TILES_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const s = await pageSnapshot(page);
    const decoding = new Set(s.inbound.filter((i) => i.kind === 'video' && i.framesDecoded > 0).map((i) => i.trackIdentifier));
    const remote = s.tiles.filter((t) => t.track !== null && !t.videoOff && !t.local);
    if (remote.length > 0 && remote.every((t) => decoding.has(t.track!))) return true;
    await sleep(500);
  }
  return false;
}

// ---------------------------------------------------------------- one case

interface CaseResult {
  case: string;
  /** 1, 5 and 15 minute load averages as the page joined. */
  loadAverage: number[];
  people: number;
  viewport: { width: number; height: number };
  windowS: number;
  remoteVideoProducers: number;
  remoteAudioProducers: number;
  videoTiles: number;
  nameTiles: number;
  tileWidthPx: number | null;
  /** inbound-rtp video streams whose framesDecoded grew during the window. */
  videoStreamsDecoding: number;
  videoStreamsReceived: number;
  audioStreamsReceiving: number;
  serverConsumers: { videoRunning: number; videoPaused: number; audio: number };
  /** Per visible remote video: frames decoded and received per second, dropped, freezes, decode time. */
  tiles: {
    name: string;
    fps: number;
    receivedFps: number;
    dropped: number;
    freezes: number;
    packetsLost: number;
    nacks: number;
    plis: number;
    decodeMsPerFrame: number | null;
    width: number | null;
  }[];
  decodedFpsTotal: number;
  /** Frames decoded during the window by video streams that are on no visible tile. */
  framesDecodedOffTile: number;
  upstreamVideoKbps: number;
  /** The page's camera encodings at the end of the window. */
  upstream: { rid: string | null; kbps: number; frameWidth: number | null; fps: number | null; limitedBy: string | null }[];
  cpu: CpuWindow;
  mainThread: {
    taskPercent: number;
    scriptPercent: number;
    layoutPercent: number;
    styleRecalcPercent: number;
    longTasks: number;
    longTaskMaxMs: number;
    longTaskTotalMs: number;
  };
  jsHeapMB: number;
  domNodes: number;
  /** The kernel's UDP receive-buffer drops in this network namespace during the window (any socket). */
  udpReceiveBufferErrors: number | null;
  /** The same by whose sockets dropped them: Chromium, the bot process, this process (the viewer bot), the workers. */
  udpDrops: Record<string, number>;
  tileChanges: number;
  speakerChanges: number;
  consoleProblems: string[];
  /** Every visible remote video decoded frames before the window (else the window started after TILES_TIMEOUT_MS). */
  tilesReady: boolean;
  /** From the page showing the room to every visible remote video decoding, ms (polled every 500 ms). */
  tilesReadyMs: number;
}

interface Context {
  server: TestServer;
  browser: Browser;
  browserPid: number;
  fleet: BotFleet;
  viewer: SyntheticPeer;
}

/**
 * The bot that watches the page: it consumes every new producer, as synthetic peers do, and
 * at once stops receiving any that is not the page's, so that it costs one stream's worth of
 * JavaScript SRTP instead of twenty. Returns a stop function.
 */
function watchOnlyThePage(viewer: SyntheticPeer, server: TestServer): () => void {
  const closing = new Set<string>();
  const sweep = (): void => {
    const room = server.noom.rooms.get(ROOM);
    for (const c of viewer.consumerStats()) {
      if (c.closed || closing.has(c.consumerId) || room?.peers.get(c.peerId)?.displayName === PAGE_NAME) continue;
      closing.add(c.consumerId);
      viewer.closeConsumer(c.consumerId).catch((error: unknown) => log(`warning: viewer: ${String(error)}`));
    }
  };
  const timer = setInterval(sweep, 200);
  return () => clearInterval(timer);
}

async function runCase(ctx: Context, label: string, viewportName: ViewportName, screenshot?: string): Promise<CaseResult> {
  const viewport = VIEWPORTS[viewportName];
  const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const peer: Peer = await newPeer(ctx.browser, PAGE_NAME);
  try {
    await peer.page.setViewportSize(viewport);
    await joinByLink(peer, ctx.server.url, ROOM);
    const room = ctx.server.noom.rooms.get(ROOM);
    if (!room) throw new Error(`room ${ROOM} is gone`);
    const joined = performance.now();
    const tilesReady = await waitForTiles(peer.page);
    const tilesReadyMs = Math.round(performance.now() - joined);
    await sleep(SETTLE_MS);

    const cdp = await peer.context.newCDPSession(peer.page);
    await bounded(cdp.send('Performance.enable'), 'Performance.enable');
    const workers = ctx.server.noom.pool.slots.map((s) => s.worker.pid);
    // The viewer bot runs in this process: it is part of "node".
    const others = { node: [process.pid], bots: ctx.fleet.pids, workers };

    await startPageRecorder(peer.page);
    const m0 = await cdpMetrics(cdp);
    const p0 = await pageSnapshot(peer.page);
    const c0 = await cpuSnapshot(ctx.browserPid, others);
    const rcvbuf0 = udpReceiveBufferErrors();
    const chromium = (await chromiumProcesses(ctx.browserPid)).map((p) => p.pid);
    const owners = { chromium, bots: ctx.fleet.pids, node: [process.pid], workers };
    const drops0 = udpDropsByOwner(owners);
    let speaker = room.activeSpeaker;
    let speakerChanges = 0;
    const end = performance.now() + WINDOW_S * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(250, end - performance.now()));
      if (room.activeSpeaker !== speaker) {
        speaker = room.activeSpeaker;
        speakerChanges++;
      }
    }
    const c1 = await cpuSnapshot(ctx.browserPid, others);
    const rcvbuf1 = udpReceiveBufferErrors();
    const drops1 = udpDropsByOwner(owners);
    const p1 = await pageSnapshot(peer.page);
    const m1 = await cdpMetrics(cdp);
    const rec = await readPageRecorder(peer.page);
    await cdp.detach().catch(() => undefined);

    if (screenshot) {
      await mkdir(path.dirname(screenshot), { recursive: true });
      await bounded(peer.page.screenshot({ path: screenshot }), 'screenshot');
    }

    const seconds = (p1.at - p0.at) / 1000;
    const mainSeconds = (m1.Timestamp ?? 0) - (m0.Timestamp ?? 0) || seconds;
    const share = (key: string) => Math.round((1000 * ((m1[key] ?? 0) - (m0[key] ?? 0))) / mainSeconds) / 10;
    const before = new Map(p0.inbound.map((s) => [s.trackIdentifier, s]));
    const delta = (s: InboundStream) => {
      const b = before.get(s.trackIdentifier);
      return {
        frames: s.framesDecoded - (b?.framesDecoded ?? 0),
        received: s.framesReceived - (b?.framesReceived ?? 0),
        dropped: s.framesDropped - (b?.framesDropped ?? 0),
        decodeSeconds: s.totalDecodeTime - (b?.totalDecodeTime ?? 0),
        freezes: s.freezeCount - (b?.freezeCount ?? 0),
        lost: s.packetsLost - (b?.packetsLost ?? 0),
        nacks: s.nackCount - (b?.nackCount ?? 0),
        plis: s.pliCount - (b?.pliCount ?? 0),
        packets: s.packetsReceived - (b?.packetsReceived ?? 0),
      };
    };
    const video = p1.inbound.filter((s) => s.kind === 'video');
    const audio = p1.inbound.filter((s) => s.kind === 'audio');
    const onTile = new Map(p1.tiles.filter((t) => t.track !== null).map((t) => [t.track!, t]));
    const tiles = video
      .filter((s) => onTile.has(s.trackIdentifier))
      .map((s) => {
        const d = delta(s);
        return {
          name: onTile.get(s.trackIdentifier)!.name,
          fps: Math.round((10 * d.frames) / seconds) / 10,
          receivedFps: Math.round((10 * d.received) / seconds) / 10,
          dropped: d.dropped,
          freezes: d.freezes,
          packetsLost: d.lost,
          nacks: d.nacks,
          plis: d.plis,
          decodeMsPerFrame: d.frames > 0 ? Math.round((100 * 1000 * d.decodeSeconds) / d.frames) / 100 : null,
          width: s.frameWidth,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    const framesDecodedOffTile = video.filter((s) => !onTile.has(s.trackIdentifier)).reduce((n, s) => n + delta(s).frames, 0);

    const local = [...room.peers.values()].find((p) => p.displayName === PAGE_NAME);
    const serverConsumers = { videoRunning: 0, videoPaused: 0, audio: 0 };
    for (const c of local?.consumers.values() ?? []) {
      if (c.kind === 'audio') serverConsumers.audio++;
      else if (c.paused) serverConsumers.videoPaused++;
      else serverConsumers.videoRunning++;
    }
    let remoteVideoProducers = 0;
    let remoteAudioProducers = 0;
    for (const p of room.peers.values()) {
      if (p === local) continue;
      for (const { producer } of p.producers.values()) {
        if (producer.kind === 'video') remoteVideoProducers++;
        else remoteAudioProducers++;
      }
    }
    const upstream = p1.outbound.map((e) => ({
      rid: e.rid,
      kbps: Math.round(((e.bytesSent - (p0.outbound.find((o) => o.rid === e.rid)?.bytesSent ?? 0)) * 8) / seconds / 100) / 10,
      frameWidth: e.frameWidth,
      fps: e.framesPerSecond,
      limitedBy: e.qualityLimitationReason,
    }));
    const longTasks = rec.longTasks;
    const result: CaseResult = {
      case: label,
      loadAverage,
      people: room.peers.size,
      viewport,
      windowS: Math.round(seconds * 10) / 10,
      remoteVideoProducers,
      remoteAudioProducers,
      videoTiles: p1.tiles.length,
      nameTiles: p1.nameTiles,
      tileWidthPx: p1.tiles[0]?.width ?? null,
      videoStreamsDecoding: video.filter((s) => delta(s).frames > 0).length,
      videoStreamsReceived: video.filter((s) => delta(s).packets > 0).length,
      audioStreamsReceiving: audio.filter((s) => delta(s).packets > 0).length,
      serverConsumers,
      tiles,
      decodedFpsTotal: Math.round(10 * tiles.reduce((n, t) => n + t.fps, 0)) / 10,
      framesDecodedOffTile,
      upstreamVideoKbps: Math.round(upstream.reduce((n, e) => n + e.kbps, 0)),
      upstream,
      cpu: cpuWindow(c0, c1),
      mainThread: {
        taskPercent: share('TaskDuration'),
        scriptPercent: share('ScriptDuration'),
        layoutPercent: share('LayoutDuration'),
        styleRecalcPercent: share('RecalcStyleDuration'),
        longTasks: longTasks.length,
        longTaskMaxMs: Math.round(Math.max(0, ...longTasks)),
        longTaskTotalMs: Math.round(longTasks.reduce((a, b) => a + b, 0)),
      },
      jsHeapMB: Math.round(((m1.JSHeapUsedSize ?? p1.heap?.used ?? 0) / 2 ** 20) * 10) / 10,
      domNodes: m1.Nodes ?? 0,
      udpReceiveBufferErrors: rcvbuf0 === undefined || rcvbuf1 === undefined ? null : rcvbuf1 - rcvbuf0,
      udpDrops: Object.fromEntries(Object.entries(drops1).map(([k, v]) => [k, v - (drops0[k] ?? 0)])),
      tileChanges: rec.tileChanges,
      speakerChanges,
      consoleProblems: [...peer.problems],
      tilesReady,
      tilesReadyMs,
    };
    return result;
  } finally {
    await bounded(peer.context.close(), 'closing the page').catch((error: unknown) => log(`warning: ${String(error)}`));
  }
}

// ---------------------------------------------------------------- the run

function mean(xs: number[]): number | string {
  return xs.length ? Math.round((100 * xs.reduce((a, b) => a + b, 0)) / xs.length) / 100 : '-';
}

function printTable(results: CaseResult[]): void {
  const rows: [string, (r: CaseResult) => string | number][] = [
    ['people in the room', (r) => r.people],
    ['load average (1 min) at the start', (r) => r.loadAverage[0] ?? '-'],
    ['window (W×H)', (r) => `${r.viewport.width}×${r.viewport.height}`],
    ['remote video producers', (r) => r.remoteVideoProducers],
    ['video tiles / name tiles', (r) => `${r.videoTiles} / ${r.nameTiles}`],
    ['tile width, px', (r) => r.tileWidthPx ?? '-'],
    ['joined → every visible tile decoding, ms', (r) => `${r.tilesReady ? '' : '> '}${r.tilesReadyMs}`],
    ['video streams decoding', (r) => r.videoStreamsDecoding],
    ['server: video running / paused', (r) => `${r.serverConsumers.videoRunning} / ${r.serverConsumers.videoPaused}`],
    ['audio streams received', (r) => r.audioStreamsReceiving],
    ['decoded fps, total (tiles)', (r) => r.decodedFpsTotal],
    ['decoded fps per tile, min–max', (r) => (r.tiles.length ? `${Math.min(...r.tiles.map((t) => t.fps))}–${Math.max(...r.tiles.map((t) => t.fps))}` : '-')],
    ['frames decoded off the tiles', (r) => r.framesDecodedOffTile],
    ['received fps per tile, min–max', (r) => (r.tiles.length ? `${Math.min(...r.tiles.map((t) => t.receivedFps))}–${Math.max(...r.tiles.map((t) => t.receivedFps))}` : '-')],
    ['freezes on the tiles', (r) => r.tiles.reduce((n, t) => n + t.freezes, 0)],
    ['packets lost / NACKs / PLIs on the tiles', (r) => ['packetsLost', 'nacks', 'plis'].map((k) => r.tiles.reduce((n, t) => n + t[k as 'nacks'], 0)).join(' / ')],
    ['UDP receive-buffer drops (namespace)', (r) => r.udpReceiveBufferErrors ?? '-'],
    ['  at Chromium / bots / Node / workers', (r) => ['chromium', 'bots', 'node', 'workers'].map((k) => r.udpDrops[k] ?? '-').join(' / ')],
    ['decode time, ms/frame (mean)', (r) => mean(r.tiles.flatMap((t) => (t.decodeMsPerFrame === null ? [] : [t.decodeMsPerFrame])))],
    ['decode time, % of a core (sum)', (r) => Math.round(r.tiles.reduce((n, t) => n + (t.decodeMsPerFrame ?? 0) * t.fps, 0)) / 10],
    ['camera upstream, kbit/s', (r) => r.upstreamVideoKbps],
    ['camera encodings sent (limited by)', (r) => r.upstream.filter((e) => e.kbps > 0).map((e) => `${e.frameWidth ?? '?'}${e.limitedBy && e.limitedBy !== 'none' ? ` ${e.limitedBy}` : ''}`).join(' ') || '-'],
    ['CPU renderer, % core', (r) => r.cpu.byType.renderer ?? 0],
    ['CPU GPU process, % core', (r) => r.cpu.byType['gpu-process'] ?? 0],
    ['CPU utility: network service', (r) => r.cpu.byType['utility:network'] ?? 0],
    ['CPU utility: audio service', (r) => r.cpu.byType['utility:audio'] ?? 0],
    ['CPU utility: video capture', (r) => r.cpu.byType['utility:video_capture'] ?? 0],
    ['CPU browser process', (r) => r.cpu.byType.browser ?? 0],
    ['CPU Chromium total, % core', (r) => r.cpu.total],
    ['main thread busy (TaskDuration), %', (r) => r.mainThread.taskPercent],
    ['long tasks (count, max ms)', (r) => `${r.mainThread.longTasks}, ${r.mainThread.longTaskMaxMs}`],
    ['JS heap, MB', (r) => r.jsHeapMB],
    ['DOM nodes', (r) => r.domNodes],
    ['tile set changes / speaker changes', (r) => `${r.tileChanges} / ${r.speakerChanges}`],
    ['Node (server, driver) / bots / workers, % core', (r) => `${r.cpu.others.node} / ${r.cpu.others.bots} / ${r.cpu.others.workers}`],
  ];
  const width = 48;
  log(`${''.padEnd(width)}${results.map((r) => r.case.padStart(18)).join('')}`);
  for (const [label, f] of rows) log(`${label.padEnd(width)}${results.map((r) => String(f(r)).padStart(18)).join('')}`);
}

const started = performance.now();
const machine = machineInfo();
log(`big room: ${BOTS + 1} people, ${WINDOW_S} s windows; load average ${machine.loadAverage.join(' / ')}`);

const ctx: Partial<Context> = {};
const watchdog = setTimeout(() => {
  log(`watchdog: still running after ${WATCHDOG_MS / 60_000} min; killing what the run started`);
  const pids = [ctx.browserPid, ...(ctx.fleet?.pids ?? []), ...(ctx.server?.noom.pool.slots.map((s) => s.worker.pid) ?? [])];
  for (const pid of pids) {
    try {
      if (pid) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();

const results: CaseResult[] = [];
let chromiumVersion: string | undefined;
let stopWatching: (() => void) | undefined;
let failed: unknown;
try {
  ctx.server = await startServer({ env: { WORKERS: '2' } });
  ctx.fleet = await BotFleet.start(1);
  ctx.browser = await launchBrowser();
  ctx.browserPid = await browserPid();
  chromiumVersion = ctx.browser.version();
  const full = ctx as Context;
  const joinBots = async (specs: BotSpec[]) => {
    for (const b of specs) {
      const publish = { audio: b.audio, video: b.video };
      if (b.consume) {
        await prepareMedia();
        ctx.viewer = await SyntheticPeer.join({ url: full.server.url, roomId: ROOM, displayName: b.name, publish, consume: true });
        stopWatching = watchOnlyThePage(ctx.viewer, full.server);
      } else {
        await full.fleet.join(0, { url: full.server.url, roomId: ROOM, displayName: b.name, publish, consume: false });
      }
    }
  };

  await joinBots(bots.slice(0, SMALL_CALL));
  for (const v of ['desktop', 'phone'] as const) {
    results.push(await runCase(full, `4, ${v}`, v));
    log(`  4 people, ${v}: done`);
  }
  const t0 = performance.now();
  await joinBots(bots.slice(SMALL_CALL));
  log(`  ${BOTS - SMALL_CALL} more bots joined in ${Math.round(performance.now() - t0)} ms`);
  for (const v of ['desktop', 'phone'] as const) {
    results.push(await runCase(full, `50, ${v}`, v, path.join(ARTIFACTS_DIR, `room-50-${v}.png`)));
    log(`  50 people, ${v}: done`);
  }
} catch (error) {
  failed = error;
} finally {
  stopWatching?.();
  await ctx.browser?.close().catch(() => undefined);
  await ctx.viewer?.close().catch(() => undefined);
  await ctx.fleet?.stop().catch(() => undefined);
  await ctx.server?.close().catch(() => undefined);
}
if (failed) {
  log(`failed: ${failed instanceof Error ? (failed.stack ?? failed.message) : String(failed)}`);
  process.exitCode = 1;
}

if (results.length > 0) {
  printTable(results);
  for (const r of results) {
    log(`${r.case}: tiles ${r.tiles.map((t) => `${t.name} ${t.fps}`).join(', ')}`);
    log(`${r.case}: renderer threads ${r.cpu.rendererThreads.map((t) => `${t.thread} ${t.percent}`).join(', ')}`);
    if (r.consoleProblems.length) log(`${r.case}: console ${r.consoleProblems.slice(0, 5).join(' | ')}`);
  }
}
if (results.some((r) => r.case === '50, desktop') && process.env.NOOM_UPDATE_SCREENSHOTS === '1') {
  await copyFile(path.join(ARTIFACTS_DIR, 'room-50-desktop.png'), path.join(REPO_ROOT, 'docs', 'screenshots', 'room-50.png'));
}
log(
  await writeResult('big-room', {
    machine,
    chromium: chromiumVersion,
    loadAverageAtEnd: machineInfo().loadAverage,
    durationS: Math.round((performance.now() - started) / 1000),
    windowS: WINDOW_S,
    settleMs: SETTLE_MS,
    bots,
    results,
  }),
);
clearTimeout(watchdog);
