/**
 * The media clip synthetic peers publish: a short test pattern and tone encoded once with
 * ffmpeg, packetized into RTP and cached on disk, keyed by the encoding parameters.
 *
 * Cache layout, under `${NOOM_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/noom}/clips/<key>/`:
 * `video.rtp` and `audio.rtp` hold RTP packets, each preceded by its length (uint16 BE);
 * `clip.json` describes them (clock rates, loop durations, keyframe packet indexes).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { isVp8KeyFrame, parseIvf, parseOggOpus } from './containers.js';
import {
  AUDIO_PAYLOAD_TYPE,
  opusPacketSamples,
  packetizeVp8Frame,
  rtpPacket,
} from './rtpPacketizer.js';

const execFileAsync = promisify(execFile);

export interface ClipParameters {
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  keyframeIntervalSec: number;
  audioKbps: number;
  durationSec: number;
}

export const DEFAULT_CLIP: ClipParameters = {
  width: 320,
  height: 240,
  fps: 15,
  videoKbps: 300,
  keyframeIntervalSec: 1,
  audioKbps: 32,
  durationSec: 10,
};

/** Bumped whenever the packetization or the file layout changes, so old caches are ignored. */
const CACHE_FORMAT = 1;

const TrackMeta = z.object({
  clockRate: z.number().int().positive(),
  packets: z.number().int().positive(),
  /** RTP timestamp units from the first packet of one loop to the first of the next. */
  loopDuration: z.number().int().positive(),
  /** Indexes of the packets that start a keyframe (video only). */
  keyframes: z.array(z.number().int().nonnegative()),
});
const ClipMeta = z.object({ format: z.literal(CACHE_FORMAT), video: TrackMeta, audio: TrackMeta });
type TrackMeta = z.infer<typeof TrackMeta>;

export interface ClipTrack extends TrackMeta {
  kind: 'audio' | 'video';
  /** RTP packets with SSRC 0, sequence numbers and timestamps counted from 0. */
  rtp: Buffer[];
  /** RTP timestamp of each packet, relative to the loop start. */
  timestamps: Uint32Array;
}

export interface Clip {
  params: ClipParameters;
  video: ClipTrack;
  audio: ClipTrack;
}

export function clipCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.NOOM_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'noom');
  return join(base, 'clips');
}

export function clipKey(p: ClipParameters): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ CACHE_FORMAT, ...p }))
    .digest('hex')
    .slice(0, 10);
  return (
    `vp8-${p.width}x${p.height}-${p.fps}fps-${p.videoKbps}k-kf${p.keyframeIntervalSec}s-` +
    `opus${p.audioKbps}k-${p.durationSec}s-${hash}`
  );
}

async function encodeWithFfmpeg(p: ClipParameters, dir: string): Promise<void> {
  const gop = Math.round(p.fps * p.keyframeIntervalSec);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${p.width}x${p.height}:rate=${p.fps}:duration=${p.durationSec}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${p.durationSec}`,
    // Real-time settings as a browser encoder would use them: no alt-ref or lookahead
    // frames, so every frame is displayable and the GOP is exactly `gop` frames.
    '-map', '0:v', '-c:v', 'libvpx', '-b:v', `${p.videoKbps}k`, '-maxrate', `${p.videoKbps}k`,
    '-bufsize', `${p.videoKbps}k`, '-g', String(gop), '-keyint_min', String(gop),
    '-deadline', 'realtime', '-cpu-used', '8', '-auto-alt-ref', '0', '-lag-in-frames', '0',
    '-error-resilient', '1', '-threads', '1', '-f', 'ivf', join(dir, 'video.ivf'),
    '-map', '1:a', '-c:a', 'libopus', '-b:a', `${p.audioKbps}k`, '-frame_duration', '20',
    '-application', 'voip', '-f', 'ogg', join(dir, 'audio.ogg'),
  ];
  try {
    await execFileAsync('ffmpeg', args, { timeout: 120_000 });
  } catch (error) {
    throw new Error(`ffmpeg failed to encode the clip: ${(error as Error).message}`, { cause: error });
  }
}

function frame(packets: Buffer[]): Buffer {
  const total = packets.reduce((n, b) => n + 2 + b.length, 0);
  const out = Buffer.alloc(total);
  let at = 0;
  for (const b of packets) {
    out.writeUInt16BE(b.length, at);
    b.copy(out, at + 2);
    at += 2 + b.length;
  }
  return out;
}

function unframe(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 2 <= buf.length) {
    const length = buf.readUInt16BE(at);
    if (at + 2 + length > buf.length) throw new Error('truncated clip file');
    out.push(buf.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return out;
}

async function buildClip(p: ClipParameters, dir: string): Promise<void> {
  await encodeWithFfmpeg(p, dir);
  const ivf = parseIvf(await readFile(join(dir, 'video.ivf')));
  const ticksPerPts = (90_000 * ivf.timebaseNum) / ivf.timebaseDen;
  const video: Buffer[] = [];
  const keyframes: number[] = [];
  for (const f of ivf.frames) {
    if (isVp8KeyFrame(f.data)) keyframes.push(video.length);
    video.push(...packetizeVp8Frame(f.data, Math.round(f.pts * ticksPerPts), video.length));
  }
  if (keyframes[0] !== 0) throw new Error('the encoded clip does not start with a keyframe');

  const audio: Buffer[] = [];
  let audioTs = 0;
  for (const packet of parseOggOpus(await readFile(join(dir, 'audio.ogg')))) {
    audio.push(
      rtpPacket({ payloadType: AUDIO_PAYLOAD_TYPE, marker: false, sequenceNumber: audio.length, timestamp: audioTs, payload: [packet] }),
    );
    audioTs += opusPacketSamples(packet);
  }

  const meta: z.infer<typeof ClipMeta> = {
    format: CACHE_FORMAT,
    video: { clockRate: 90_000, packets: video.length, loopDuration: Math.round(p.durationSec * 90_000), keyframes },
    audio: { clockRate: 48_000, packets: audio.length, loopDuration: audioTs, keyframes: [] },
  };
  await writeFile(join(dir, 'video.rtp'), frame(video));
  await writeFile(join(dir, 'audio.rtp'), frame(audio));
  await rm(join(dir, 'video.ivf'));
  await rm(join(dir, 'audio.ogg'));
  // Written last: its presence marks a complete cache entry.
  await writeFile(join(dir, 'clip.json'), JSON.stringify(meta, null, 2));
}

async function readMeta(dir: string): Promise<z.infer<typeof ClipMeta> | undefined> {
  try {
    const parsed = ClipMeta.safeParse(JSON.parse(await readFile(join(dir, 'clip.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Encodes the clip unless the cache already has it; returns its directory. */
export async function ensureClip(p: ClipParameters = DEFAULT_CLIP, root = clipCacheRoot()): Promise<string> {
  const dir = join(root, clipKey(p));
  if (await readMeta(dir)) return dir;
  // Concurrent preparers (load-test children) each build in a private directory; the
  // first rename wins and the others discard their copy.
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    await buildClip(p, tmp);
    await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await readMeta(dir))) throw error;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

function loadTrack(kind: 'audio' | 'video', meta: TrackMeta, file: Buffer): ClipTrack {
  const rtp = unframe(file);
  if (rtp.length !== meta.packets) throw new Error(`clip ${kind}: ${rtp.length} packets, expected ${meta.packets}`);
  const timestamps = new Uint32Array(rtp.length);
  rtp.forEach((b, i) => (timestamps[i] = b.readUInt32BE(4)));
  return { kind, ...meta, rtp, timestamps };
}

const loaded = new Map<string, Promise<Clip>>();

/** The clip in memory, encoded first if needed; one copy per process. */
export function loadClip(p: ClipParameters = DEFAULT_CLIP): Promise<Clip> {
  const key = clipKey(p);
  let clip = loaded.get(key);
  if (!clip) {
    clip = (async () => {
      const dir = await ensureClip(p);
      const meta = await readMeta(dir);
      if (!meta) throw new Error(`clip cache ${dir} is unreadable`);
      return {
        params: p,
        video: loadTrack('video', meta.video, await readFile(join(dir, 'video.rtp'))),
        audio: loadTrack('audio', meta.audio, await readFile(join(dir, 'audio.rtp'))),
      };
    })();
    clip.catch(() => loaded.delete(key));
    loaded.set(key, clip);
  }
  return clip;
}
