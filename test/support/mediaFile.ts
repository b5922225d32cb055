/** What ffprobe and ffmpeg's analysis filters say about a recorded file. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

/** Streams and duration (seconds, from the last packet: a file without an index still has one). */
export async function probe(file: string): Promise<{ streams: ProbedStream[]; duration: number; videoDuration: number; audioDuration: number }> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  const info = JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration?: string } };
  const last = async (stream: string) => {
    const { stdout: pk } = await execFileAsync('ffprobe', ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const times = pk.split('\n').map(Number).filter((n) => Number.isFinite(n) && n > 0);
    return times.length ? Math.max(...times) : 0;
  };
  return { streams: info.streams, duration: Number(info.format.duration ?? 0), videoDuration: await last('v:0'), audioDuration: await last('a:0') };
}

/** Average luma (0-255) of a region of every decoded frame, with its time. */
export async function lumaOverTime(file: string, crop: string): Promise<{ t: number; y: number }[]> {
  const { stderr } = await execFileAsync(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-i', file, '-an', '-vf', `crop=${crop},signalstats,metadata=print:key=lavfi.signalstats.YAVG`, '-f', 'null', '-'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const out: { t: number; y: number }[] = [];
  let t = 0;
  for (const line of stderr.split('\n')) {
    const time = /pts_time:([\d.]+)/.exec(line);
    if (time) t = Number(time[1]);
    const y = /lavfi\.signalstats\.YAVG=([\d.]+)/.exec(line);
    if (y) out.push({ t, y: Number(y[1]) });
  }
  return out;
}

/** Distinct decoded frames (by hash) among all of the video. */
export async function distinctFrames(file: string): Promise<{ frames: number; distinct: number }> {
  const { stdout } = await execFileAsync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-an', '-f', 'framemd5', '-'], { maxBuffer: 64 * 1024 * 1024 });
  const hashes = stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').at(-1)!.trim());
  return { frames: hashes.length, distinct: new Set(hashes).size };
}

/** Mean volume of the audio in dB (volumedetect), optionally of a time window. */
export async function meanVolume(file: string, from?: number, to?: number): Promise<number> {
  const window = from !== undefined && to !== undefined ? ['-ss', String(from), '-to', String(to)] : [];
  const { stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-nostats', ...window, '-i', file, '-vn', '-af', 'volumedetect', '-f', 'null', '-']);
  const m = /mean_volume: (-?[\d.]+|-inf) dB/.exec(stderr);
  return m ? (m[1] === '-inf' ? -Infinity : Number(m[1])) : -Infinity;
}

/** When the audio falls silent (silencedetect), in seconds. */
export async function silenceStarts(file: string): Promise<number[]> {
  const { stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-vn', '-af', 'silencedetect=noise=-50dB:d=0.3', '-f', 'null', '-']);
  return [...stderr.matchAll(/silence_start: (-?[\d.]+)/g)].map((m) => Number(m[1]));
}

/** When the picture turns black (blackdetect), in seconds. */
export async function blackStarts(file: string): Promise<number[]> {
  const { stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-an', '-vf', 'blackdetect=d=0.3:pix_th=0.1', '-f', 'null', '-']);
  return [...stderr.matchAll(/black_start:(-?[\d.]+)/g)].map((m) => Number(m[1]));
}
