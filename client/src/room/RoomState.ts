/**
 * What the room view shows: participants with their media, the active speaker and the
 * chat log. Pure state plus change events; no signaling or media objects in here.
 */
import { Emitter } from '../lib/Emitter.js';
import type { ChatMessage, Role, WaitingPeer } from '../protocol.js';

export type Source = 'mic' | 'camera' | 'screen';

export interface MediaSlot {
  producerId: string;
  track: MediaStreamTrack | null;
  /** The sender paused it (muted mic, camera off). */
  paused: boolean;
}

export interface Participant {
  id: string;
  displayName: string;
  local: boolean;
  /** What they may do in the room; `participant` from servers older than roles. */
  role: Role;
  media: Partial<Record<Source, MediaSlot>>;
}

/** The room's settings that moderators change while it runs. */
export interface RoomSettings {
  locked: boolean;
  lobby: boolean;
}

export type ChatEntry =
  | { kind: 'message'; id: string; peerId: string; displayName: string; text: string; ts: number; own: boolean }
  | { kind: 'notice'; id: string; text: string; ts: number };

type RoomStateEvents = {
  participant: [Participant];
  participantRemoved: [string];
  speaker: [string | null];
  chat: [ChatEntry];
  settings: [RoomSettings];
  /** Who waits in the lobby changed (told to moderators only). */
  waiting: [readonly WaitingPeer[]];
  /** The room started or stopped being recorded. */
  recording: [boolean];
};

export class RoomState extends Emitter<RoomStateEvents> {
  readonly roomId: string;
  readonly #participants = new Map<string, Participant>();
  readonly #chat: ChatEntry[] = [];
  readonly #chatIds = new Set<string>();
  #noticeSeq = 0;
  #localId: string | null = null;
  #speaker: string | null = null;
  #settings: RoomSettings = { locked: false, lobby: false };
  #waiting: WaitingPeer[] = [];
  #recording = false;

  constructor(roomId: string) {
    super();
    this.roomId = roomId;
  }

  get localId(): string | null {
    return this.#localId;
  }

  get speaker(): string | null {
    return this.#speaker;
  }

  get participants(): Participant[] {
    return [...this.#participants.values()];
  }

  get chat(): readonly ChatEntry[] {
    return this.#chat;
  }

  get settings(): RoomSettings {
    return this.#settings;
  }

  get waiting(): readonly WaitingPeer[] {
    return this.#waiting;
  }

  /** Our own role; `participant` before the join. */
  get localRole(): Role {
    return (this.#localId && this.#participants.get(this.#localId)?.role) || 'participant';
  }

  setSettings(settings: RoomSettings): void {
    if (settings.locked === this.#settings.locked && settings.lobby === this.#settings.lobby) return;
    this.#settings = { ...settings };
    this.emit('settings', this.#settings);
  }

  /** Whether the room is being recorded (everyone is shown it). */
  get recording(): boolean {
    return this.#recording;
  }

  setRecording(recording: boolean): void {
    if (recording === this.#recording) return;
    this.#recording = recording;
    this.emit('recording', recording);
  }

  setWaiting(waiting: readonly WaitingPeer[]): void {
    this.#waiting = [...waiting];
    this.emit('waiting', this.#waiting);
  }

  addWaiting(peer: WaitingPeer): void {
    if (this.#waiting.some((w) => w.peerId === peer.peerId)) return;
    this.setWaiting([...this.#waiting, peer]);
  }

  removeWaiting(peerId: string): void {
    if (this.#waiting.some((w) => w.peerId === peerId)) this.setWaiting(this.#waiting.filter((w) => w.peerId !== peerId));
  }

  participant(id: string): Participant | undefined {
    return this.#participants.get(id);
  }

  /** A (re)join gave us a new id: the local participant moves to it. */
  setLocal(id: string, displayName: string, role: Role): void {
    const previous = this.#localId ? this.#participants.get(this.#localId) : undefined;
    if (previous) this.removeParticipant(previous.id);
    this.#localId = id;
    this.upsertParticipant({ id, displayName, local: true, role, media: previous?.media ?? {} });
  }

  upsertParticipant(p: {
    id: string;
    displayName: string;
    local?: boolean;
    role?: Role | undefined;
    media?: Participant['media'];
  }): Participant {
    const existing = this.#participants.get(p.id);
    const next: Participant = {
      id: p.id,
      displayName: p.displayName,
      local: p.local ?? existing?.local ?? false,
      role: p.role ?? existing?.role ?? 'participant',
      media: p.media ?? existing?.media ?? {},
    };
    this.#participants.set(p.id, next);
    this.emit('participant', next);
    return next;
  }

  /** Applies a new name and tells the chat about it. */
  rename(id: string, displayName: string): void {
    const p = this.#participants.get(id);
    if (!p || p.displayName === displayName) return;
    this.upsertParticipant({ ...p, displayName });
    this.addNotice(p.local ? `You are now ${displayName}` : `${p.displayName} is now ${displayName}`);
  }

  /** The host role passed on (or a role changed otherwise). */
  setRole(id: string, role: Role): void {
    const p = this.#participants.get(id);
    if (!p || p.role === role) return;
    this.upsertParticipant({ ...p, role });
    if (role === 'moderator') this.addNotice(p.local ? 'You are now a moderator of this room' : `${p.displayName} is now a moderator`);
  }

  removeParticipant(id: string): Participant | undefined {
    const p = this.#participants.get(id);
    if (!p) return undefined;
    this.#participants.delete(id);
    if (this.#speaker === id) this.setSpeaker(null);
    this.emit('participantRemoved', id);
    return p;
  }

  /** Drops every remote participant, e.g. when the connection is lost. */
  removeRemotes(): void {
    for (const p of this.participants) if (!p.local) this.removeParticipant(p.id);
  }

  setMedia(peerId: string, source: Source, slot: MediaSlot | null): void {
    const p = this.#participants.get(peerId);
    if (!p) return;
    const media = { ...p.media };
    if (slot) media[source] = slot;
    else delete media[source];
    this.upsertParticipant({ ...p, media });
  }

  /** Marks the media with this producer id paused or resumed, wherever it is. */
  setProducerPaused(peerId: string, producerId: string, paused: boolean): void {
    const p = this.#participants.get(peerId);
    if (!p) return;
    for (const [source, slot] of Object.entries(p.media) as [Source, MediaSlot][]) {
      if (slot.producerId === producerId && slot.paused !== paused) this.setMedia(peerId, source, { ...slot, paused });
    }
  }

  setSpeaker(peerId: string | null): void {
    if (peerId === this.#speaker) return;
    this.#speaker = peerId;
    this.emit('speaker', peerId);
  }

  addMessage(message: ChatMessage): void {
    if (this.#chatIds.has(message.id)) return;
    this.#chatIds.add(message.id);
    this.#push({ kind: 'message', ...message, own: message.peerId === this.#localId });
  }

  addNotice(text: string, ts = Date.now()): void {
    this.#push({ kind: 'notice', id: `notice-${++this.#noticeSeq}`, text, ts });
  }

  #push(entry: ChatEntry): void {
    this.#chat.push(entry);
    // Keep the log bounded for long meetings.
    if (this.#chat.length > 500) this.#chat.splice(0, this.#chat.length - 500);
    this.emit('chat', entry);
  }
}
