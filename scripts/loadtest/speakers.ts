/**
 * How well the server followed the simulated speakers: every turn change a member of a room
 * lived through should bring an `activeSpeaker` announcement naming the new speaker before
 * the turn ends. Reads the peers' summaries only, so it runs on the coordinator at the end.
 */
import type { PeerSummary } from './ipc.js';
import type { PeerPlan } from './plan.js';
import { slotSpeakingAt } from './peer/speaking.js';
import { round, summarize, type Summary } from './stats.js';

/**
 * A listener's first seconds are left out: its own audio consumers and the server's
 * detection window (a few hundred ms of levels) need them before any switch can be heard.
 */
const WARM_UP_MS = 2000;

export interface SpeakerReport {
  turnSec: number;
  /** Turn changes lived through by some member of a room, summed over the members. */
  turns: number;
  /** Of them, announced (the new speaker named) before the turn was over. */
  followed: number;
  followedPct: number;
  /** Turn start → the announcement naming the new speaker, over the followed turns. */
  delayMs: Summary;
  /** Announcements naming a peer whose turn it was not, nor the previous one's. */
  wrong: number;
}

export function speakerReport(plan: readonly PeerPlan[], peers: readonly PeerSummary[], turnMs: number): SpeakerReport {
  const delays: number[] = [];
  let turns = 0;
  let wrong = 0;
  const byRoom = new Map<string, PeerSummary[]>();
  for (const p of peers) {
    const members = byRoom.get(p.roomId);
    if (members) members.push(p);
    else byRoom.set(p.roomId, [p]);
  }
  for (const members of byRoom.values()) {
    const speakerBySlot = new Map<number, string>();
    let of = 0;
    for (const p of members) {
      const slot = plan[p.index]?.publisherSlot;
      if (slot && p.failed === undefined) speakerBySlot.set(slot.slot, p.peerId);
      if (slot) of = slot.of;
    }
    // One publisher never changes turn; a room without the figures has nothing to check.
    if (of < 2 || speakerBySlot.size === 0) continue;
    for (const listener of members) {
      const heard = listener.speakers;
      if (!heard || listener.failed !== undefined) continue;
      const from = heard.since + WARM_UP_MS;
      for (let start = Math.ceil(from / turnMs) * turnMs; start + turnMs <= heard.until; start += turnMs) {
        const speaker = speakerBySlot.get(slotSpeakingAt(turnMs, of, start));
        if (speaker === undefined) continue;
        turns++;
        const named = heard.changes.find((c) => c.peerId === speaker && c.at >= start && c.at < start + turnMs);
        if (named) delays.push(named.at - start);
      }
      for (const c of heard.changes) {
        if (c.at < from || c.peerId === null) continue;
        const now = speakerBySlot.get(slotSpeakingAt(turnMs, of, c.at));
        const before = speakerBySlot.get(slotSpeakingAt(turnMs, of, c.at - turnMs));
        if (c.peerId !== now && c.peerId !== before) wrong++;
      }
    }
  }
  return {
    turnSec: turnMs / 1000,
    turns,
    followed: delays.length,
    followedPct: turns > 0 ? round((delays.length / turns) * 100) : 0,
    delayMs: summarize(delays),
    wrong,
  };
}
