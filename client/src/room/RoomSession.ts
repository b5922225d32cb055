/**
 * A visit to one room: joins, consumes the other participants' media (video only while the
 * view shows it, see VideoReception), keeps RoomState up to date from server events, and
 * rejoins after the server ends our membership under us (`room:closed`, e.g. its media
 * worker died). When the signaling connection drops, the media stays up (it does not go
 * through that connection) and, once reconnected, the session is resumed (`room:resume`)
 * and brought up to date from the server's snapshot; only if the server no longer holds it
 * (the drop outlasted its resume window, or the server restarted) is the room joined again.
 * Each (re)join is an epoch; work started in an older epoch is dropped when it completes.
 */
import { Emitter, Subscriptions } from '../lib/Emitter.js';
import { nameProblem } from '../lib/names.js';
import type { LocalMedia } from '../media/LocalMedia.js';
import { loadDevice, MediaSession, type LoadedDevice, type RemoteMedia } from '../media/MediaSession.js';
import {
  RequestError,
  retryUnavailable,
  type JoinData,
  type ProducerInfo,
  type ResumeData,
  type ServerEventPayload,
} from '../protocol.js';
import type { SignalingClient } from '../signaling/SignalingClient.js';
import { Publisher } from './Publisher.js';
import { Moderation } from './Moderation.js';
import { RoomState, type Source } from './RoomState.js';
import { VideoReception } from './VideoReception.js';

export interface JoinOptions {
  roomId: string;
  displayName?: string;
  password?: string;
  /** List the room in the lobby if this join creates it. */
  public: boolean;
  /** A join token from the invitation link, for servers that require one. */
  token?: string;
}

/**
 * Why the session is over for good: `kicked` (a moderator removed us), `ended` (a moderator
 * ended the meeting), `refused` (a rejoin was refused, e.g. the room got a password).
 */
export interface SessionEnd {
  reason: 'kicked' | 'ended' | 'refused';
  message: string;
}

export type SessionStatus = 'idle' | 'joining' | 'joined' | 'reconnecting' | 'left';

type RoomSessionEvents = {
  status: [SessionStatus];
  /** The room can no longer be (re)joined, and no rejoin is tried. */
  ended: [SessionEnd];
  problem: [string];
  /** The join waits in the room's lobby until a moderator lets us in. */
  waiting: [];
  /** A moderator muted one of our sources (it is now off here too; we may turn it on again). */
  muted: [Source];
};

type RoomClosedReason = ServerEventPayload<'room:closed'>['reason'];

/** Join failures that retrying will not fix. */
const FINAL_CODES = new Set(['FORBIDDEN', 'UNAUTHORIZED', 'ROOM_FULL', 'INVALID_REQUEST']);
/** A join the server has not answered in this long has failed, unless it is waiting in the lobby. */
const JOIN_ANSWER_MS = 10_000;
/** How long a join may wait in a room's lobby for a moderator. */
const LOBBY_WAIT_MS = 60 * 60_000;

const CONNECTION_LOST = 'Connection lost — reconnecting…';
/** What the page shows for each way the server can end our membership and let us rejoin. */
const ROOM_CLOSED: Record<Exclude<RoomClosedReason, 'ended'>, string> = {
  workerclose: 'Media server restarted — rejoining…',
  shutdown: 'The server is restarting — reconnecting…',
  empty: 'The room was closed — rejoining…',
};
/** Failures of `room:resume` after which the session may still be resumed on the next connection. */
const CONNECTION_CODES = new Set(['TIMEOUT', 'DISCONNECTED']);
const MOVING = 'The server is restarting — moving the call to another one…';
/**
 * A server that is shutting down closes the connection right after `room:closed`, and the
 * reconnect then rejoins; a rejoin is tried on the same connection only if it is still up
 * after this long.
 */
const SHUTDOWN_REJOIN_DELAY_MS = 1500;

/**
 * Delay before the next rejoin after `failures` failed ones: 1, 2, 4, 8, then 15 s at most,
 * each drawn from its upper half so that a roomful of clients does not retry in step.
 */
function rejoinDelay(failures: number): number {
  const base = Math.min(1000 * 2 ** failures, 15_000);
  return base / 2 + Math.random() * (base / 2);
}

export class RoomSession extends Emitter<RoomSessionEvents> {
  readonly state: RoomState;
  readonly publisher: Publisher;
  /** Moderator requests; the server refuses them (FORBIDDEN) to anyone else. */
  readonly moderation: Moderation;
  readonly #signaling: SignalingClient;
  readonly #localMedia: LocalMedia;
  readonly #options: JoinOptions;
  readonly #subs = new Subscriptions();
  readonly #remote = new Map<string, RemoteMedia>();
  readonly #reception: VideoReception;
  /** Per peer, the simulcast layer that suits the size of their tile. */
  readonly #layers = new Map<string, number>();
  /** The layer last asked for on each consumer; forgotten with the consumer. */
  readonly #appliedLayers = new WeakMap<RemoteMedia, number>();
  #media: MediaSession | null = null;
  /** Kept across rejoins: loading one costs a probe of the browser's codecs. */
  #device: LoadedDevice | null = null;
  #status: SessionStatus = 'idle';
  #epoch = 0;
  #locked = false;
  #queue: Promise<void> = Promise.resolve();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Rejoin attempts that failed since the last successful join. */
  #failedRejoins = 0;
  #interruption = CONNECTION_LOST;
  /** The join is held in the room's lobby. */
  #waiting = false;
  /** Removed, or the meeting ended: nothing more is sent and nothing rejoins. */
  #over = false;
  /** From the last join or resume answer: takes the session back after a signaling drop. */
  #resumeToken: string | null = null;
  /**
   * The signaling connection dropped while joined: the media is kept, and the session is
   * resumed on the next connection if the server still holds it.
   */
  #suspended = false;

  constructor(signaling: SignalingClient, localMedia: LocalMedia, options: JoinOptions) {
    super();
    this.#signaling = signaling;
    this.#localMedia = localMedia;
    this.#options = { ...options };
    this.state = new RoomState(options.roomId);
    this.publisher = new Publisher(signaling, localMedia);
    this.moderation = new Moderation(signaling);
    this.#reception = new VideoReception(signaling);
    this.#listen();
  }

  get status(): SessionStatus {
    return this.#status;
  }

  get roomId(): string {
    return this.#options.roomId;
  }

  /** While `reconnecting`: what happened and what the session is doing about it, for people. */
  get interruption(): string {
    return this.#interruption;
  }

  /** Whether the room asks a password of those who join (known once joined). */
  get locked(): boolean {
    return this.#locked;
  }

  setPassword(password: string): void {
    this.#options.password = password;
  }

  /**
   * Joins the room and starts media. Rejects with the server's RequestError (e.g.
   * FORBIDDEN for a locked room, ROOM_FULL) so that the caller can ask for a password.
   */
  async join(): Promise<void> {
    const epoch = ++this.#epoch;
    this.#setStatus('joining');
    // The server may tell us about the room (peer:joined, producer:new) before the join's
    // answer arrives; such events wait here until the join is set up.
    let joined!: () => void;
    this.#queue = new Promise<void>((resolve) => (joined = resolve));
    try {
      await this.#joinOnce(epoch);
    } finally {
      joined();
    }
  }

  async #joinOnce(epoch: number): Promise<void> {
    let data: JoinData;
    try {
      // Requests fail at once while disconnected; a join asked for meanwhile waits a while.
      await this.#signaling.whenConnected();
      // A server replacing its media worker asks to retry in a moment.
      data = await retryUnavailable(() => this.#requestJoin(epoch), { stop: () => epoch !== this.#epoch });
    } catch (error) {
      // A newer join (after a reconnect) has taken over; its outcome is what counts.
      if (epoch !== this.#epoch) return;
      // A failed rejoin is still an interruption (it is retried); a first join is not.
      const rejoin = this.state.localId !== null;
      this.#setStatus(rejoin || !this.#signaling.connected ? 'reconnecting' : 'idle');
      throw error;
    }
    if (epoch !== this.#epoch) {
      // The user left while the server was admitting them: do not stay behind as a ghost.
      if (this.#status === 'left' && this.#signaling.connected) void this.#sendLeave();
      return;
    }
    // Later rejoins keep the name the server settled on, including an anonymous one.
    this.#options.displayName = data.displayName;
    this.#resumeToken = data.resumeToken;
    try {
      await this.#setup(epoch, data);
    } catch (error) {
      // The room ended under us meanwhile (its worker died) or the connection dropped: the
      // session that interrupted this join has taken over.
      if (epoch !== this.#epoch) return;
      // The server admitted us: leave, so that the next join is not refused as a second one.
      if (this.#signaling.connected) await this.#sendLeave();
      throw error;
    }
  }

  /**
   * Tells the session how wide (in device pixels) a peer's camera is shown, so that the SFU
   * forwards the smallest simulcast layer that still looks sharp there.
   */
  setDisplayWidth(peerId: string, pixels: number): void {
    const layer = pixels <= 240 ? 0 : pixels <= 480 ? 1 : 2;
    if (this.#layers.get(peerId) === layer) return;
    this.#layers.set(peerId, layer);
    for (const remote of this.#remote.values()) {
      if (remote.peerId === peerId) void this.#applyLayer(remote);
    }
  }

  /** Which remote videos (by producer id) the view shows on screen now; the others are paused. */
  setVisibleVideo(producerIds: ReadonlySet<string>): void {
    this.#reception.setVisible(producerIds);
  }

  /**
   * Changes our name for everyone in the room and for later rejoins. Rejects with the
   * server's reason (e.g. too long) and leaves the old name in place.
   */
  async rename(displayName: string): Promise<void> {
    if (this.#status !== 'joined') throw new Error('Not connected to the room; try again in a moment');
    const epoch = this.#epoch;
    // The server trims too; the name kept here must be the one the others are shown.
    const name = displayName.trim();
    // Checked here too, so that the reason reads as a sentence rather than a schema error.
    const problem = nameProblem(name);
    if (problem) throw new Error(problem);
    try {
      await this.#signaling.request('peer:rename', { displayName: name });
    } catch (error) {
      throw error instanceof RequestError ? new Error(serverReason(error)) : error;
    }
    // A rejoin in the meantime went in under the old name, which is what the others now see.
    if (epoch !== this.#epoch) throw new Error('The connection was interrupted; try again');
    this.#options.displayName = name;
    const id = this.state.localId;
    if (id) this.state.rename(id, name);
  }

  async sendChat(text: string): Promise<void> {
    const { message } = await this.#signaling.request('chat:send', { text });
    this.state.addMessage(message);
  }

  async leave(): Promise<void> {
    if (this.#status === 'left') return;
    // A join waiting in the lobby gives up its place there, which answers the join.
    const wasInRoom = (this.#status === 'joined' || this.#waiting) && !this.#over;
    this.#epoch++;
    clearTimeout(this.#retryTimer);
    this.#subs.clear();
    this.#dropMedia();
    this.#localMedia.close();
    this.#setStatus('left');
    if (wasInRoom && this.#signaling.connected) await this.#sendLeave();
    this.removeAllListeners();
  }

  async #sendLeave(): Promise<void> {
    try {
      await this.#signaling.request('room:leave', {});
    } catch (error) {
      console.warn('room:leave failed', error);
    }
  }

  #joinRequest() {
    const { roomId, displayName, password, token } = this.#options;
    return {
      roomId,
      public: this.#options.public,
      ...(displayName ? { displayName } : {}),
      ...(password ? { password } : {}),
      ...(token ? { token } : {}),
    };
  }

  /**
   * `room:join`, answered within JOIN_ANSWER_MS unless the server says the join waits in the
   * lobby (`room:waiting`): then it is answered when a moderator decides, or when we give up.
   */
  async #requestJoin(epoch: number): Promise<JoinData> {
    const answer = this.#signaling.request('room:join', this.#joinRequest(), LOBBY_WAIT_MS);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopWaiting = (): void => undefined;
    const unanswered = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RequestError('TIMEOUT', `no answer in ${JOIN_ANSWER_MS} ms`, 'room:join')), JOIN_ANSWER_MS);
      stopWaiting = this.#signaling.listen('room:waiting', () => {
        clearTimeout(timer);
        if (epoch !== this.#epoch) return;
        this.#waiting = true;
        this.emit('waiting');
      });
    });
    try {
      return await Promise.race([answer, unanswered]);
    } finally {
      clearTimeout(timer);
      stopWaiting();
      this.#waiting = false;
    }
  }

  /** The server will not have us back (removed, or the meeting ended): stop here, rejoin nothing. */
  #finish(end: SessionEnd): void {
    if (this.#over || this.#status === 'left') return;
    this.#over = true;
    this.#epoch++;
    clearTimeout(this.#retryTimer);
    this.#dropMedia();
    this.state.removeRemotes();
    this.emit('ended', end);
  }

  async #setup(epoch: number, data: JoinData): Promise<void> {
    const rejoin = this.state.localId !== null;
    this.#locked = data.locked;
    this.state.setLocal(data.peerId, data.displayName, data.role);
    this.state.setSettings({ locked: data.locked, lobby: data.lobby });
    this.state.setRecording(data.recording === true);
    this.state.setWaiting(data.waiting);
    if (data.role === 'viewer') {
      // A viewer cannot publish: what the pre-join screen opened is not needed.
      this.#localMedia.release('mic');
      this.#localMedia.release('camera');
    }
    for (const source of ['mic', 'camera', 'screen'] as const) this.#showLocal(source);
    for (const peer of data.peers) {
      if (peer.id !== data.peerId) this.state.upsertParticipant({ ...peer, local: false });
    }
    for (const message of data.chat) this.state.addMessage(message);
    this.state.addNotice(rejoin ? 'Reconnected' : `You joined ${data.roomId}`);

    this.#device = await loadDevice(data.rtpCapabilities, this.#device);
    const media = await MediaSession.create(this.#signaling, data, () => this.#signaling.connected && this.#status === 'joined', this.#device);
    if (epoch !== this.#epoch) {
      media.close();
      return;
    }
    this.#media = media;
    this.#failedRejoins = 0;
    this.#setStatus('joined');
    await Promise.all([
      data.role === 'viewer' ? undefined : this.publisher.attach(media),
      ...data.producers.map((p) => this.#consume(epoch, p)),
    ]);
  }

  #listen(): void {
    const s = this.#signaling;
    this.#subs.add(
      s.on('state', (state) => {
        if (state === 'reconnecting') this.#onConnectionLost();
        else if (state === 'connected' && this.#status === 'reconnecting') {
          if (this.#suspended) void this.#resume();
          else this.#rejoin();
        }
      }),
      s.listen('peer:joined', (peer) =>
        this.#serially(() => {
          if (peer.id === this.state.localId) return;
          this.state.upsertParticipant({ ...peer, local: false });
          this.state.addNotice(`${peer.displayName} joined`);
        }),
      ),
      s.listen('peer:left', ({ peerId }) =>
        this.#serially(() => {
          for (const [producerId, remote] of this.#remote) {
            if (remote.peerId === peerId) this.#closeRemote(producerId);
          }
          const gone = this.state.removeParticipant(peerId);
          if (gone) this.state.addNotice(`${gone.displayName} left`);
        }),
      ),
      s.listen('peer:updated', ({ peerId, displayName, role }) =>
        this.#serially(() => {
          this.state.rename(peerId, displayName);
          if (role) this.state.setRole(peerId, role);
        }),
      ),
      s.listen('peer:muted', ({ source }) =>
        this.#serially(() => {
          // The server paused the producer; showing it off here lets us turn it on again.
          if (source === 'screen') this.publisher.stopScreenShare();
          else void this.publisher.setEnabled(source, false);
          this.emit('muted', source);
        }),
      ),
      s.listen('room:kicked', () =>
        this.#finish({ reason: 'kicked', message: 'A moderator removed you from this room.' }),
      ),
      s.listen('room:updated', (settings) => this.#serially(() => this.state.setSettings(settings))),
      s.listen('recording:started', () => this.#serially(() => this.state.setRecording(true))),
      s.listen('recording:stopped', ({ reason, message }) =>
        this.#serially(() => {
          this.state.setRecording(false);
          if (reason === 'error' || reason === 'disk-full') this.emit('problem', `The recording stopped: ${message ?? reason}`);
        }),
      ),
      s.listen('lobby:waiting', (peer) => this.#serially(() => this.state.addWaiting(peer))),
      s.listen('lobby:left', ({ peerId }) => this.#serially(() => this.state.removeWaiting(peerId))),
      s.listen('producer:new', (info) => this.#serially((epoch) => this.#consume(epoch, info))),
      s.listen('producer:closed', ({ producerId }) => this.#serially(() => this.#closeRemote(producerId))),
      s.listen('consumer:closed', ({ producerId }) => this.#serially(() => this.#closeRemote(producerId))),
      s.listen('producer:paused', ({ peerId, producerId }) =>
        this.#serially(() => this.state.setProducerPaused(peerId, producerId, true)),
      ),
      s.listen('producer:resumed', ({ peerId, producerId }) =>
        this.#serially(() => this.state.setProducerPaused(peerId, producerId, false)),
      ),
      s.listen('chat:message', (message) => this.state.addMessage(message)),
      s.listen('activeSpeaker', ({ peerId }) => this.state.setSpeaker(peerId)),
      s.listen('room:closed', ({ reason }) => this.#onRoomClosed(reason)),
      s.listen('server:draining', (ev) => this.#onDraining(ev)),
      // Not queued behind room events: it concerns our own producers, never a consume.
      s.listen('producer:demand', ({ producerId, maxSpatialLayer }) =>
        this.publisher.setDemand(producerId, maxSpatialLayer),
      ),
      this.publisher.on('change', (source) => this.#showLocal(source)),
      this.publisher.on('problem', (message) => this.emit('problem', message)),
    );
  }

  /**
   * Room events are applied in order and only after the join that they follow has set up
   * media, so that e.g. a `producer:paused` never overtakes the consume it refers to.
   */
  #serially(task: (epoch: number) => void | Promise<void>): void {
    const epoch = this.#epoch;
    this.#queue = this.#queue.then(async () => {
      if (epoch !== this.#epoch || this.#status !== 'joined') return;
      try {
        await task(epoch);
      } catch (error) {
        console.warn('room event handling failed', error);
      }
    });
  }

  async #consume(epoch: number, info: ProducerInfo): Promise<void> {
    const media = this.#media;
    if (!media || info.peerId === this.state.localId || this.#remote.has(info.producerId)) return;
    let remote: RemoteMedia;
    try {
      remote = await media.consume(info);
    } catch (error) {
      // A producer that closed while we were subscribing (its peer left at once) is not a problem.
      const gone = error instanceof RequestError && error.code === 'NOT_FOUND';
      if (epoch === this.#epoch && !gone) console.warn(`cannot receive ${info.source} of ${info.peerId}`, error);
      return;
    }
    if (epoch !== this.#epoch) {
      remote.consumer.close();
      return;
    }
    this.#remote.set(info.producerId, remote);
    // Before the view learns of it, so that the view's answer finds it here.
    if (remote.consumer.kind === 'video') this.#reception.add(remote);
    void this.#applyLayer(remote);
    this.state.setMedia(info.peerId, info.source, {
      producerId: info.producerId,
      track: remote.consumer.track,
      paused: remote.producerPaused,
    });
  }

  async #applyLayer(remote: RemoteMedia): Promise<void> {
    const layer = this.#layers.get(remote.peerId);
    const consumerId = remote.consumer.id;
    if (!remote.simulcast || remote.source !== 'camera' || layer === undefined) return;
    if (this.#appliedLayers.get(remote) === layer || remote.consumer.closed) return;
    this.#appliedLayers.set(remote, layer);
    try {
      await this.#signaling.request('consumer:setPreferredLayers', { consumerId, spatialLayer: layer });
    } catch (error) {
      this.#appliedLayers.delete(remote);
      if (!remote.consumer.closed) console.warn('cannot choose a video layer', error);
    }
  }

  #closeRemote(producerId: string): void {
    const remote = this.#remote.get(producerId);
    if (!remote) return;
    this.#remote.delete(producerId);
    this.#reception.remove(producerId);
    remote.consumer.close();
    this.state.setMedia(remote.peerId, remote.source, null);
  }

  #showLocal(source: 'mic' | 'camera' | 'screen'): void {
    const id = this.state.localId;
    if (!id) return;
    const { track, enabled } = this.publisher.state(source);
    this.state.setMedia(id, source, track ? { producerId: `local-${source}`, track, paused: !enabled } : null);
  }

  /**
   * While joined, the media (its own UDP path) is kept: the server holds our membership for a
   * while, and the reconnect resumes it. A join still under way is abandoned and made again,
   * and so is a membership whose connection moves to another server (the new one cannot
   * resume it).
   */
  #onConnectionLost(): void {
    if (this.#status === 'joined' && this.#resumeToken !== null && !this.#over && !this.#signaling.moving) {
      this.#suspended = true;
      this.#interruption = CONNECTION_LOST;
      this.state.addNotice(CONNECTION_LOST);
      this.#setStatus('reconnecting');
      return;
    }
    this.#interrupt(this.#signaling.moving ? MOVING : CONNECTION_LOST);
  }

  /**
   * Takes the session back on the new connection: same peer, same transports, producers and
   * consumers; the room as it is now replaces what the gap left us with. If the server no
   * longer holds it, the room is joined again.
   */
  async #resume(): Promise<void> {
    const token = this.#resumeToken;
    const epoch = this.#epoch;
    if (token === null) return this.#abandonAndRejoin();
    // Room events that follow the answer wait until the snapshot is applied.
    let resumed!: () => void;
    this.#queue = new Promise<void>((resolve) => (resumed = resolve));
    try {
      let data: ResumeData;
      try {
        data = await this.#signaling.request('room:resume', { token });
      } catch (error) {
        if (epoch !== this.#epoch || this.#status !== 'reconnecting') return;
        // The connection dropped again: the next one tries again.
        if (error instanceof RequestError && CONNECTION_CODES.has(error.code) && !this.#signaling.connected) return;
        console.info('session could not be resumed; joining again', error instanceof Error ? error.message : error);
        return this.#abandonAndRejoin();
      }
      if (epoch !== this.#epoch || this.#status !== 'reconnecting') return;
      this.#suspended = false;
      this.#resumeToken = data.resumeToken;
      await this.#applyResume(epoch, data);
    } finally {
      resumed();
    }
  }

  /** Brings the view and the media in line with the room as the resume answer describes it. */
  async #applyResume(epoch: number, data: ResumeData): Promise<void> {
    this.#locked = data.locked;
    this.state.setRole(data.peerId, data.role);
    this.state.setSettings({ locked: data.locked, lobby: data.lobby });
    this.state.setRecording(data.recording === true);
    this.state.setWaiting(data.waiting);
    const peers = new Map(data.peers.map((p) => [p.id, p]));
    for (const p of this.state.participants) {
      if (p.local || peers.has(p.id)) continue;
      for (const [producerId, remote] of this.#remote) if (remote.peerId === p.id) this.#closeRemote(producerId);
      this.state.removeParticipant(p.id);
      this.state.addNotice(`${p.displayName} left`);
    }
    for (const peer of data.peers) {
      const known = this.state.participant(peer.id);
      if (!known) {
        this.state.upsertParticipant({ ...peer, local: false });
        this.state.addNotice(`${peer.displayName} joined`);
        continue;
      }
      if (known.displayName !== peer.displayName) this.state.rename(peer.id, peer.displayName);
      if (peer.role) this.state.setRole(peer.id, peer.role);
    }
    const producers = new Map(data.producers.map((p) => [p.producerId, p]));
    const consumers = new Set(data.consumers.map((c) => c.consumerId));
    for (const [producerId, remote] of this.#remote) {
      if (!producers.has(producerId) || !consumers.has(remote.consumer.id)) this.#closeRemote(producerId);
    }
    // Consumers the server made for requests whose answers the drop swallowed: nobody uses them.
    const used = new Set([...this.#remote.values()].map((r) => r.consumer.id));
    for (const { consumerId } of data.consumers) {
      if (!used.has(consumerId)) void this.#signaling.request('consumer:close', { consumerId }).catch(() => undefined);
    }
    for (const p of data.producers) {
      if (this.#remote.has(p.producerId)) this.state.setProducerPaused(p.peerId, p.producerId, p.paused);
    }
    for (const message of data.chat) this.state.addMessage(message);
    this.state.addNotice('Connection restored');
    this.#setStatus('joined');
    this.#reception.resync();
    await Promise.all([
      data.role === 'viewer' ? undefined : this.publisher.resync(),
      ...data.producers.filter((p) => !this.#remote.has(p.producerId)).map((p) => this.#consume(epoch, p)),
    ]);
  }

  /** The suspended session cannot be resumed: drop its media and join the room again. */
  #abandonAndRejoin(): void {
    this.#suspended = false;
    this.#resumeToken = null;
    if (this.#over) return;
    this.#epoch++;
    this.#dropMedia();
    this.state.removeRemotes();
    this.state.setSpeaker(null);
    this.#rejoin();
  }

  /** The server will close the room for a restart; where other servers are up the connection moves. */
  #onDraining({ remainingMs, otherNodes }: ServerEventPayload<'server:draining'>): void {
    if (this.#status !== 'joined' && this.#status !== 'joining') return;
    const text =
      otherNodes > 0
        ? 'The server is restarting: the call moves to another server in a moment.'
        : `The server is restarting: the call ends in about ${Math.max(1, Math.round(remainingMs / 1000))} s, then reconnects.`;
    this.state.addNotice(text);
    this.emit('problem', text);
  }

  /**
   * The server has removed us from the room while the connection stays up: our transports,
   * producers and consumers are gone there, the others were told we left. `workerclose`:
   * the media worker carrying our router died, and a join now lands on a healthy one.
   * `empty` cannot reach a member; it is treated the same. `shutdown`: the connection
   * usually drops next and the reconnect rejoins; if it stays up, rejoin on it.
   */
  #onRoomClosed(reason: RoomClosedReason): void {
    if (reason === 'ended') {
      this.#finish({ reason: 'ended', message: 'A moderator ended the meeting for everyone.' });
      return;
    }
    if (!this.#interrupt(ROOM_CLOSED[reason])) return;
    this.#scheduleRejoin(reason === 'shutdown' ? SHUTDOWN_REJOIN_DELAY_MS : 0);
  }

  /**
   * Drops this membership's media and remote participants and shows why; the caller
   * arranges the rejoin. False if there was no membership to interrupt.
   */
  #interrupt(text: string): boolean {
    if (this.#over || (this.#status !== 'joined' && this.#status !== 'joining')) return false;
    this.#suspended = false;
    this.#resumeToken = null;
    this.#epoch++;
    this.#dropMedia();
    this.state.removeRemotes();
    this.state.setSpeaker(null);
    this.#interruption = text;
    this.state.addNotice(text);
    this.#setStatus('reconnecting');
    return true;
  }

  /** Rejoins after `delayMs` if the connection is up then; a reconnect rejoins anyway. */
  #scheduleRejoin(delayMs: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (this.#signaling.connected && this.#status === 'reconnecting') this.#rejoin();
    }, delayMs);
  }

  #rejoin(): void {
    clearTimeout(this.#retryTimer);
    this.join().catch((error: unknown) => {
      if (error instanceof RequestError && FINAL_CODES.has(error.code)) {
        this.#finish({ reason: 'refused', message: serverReason(error) });
        return;
      }
      console.warn('rejoin failed, retrying', error);
      this.#setStatus('reconnecting');
      this.#scheduleRejoin(rejoinDelay(this.#failedRejoins++));
    });
  }

  #dropMedia(): void {
    this.#media?.close();
    this.#media = null;
    this.publisher.detach();
    // Closing the transports closed every consumer on them.
    this.#remote.clear();
    this.#reception.clear();
  }

  #setStatus(status: SessionStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.emit('status', status);
  }
}

/** The server's explanation without the request name, error code and field name, for people. */
function serverReason(error: RequestError): string {
  if (error.code === 'TIMEOUT') return 'The server did not answer; try again';
  return error.reason.replace(/(^|; )displayName: /g, '$1');
}
