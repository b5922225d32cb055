/**
 * Whether each peer of a load-test child gets the media it should, judged inside the child
 * (where the counters are) several times a second, so that a peer that stops receiving
 * mid-run, or never receives a publisher of its room, is known while it happens rather than
 * hidden in end-of-run totals. Only state changes cross to the coordinator.
 */
import type { ExpectedProducer, FirstMediaMessage, HealthMessage } from './ipc.js';
import type { LoadPeer } from './peer/loadPeer.js';

interface ConsumerWatch {
  packets: number;
  /** performance.now() when the packet count last grew, or when the consumer was first seen. */
  changedAt: number;
  received: boolean;
}

interface PeerWatch {
  index: number;
  roomId: string;
  peer: LoadPeer;
  addedAt: number;
  consumers: Map<string, ConsumerWatch>;
  down?: { reason: string };
  /** Down until every producer expected of it has a consumer with media (a peer that joined again). */
  untilMedia: boolean;
  firstMediaSent: boolean;
}

interface RoomExpectation {
  producers: ExpectedProducer[];
  /** performance.now() when each producer was first expected in this child. */
  since: Map<string, number>;
}

const epoch = (perfNow: number) => performance.timeOrigin + perfNow;
const secs = (ms: number) => (ms / 1000).toFixed(1);

export class MediaWatch {
  readonly #gapMs: number;
  readonly #report: (message: HealthMessage | FirstMediaMessage) => void;
  readonly #peers = new Map<number, PeerWatch>();
  readonly #rooms = new Map<string, RoomExpectation>();
  /** Open consumers that got a packet within the gap limit at the last check. */
  #fresh = new Set<string>();

  constructor(gapMs: number, report: (message: HealthMessage | FirstMediaMessage) => void) {
    this.#gapMs = gapMs;
    this.#report = report;
  }

  /** The room's producers every one of its peers (but their publisher) should receive. */
  expect(roomId: string, producers: ExpectedProducer[], now = performance.now()): void {
    const prev = this.#rooms.get(roomId);
    const since = new Map<string, number>();
    for (const p of producers) since.set(p.producerId, prev?.since.get(p.producerId) ?? now);
    this.#rooms.set(roomId, { producers, since });
  }

  /**
   * Watches a peer from now on. `down` says it is already down (the coordinator was told):
   * it stays so until it receives every producer of its room.
   */
  add(index: number, roomId: string, peer: LoadPeer, now = performance.now(), down?: { reason: string }): void {
    this.#peers.set(index, {
      index,
      roomId,
      peer,
      addedAt: now,
      consumers: new Map(),
      firstMediaSent: down !== undefined,
      untilMedia: down !== undefined,
      ...(down ? { down: { reason: down.reason } } : {}),
    });
  }

  /** The peer failed for good or was closed: no more health reports for it. */
  remove(index: number): void {
    this.#peers.delete(index);
  }

  isFresh(consumerId: string): boolean {
    return this.#fresh.has(consumerId);
  }

  /** Peers down at the last check. */
  get downCount(): number {
    let n = 0;
    for (const w of this.#peers.values()) if (w.down) n++;
    return n;
  }

  check(now = performance.now()): void {
    const fresh = new Set<string>();
    for (const w of this.#peers.values()) {
      if (w.peer.closed) continue;
      const problem = this.#problem(w, now, fresh);
      if (problem && !w.down) {
        w.down = { reason: problem.reason };
        this.#report({ type: 'health', index: w.index, down: true, reason: problem.reason, at: epoch(problem.since) });
      } else if (!problem && w.down) {
        this.#report({ type: 'health', index: w.index, down: false, reason: w.down.reason, at: epoch(now) });
        delete w.down;
      }
    }
    this.#fresh = fresh;
  }

  /** The first thing wrong with the peer's media now, and since when; undefined if nothing is. */
  #problem(w: PeerWatch, now: number, fresh: Set<string>): { reason: string; since: number } | undefined {
    const room = this.#rooms.get(w.roomId);
    const names = new Map(room?.producers.map((p) => [p.producerId, p.displayName]));
    const stats = w.peer.consumerStats();
    let problem: { reason: string; since: number } | undefined;
    const open = new Set<string>();
    for (const s of stats) {
      if (s.closed) {
        w.consumers.delete(s.consumerId);
        continue;
      }
      open.add(s.producerId);
      let c = w.consumers.get(s.consumerId);
      if (!c) {
        c = { packets: 0, changedAt: now, received: false };
        w.consumers.set(s.consumerId, c);
      }
      if (s.packets > c.packets) {
        c.packets = s.packets;
        c.changedAt = now;
        c.received = true;
      }
      if (c.received && !w.firstMediaSent && s.firstPacketAt !== undefined) {
        w.firstMediaSent = true;
        const first = Math.min(...stats.flatMap((x) => (x.firstPacketAt !== undefined ? [x.firstPacketAt] : [])));
        this.#report({ type: 'firstMedia', index: w.index, ms: first - w.peer.joinedAt });
      }
      const gap = now - c.changedAt;
      if (gap <= this.#gapMs) {
        if (c.received) fresh.add(s.consumerId);
        continue;
      }
      const from = names.get(s.producerId) ?? s.peerId;
      problem ??= {
        reason: c.received
          ? `no RTP on the ${s.kind} of ${from} for more than ${secs(this.#gapMs)} s`
          : `no RTP on the ${s.kind} of ${from} within ${secs(this.#gapMs)} s of consuming it`,
        since: c.changedAt,
      };
    }
    if (problem) return problem;
    if (w.untilMedia) {
      const receiving = new Set(stats.filter((s) => !s.closed && (w.consumers.get(s.consumerId)?.received ?? false)).map((s) => s.producerId));
      const waiting = (room?.producers ?? []).filter((p) => p.peerId !== w.peer.peerId && !receiving.has(p.producerId));
      if (waiting.length > 0) return { reason: w.down?.reason ?? 'waiting for media', since: w.addedAt };
      w.untilMedia = false;
    }
    if (!room) return undefined;
    for (const p of room.producers) {
      if (p.peerId === w.peer.peerId || open.has(p.producerId)) continue;
      const since = Math.max(w.addedAt, room.since.get(p.producerId) ?? now);
      if (now - since > this.#gapMs) {
        return { reason: `no consumer of the ${p.kind} of ${p.displayName} ${secs(this.#gapMs)} s after it was published`, since };
      }
    }
    return undefined;
  }
}
