/**
 * The node's recordings: at most one {@link Recorder} per room, started and stopped by the
 * room's moderators, stopped with the room (`room-ended`, or `drain` when the server shuts
 * down), and the files they left in RECORDINGS_DIR. Every recording has a sidecar
 * `<file>.json` (room, id, start, end, reason) from which the HTTP side lists a room's
 * recordings: the file name carries the room id and start time for people, the sidecar is
 * what the server trusts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import client from 'prom-client';
import { z } from 'zod';
import type { RecordingStartData } from '../../../protocol/index.js';
import { AppError, invalidState } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Room } from '../rooms/Room.js';
import { BLACK_KEYFRAME_640X360 } from './placeholder.js';
import { PortPairs } from './PortPairs.js';
import { freeBytes, Recorder, type StopReason } from './Recorder.js';

export interface RecordingsOptions {
  dir: string;
  minFreeBytes: number;
  ffmpeg?: string;
  log: Logger;
}

/** What the sidecar of a recording holds (and the listing shows). */
export const RecordingMeta = z.object({
  recordingId: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  roomId: z.string(),
  file: z.string().regex(/^[^/\\]+\.webm$/),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  reason: z.string().optional(),
});
export type RecordingMeta = z.infer<typeof RecordingMeta>;

export interface RecordingFile extends RecordingMeta {
  bytes: number;
  /** Still being written. */
  active: boolean;
}

interface Active {
  recorder: Recorder | undefined;
  meta: RecordingMeta;
  ready: Promise<void>;
}

/** The file name: the room id (characters unsafe in a file name replaced), the UTC start, a short random tail. */
export function recordingFileName(roomId: string, startedAt: number, recordingId: string): string {
  const room = roomId.replace(/[^\p{L}\p{N}_.~-]/gu, '_').replace(/^\.+/, '_').slice(0, 64);
  const stamp = new Date(startedAt).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${room}_${stamp}_${recordingId.slice(0, 8)}.webm`;
}

export class Recordings {
  readonly #o: RecordingsOptions;
  readonly #active = new Map<string, Active>();
  readonly #ports = new PortPairs();
  #closed = false;

  constructor(o: RecordingsOptions) {
    this.#o = o;
  }

  get dir(): string {
    return this.#o.dir;
  }

  get activeCount(): number {
    return this.#active.size;
  }

  /** The recorder of a room (tests, benchmark). */
  recorder(roomId: string): Recorder | undefined {
    return this.#active.get(roomId)?.recorder;
  }

  /** `noom_recordings_active` in the given registry. */
  registerMetrics(registry: client.Registry): void {
    const active = () => this.#active.size;
    new client.Gauge({
      name: 'noom_recordings_active',
      help: 'Recordings being written',
      registers: [registry],
      collect() {
        this.set(active());
      },
    });
  }

  async start(room: Room): Promise<RecordingStartData> {
    if (this.#closed) throw new AppError('DRAINING', 'the server is shutting down');
    if (this.#active.has(room.id) || room.recordedOn !== undefined) throw invalidState('the room is already being recorded');
    const startedAt = Date.now();
    const recordingId = randomBytes(16).toString('base64url');
    const file = recordingFileName(room.id, startedAt, recordingId);
    const meta: RecordingMeta = { recordingId, roomId: room.id, file, startedAt };
    // Taken before anything waits: a second start meanwhile is refused.
    const entry: Active = { recorder: undefined, meta, ready: Promise.resolve() };
    this.#active.set(room.id, entry);
    const log = this.#o.log.child({ room: room.id, recording: recordingId });
    let recorder: Recorder;
    let claimed = false;
    try {
      // In a cluster one node records the room: two starts on two nodes at once, one wins.
      claimed = await room.claimRecording();
      if (!claimed) throw invalidState('the room is already being recorded');
      await mkdir(this.#o.dir, { recursive: true });
      const free = await freeBytes(path.join(this.#o.dir, file));
      if (free !== undefined && free < this.#o.minFreeBytes) {
        throw new AppError('INVALID_STATE', `not enough free disk space to record (${Math.round(free / 1048576)} MB free)`);
      }
      await this.#writeMeta(meta);
      recorder = new Recorder({
        recordingId,
        roomId: room.id,
        media: room.media,
        speaker: room.activeSpeaker,
        file: path.join(this.#o.dir, file),
        sdpFile: path.join(os.tmpdir(), `noom-recording-${recordingId}.sdp`),
        placeholder: BLACK_KEYFRAME_640X360,
        minFreeBytes: this.#o.minFreeBytes,
        ports: this.#ports,
        ffmpeg: this.#o.ffmpeg ?? 'ffmpeg',
        log,
        remote: {
          ids: () => room.remote.producers.keys(),
          onNew: (listener) => {
            room.on('remoteProducer', listener);
            return () => room.off('remoteProducer', listener);
          },
        },
      });
      entry.recorder = recorder;
      entry.ready = recorder.start();
      await entry.ready;
    } catch (error) {
      this.#active.delete(room.id);
      if (claimed) room.setRecording(undefined);
      log.warn({ err: error }, 'recording could not start');
      if (error instanceof AppError) throw error;
      throw new AppError('INTERNAL', `the recording could not start: ${(error as Error).message}`);
    }
    if (room.closed || this.#closed) {
      await recorder.stop(this.#closed ? 'drain' : 'room-ended');
      this.#active.delete(room.id);
      room.setRecording(undefined);
      throw invalidState('the room closed');
    }
    recorder.once('end', (reason, message) => {
      this.#active.delete(room.id);
      room.setRecording(undefined);
      void this.#writeMeta({ ...meta, endedAt: Date.now(), reason });
      log.info({ reason, message }, 'recording ended');
      if (!room.closed) room.broadcast('recording:stopped', { reason, ...(message ? { message } : {}) });
    });
    room.once('close', (why) => void recorder.stop(why === 'shutdown' ? 'drain' : 'room-ended'));
    room.setRecording(startedAt);
    room.broadcast('recording:started', { startedAt });
    log.info({ file }, 'recording started');
    return { recordingId, startedAt, file, downloadPath: `/api/rooms/${encodeURIComponent(room.id)}/recordings/${recordingId}` };
  }

  /** Whether this node records the room now. */
  isRecording(roomId: string): boolean {
    return this.#active.has(roomId);
  }

  /** Stops the room's recording; resolves once its file is finalised. */
  async stop(room: Room, reason: StopReason = 'stopped'): Promise<void> {
    const entry = this.#active.get(room.id);
    if (!entry?.recorder) throw invalidState('the room is not being recorded');
    await entry.ready.catch(() => undefined);
    await entry.recorder.stop(reason);
  }

  /** Stops every recording (the server is closing): each file is finalised before this resolves. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [...this.#active.values()].map(async (entry) => {
        await entry.ready.catch(() => undefined);
        await entry.recorder?.stop('drain');
      }),
    );
  }

  /** The room's recordings on this node, newest first. */
  async list(roomId: string): Promise<RecordingFile[]> {
    let names: string[];
    try {
      names = await readdir(this.#o.dir);
    } catch {
      return [];
    }
    const out: RecordingFile[] = [];
    for (const name of names.filter((n) => n.endsWith('.webm.json'))) {
      const meta = await this.#readMeta(name);
      if (!meta || meta.roomId !== roomId) continue;
      const bytes = await stat(path.join(this.#o.dir, meta.file)).then((s) => s.size, () => undefined);
      if (bytes === undefined) continue;
      const active = this.#active.get(roomId)?.meta.recordingId === meta.recordingId;
      out.push({ ...meta, bytes, active });
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /** One recording of the room, by its id; undefined when there is none. */
  async find(roomId: string, recordingId: string): Promise<RecordingFile | undefined> {
    return (await this.list(roomId)).find((r) => r.recordingId === recordingId);
  }

  async #readMeta(name: string): Promise<RecordingMeta | undefined> {
    try {
      const parsed = RecordingMeta.safeParse(JSON.parse(await readFile(path.join(this.#o.dir, name), 'utf8')));
      return parsed.success && `${parsed.data.file}.json` === name ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async #writeMeta(meta: RecordingMeta): Promise<void> {
    await writeFile(path.join(this.#o.dir, `${meta.file}.json`), `${JSON.stringify(meta)}\n`);
  }
}
