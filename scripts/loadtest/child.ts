/**
 * Load-test child process: runs the synthetic peers the coordinator assigns to it and
 * reports their counters. Started by fleet.ts with an IPC channel; exits when told to stop
 * or when the coordinator goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadClip, DEFAULT_CLIP } from './peer/clip.js';
import { installWerift } from './peer/werift.js';
import type { LoadPeer } from './peer/loadPeer.js';
import { SyntheticPeer, type ConsumerStats } from './peer/syntheticPeer.js';
import { WrtcPeer } from './peer/wrtcPeer.js';
import type {
  ChildMessage,
  ConsumerSummary,
  ExpectCommand,
  JoinCommand,
  ParentMessage,
  PeerSummary,
  ProducerCounters,
  TrackCounters,
} from './ipc.js';
import { MediaWatch } from './mediaWatch.js';
import { SocketDrops } from './socketDrops.js';
import { round } from './stats.js';
import type { LatencySummary } from './peer/latency.js';
import type { PeerPlan } from './plan.js';

/** Closing peers must not hold the run hostage. */
const CLOSE_TIMEOUT_MS = 5000;
/** How often the peers' media is checked: the resolution of the gaps measured. */
const WATCH_INTERVAL_MS = 250;

interface Slot {
  plan: PeerPlan;
  /** The current session; earlier ones (before a rejoin) are retired. */
  peer?: LoadPeer;
  retiredConsumers: (ConsumerStats & { joinedAt: number })[];
  retiredProducers: ProducerCounters[];
  rejoins?: number;
  /** Times it moved off a draining node, and the node it is on now (when not the planned one). */
  moves?: number;
  url?: string;
  joinAckMs?: number;
  setupMs?: number;
  failed?: string;
  /** Speaker simulation on: the summary carries the active-speaker announcements heard. */
  speakers?: boolean;
}

const slots = new Map<number, Slot>();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const socketDrops = new SocketDrops();
loopDelay.enable();
let stopping = false;
/** Made with the first join, which carries the run's media-gap limit. */
let watch: MediaWatch | undefined;
/** Expectations that arrive before the first join. */
const pendingExpect: ExpectCommand[] = [];
let watchTimer: NodeJS.Timeout | undefined;

function watching(gapMs: number): MediaWatch {
  if (watch) return watch;
  const w = new MediaWatch(gapMs, send);
  for (const e of pendingExpect.splice(0)) w.expect(e.roomId, e.producers);
  watchTimer = setInterval(() => w.check(), WATCH_INTERVAL_MS);
  watch = w;
  return w;
}

function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

/** Peer summaries per message at the end of the run. */
const SUMMARY_BATCH = 25;

/** Resolves once the message is written to the channel (or the channel is gone). */
function sendAndWait(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function connect(cmd: JoinCommand, url = cmd.peer.url): Promise<LoadPeer> {
  const engine = cmd.engine === 'wrtc' ? WrtcPeer : SyntheticPeer;
  const turn = cmd.peer.publisherSlot;
  return engine.join({
    ...(cmd.speakerTurnMs !== undefined && turn ? { speaking: { ...turn, turnMs: cmd.speakerTurnMs } } : {}),
    url,
    roomId: cmd.peer.roomId,
    displayName: cmd.peer.displayName,
    ...(cmd.password !== undefined ? { password: cmd.password } : {}),
    publish: cmd.peer.role === 'publisher' ? (cmd.publish ?? { audio: true, video: true }) : {},
    ...(cmd.simulcast ? { simulcast: true } : {}),
    ...(cmd.peer.role === 'subscriber' && cmd.subscriberLayer !== undefined ? { preferredLayer: cmd.subscriberLayer } : {}),
    consume: true,
  });
}

const producersOf = (peer: LoadPeer) => peer.producerStats().map((p) => ({ producerId: p.producerId, kind: p.kind }));

function fail(slot: Slot, reason: string): void {
  if (slot.failed !== undefined) return;
  slot.failed = reason;
  watch?.remove(slot.plan.index);
  send({ type: 'failed', index: slot.plan.index, phase: 'runtime', reason });
}

/** Hooks a joined peer (first join or a rejoin) to the slot, the watch and the coordinator. */
function attach(slot: Slot, cmd: JoinCommand, peer: LoadPeer, downSince?: { at: number; reason: string }): void {
  const index = cmd.peer.index;
  slot.peer = peer;
  peer.events.on('failed', (error) => {
    if (slot.peer === peer) fail(slot, error.message);
  });
  // The server ended the membership: the peer is out of the room, with no media to come
  // unless it joins again.
  peer.events.on('ended', ({ event, reason }) => {
    if (slot.peer !== peer) return;
    const why = `${event} (${reason})`;
    if (cmd.rejoin && event === 'room:closed' && !stopping) void rejoin(slot, cmd, peer, why);
    else {
      fail(slot, why);
      void peer.close();
    }
  });
  peer.events.on('draining', ({ otherNodes }) => {
    if (slot.peer === peer && cmd.rejoin && !stopping && (otherNodes > 0 || (cmd.urls?.length ?? 0) > 1)) void move(slot, cmd, peer);
  });
  peer.events.on('warning', (error) => send({ type: 'warning', index, reason: error.message }));
  watching(cmd.mediaGapMs).add(index, cmd.peer.roomId, peer, undefined, downSince);
}

/**
 * What the browser client does on `server:draining` when other nodes are up: join the room
 * through another node first, then leave the draining one, so that media never stops. The
 * other nodes are tried in the order of `--url` after the current one (or the same address,
 * which a load balancer sends elsewhere); if none takes the join, the peer stays until the
 * deadline (room:closed then).
 */
async function move(slot: Slot, cmd: JoinCommand, old: LoadPeer): Promise<void> {
  const urls = cmd.urls && cmd.urls.length > 0 ? cmd.urls : [cmd.peer.url];
  const current = slot.url ?? cmd.peer.url;
  const from = Math.max(0, urls.indexOf(current));
  const order = urls.length > 1 ? [...urls.slice(from + 1), ...urls.slice(0, from)] : urls;
  const errors: string[] = [];
  for (const url of order) {
    try {
      const peer = await connect(cmd, url);
      if (stopping || slot.peer !== old) {
        await peer.close();
        return;
      }
      retire(slot, old);
      slot.url = url;
      slot.moves = (slot.moves ?? 0) + 1;
      attach(slot, cmd, peer);
      send({ type: 'rejoined', index: cmd.peer.index, peerId: peer.peerId, producers: producersOf(peer), movedTo: url });
      await old.close();
      return;
    } catch (error) {
      errors.push(`${url}: ${errorText(error)}`);
    }
  }
  send({ type: 'warning', index: cmd.peer.index, reason: `server draining, could not move: ${errors.join('; ')}` });
}

/** Retries of a rejoin after room:closed, e.g. while a dead worker is replaced. */
const REJOIN_WITHIN_MS = 30_000;
const REJOIN_RETRY_MS = 500;

/**
 * What a client does on `room:closed`: leave the dead session and join the room again, as the
 * browser client does. The peer is down from now until media flows again on the new session;
 * its counters so far are kept.
 */
async function rejoin(slot: Slot, cmd: JoinCommand, old: LoadPeer, why: string): Promise<void> {
  const index = cmd.peer.index;
  const reason = `${why}: joined again`;
  const at = performance.now();
  send({ type: 'health', index, down: true, reason, at: performance.timeOrigin + at });
  watch?.remove(index);
  retire(slot, old);
  await old.close();
  let last = '';
  while (!stopping && performance.now() - at < REJOIN_WITHIN_MS) {
    try {
      const peer = await connect(cmd);
      if (stopping) {
        await peer.close();
        return;
      }
      slot.rejoins = (slot.rejoins ?? 0) + 1;
      attach(slot, cmd, peer, { at, reason });
      send({ type: 'rejoined', index, peerId: peer.peerId, producers: producersOf(peer) });
      return;
    } catch (error) {
      last = errorText(error);
      await new Promise((r) => setTimeout(r, REJOIN_RETRY_MS));
    }
  }
  if (!stopping) fail(slot, `${why}; joining again failed: ${last}`);
}

/** Keeps the counters of a session that ended, so that totals still count what it received. */
function retire(slot: Slot, peer: LoadPeer): void {
  slot.retiredConsumers.push(...peer.consumerStats().map((c) => ({ ...c, closed: true, joinedAt: peer.joinedAt })));
  slot.retiredProducers.push(...producerCounters(peer));
}

async function join(cmd: JoinCommand): Promise<void> {
  const slot: Slot = { plan: cmd.peer, retiredConsumers: [], retiredProducers: [], ...(cmd.speakerTurnMs !== undefined ? { speakers: true } : {}) };
  slots.set(cmd.peer.index, slot);
  const started = performance.now();
  try {
    const peer = await connect(cmd);
    if (stopping) {
      await peer.close();
      return;
    }
    slot.joinAckMs = peer.joinedAt - peer.joinSentAt;
    slot.setupMs = performance.now() - started;
    attach(slot, cmd, peer);
    send({
      type: 'joined',
      index: cmd.peer.index,
      peerId: peer.peerId,
      joinAckMs: slot.joinAckMs,
      setupMs: slot.setupMs,
      producers: producersOf(peer),
    });
  } catch (error) {
    slot.failed = errorText(error);
    send({ type: 'failed', index: cmd.peer.index, phase: 'join', reason: slot.failed });
  }
}

/** `layers`: with the per-layer figures of simulcast producers (end-of-run summaries). */
function producerCounters(peer: LoadPeer, layers = false): ProducerCounters[] {
  return peer.producerStats().map((p) => ({
    ...(layers && p.simulcast ? { simulcast: p.simulcast } : {}),
    producerId: p.producerId,
    kind: p.kind,
    packetsSent: p.packetsSent,
    bytesSent: p.bytesSent,
    nacksReceived: p.nacksReceived,
    plisReceived: p.plisReceived,
    firsReceived: p.firsReceived,
    keyframeJumps: p.keyframeJumps,
  }));
}

function isReceiving(stats: ConsumerStats[]): boolean {
  const open = stats.filter((s) => !s.closed);
  return open.length > 0 && open.every((s) => s.packets > 0);
}

function sample(seq: number): void {
  watch?.check();
  let active = 0;
  let receiving = 0;
  const tracks = new Map<string, TrackCounters>();
  const producers: ProducerCounters[] = [];
  for (const slot of slots.values()) {
    const peer = slot.peer;
    if (!peer) continue;
    if (!peer.closed) active++;
    const stats = peer.consumerStats();
    if (!peer.closed && isReceiving(stats)) receiving++;
    for (const s of [...slot.retiredConsumers, ...stats]) {
      let t = tracks.get(s.producerId);
      if (!t) {
        t = { producerId: s.producerId, kind: s.kind, consumers: 0, receiving: 0, packets: 0, bytes: 0, lost: 0, nacksSent: 0, plisSent: 0 };
        tracks.set(s.producerId, t);
      }
      if (!s.closed) t.consumers++;
      if (!s.closed && watch?.isFresh(s.consumerId)) t.receiving++;
      t.packets += s.packets;
      t.bytes += s.bytes;
      t.lost += s.lost;
      t.nacksSent += s.nacksSent;
      t.plisSent += s.plisSent;
    }
    producers.push(...slot.retiredProducers, ...producerCounters(peer));
  }
  const cpu = process.cpuUsage();
  const delay = { loopDelayMaxMs: loopDelay.max / 1e6, loopDelayP99Ms: loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0 };
  loopDelay.reset();
  const udpDrops = socketDrops.read();
  send({
    type: 'sample',
    seq,
    at: performance.timeOrigin + performance.now(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    ...delay,
    ...(udpDrops !== undefined ? { udpDrops } : {}),
    active,
    receiving,
    tracks: [...tracks.values()],
    producers,
  });
}

/** Hundredths of a ms: finer than any clock here resolves, shorter on the IPC channel. */
function roundLatency(l: LatencySummary): LatencySummary {
  return { count: l.count, p50: round(l.p50, 2), p95: round(l.p95, 2), mean: round(l.mean, 2), max: round(l.max, 2) };
}

function summarize(slot: Slot): PeerSummary | undefined {
  const peer = slot.peer;
  if (!peer) return undefined;
  const sessions = [...slot.retiredConsumers, ...peer.consumerStats().map((c) => ({ ...c, joinedAt: peer.joinedAt }))];
  const firstSession = Math.min(...sessions.map((c) => c.joinedAt));
  const consumers: (ConsumerSummary & { firstSession: boolean })[] = sessions.map((s) => ({
    consumerId: s.consumerId,
    producerId: s.producerId,
    peerId: s.peerId,
    kind: s.kind,
    packets: s.packets,
    bytes: s.bytes,
    lost: s.lost,
    nacksSent: s.nacksSent,
    plisSent: s.plisSent,
    closed: s.closed,
    ...(s.layer ? { layer: s.layer } : {}),
    ...(s.firstPacketAt !== undefined ? { firstPacketMs: s.firstPacketAt - s.joinedAt } : {}),
    ...(s.latencyMs !== undefined ? { latencyMs: roundLatency(s.latencyMs) } : {}),
    ...(s.jitterMs !== undefined ? { jitterMs: round(s.jitterMs, 2) } : {}),
    firstSession: s.joinedAt === firstSession,
  }));
  // First RTP is the first session's: a rejoin's is not a join latency of the run.
  const first = (kind?: 'audio' | 'video') => {
    const times = consumers
      .filter((c) => c.firstSession && (kind === undefined || c.kind === kind) && c.firstPacketMs !== undefined)
      .map((c) => c.firstPacketMs!);
    return times.length > 0 ? Math.min(...times) : undefined;
  };
  const firstMediaMs = first();
  const firstAudioMs = first('audio');
  const firstVideoMs = first('video');
  return {
    index: slot.plan.index,
    peerId: peer.peerId,
    roomId: slot.plan.roomId,
    role: slot.plan.role,
    displayName: slot.plan.displayName,
    url: slot.plan.url,
    ...(slot.url !== undefined && slot.url !== slot.plan.url ? { endedOn: slot.url } : {}),
    joinAckMs: slot.joinAckMs ?? 0,
    setupMs: slot.setupMs ?? 0,
    ...(firstMediaMs !== undefined ? { firstMediaMs } : {}),
    ...(firstAudioMs !== undefined ? { firstAudioMs } : {}),
    ...(firstVideoMs !== undefined ? { firstVideoMs } : {}),
    consumers: consumers.map(({ firstSession: _, ...c }) => c),
    producers: [...slot.retiredProducers, ...producerCounters(peer, true)],
    ...(slot.rejoins ? { rejoins: slot.rejoins } : {}),
    ...(slot.moves ? { moves: slot.moves } : {}),
    ...(slot.failed !== undefined ? { failed: slot.failed } : {}),
    ...(slot.speakers
      ? { speakers: { since: performance.timeOrigin + peer.joinedAt, until: Date.now(), changes: [...peer.speakerChanges] } }
      : {}),
  };
}

let pendingJoins: Promise<void>[] = [];

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(watchTimer);
  // Peers still joining are given the close timeout too, then left out of the summary.
  await Promise.race([Promise.allSettled(pendingJoins), new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]);
  sample(0);
  // Every summary is taken at one instant, before any is sent: counts that go on growing
  // while earlier batches are written would not describe one moment.
  const summaries = [...slots.values()].flatMap((slot) => summarize(slot) ?? []);
  // In small messages, each written before the next is made: one message of every peer's
  // summary (hundreds of kB with hundreds of peers) is what a busy child failed to deliver.
  for (let i = 0; i < summaries.length; i += SUMMARY_BATCH) {
    await sendAndWait({ type: 'peers', peers: summaries.slice(i, i + SUMMARY_BATCH) });
  }
  await sendAndWait({ type: 'final', count: summaries.length });
  await Promise.race([
    Promise.allSettled([...slots.values()].map((s) => s.peer?.close())),
    new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS)),
  ]);
  if (process.connected) process.disconnect();
  // werift keeps sockets and timers of closed PeerConnections around for a while; the
  // job is done, so do not wait for them.
  setTimeout(() => process.exit(0), 200).unref();
}

async function main(): Promise<void> {
  // Ctrl-C reaches the whole process group: the coordinator decides when children stop.
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => void stop());
  process.on('message', (raw: unknown) => {
    const msg = raw as ParentMessage;
    if (msg.type === 'join' && !stopping) {
      const p = join(msg);
      pendingJoins.push(p);
      void p.finally(() => (pendingJoins = pendingJoins.filter((x) => x !== p)));
    } else if (msg.type === 'expect') {
      if (watch) watch.expect(msg.roomId, msg.producers);
      else pendingExpect.push(msg);
    } else if (msg.type === 'sample') {
      sample(msg.seq);
    } else if (msg.type === 'stop') {
      void stop();
    }
  });
  installWerift();
  await loadClip(DEFAULT_CLIP);
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  console.error(`load-test child ${process.pid}: ${errorText(error)}`);
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
