/**
 * Recording cost: N rooms of two publishing peers (the synthetic clip: 320x240 VP8 at
 * 300 kbps + Opus), each recorded at once, for growing N. For each step: ffmpeg's CPU per
 * recording (decode + scale + VP8 encode + Opus encode), the server process's extra CPU over
 * the same rooms unrecorded (RTP in, Opus decode and mix, video switch, RTP out; the peers
 * run in this process too, which is why the unrecorded baseline is taken), and whether the
 * recordings kept up: the duration of each file against the wall time it was recorded for.
 * The ramp stops at the first step whose files fall behind real time by more than 3 %, whose
 * recordings get less than 90 % of the video packets one recording gets (the publishers or
 * the server starve), or whose CPU (server + ffmpeg) exceeds 90 % of the machine's cores.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../../config/index.js';
import { request } from '../../../protocol/index.js';
import { startNoom, type NoomServer } from '../../../server/src/app.js';
import { createLogger } from '../../../server/src/logger.js';
import { SyntheticPeer } from '../../loadtest/peer/index.js';
import { log, sleep } from '../lib/output.js';
import { processCpuSeconds } from '../lib/procCpu.js';
import { LOOPBACK_ENV } from '../lib/serverProcess.js';
import { round } from '../lib/stats.js';
import type { SuiteOptions, SuiteResult } from './types.js';

const execFileAsync = promisify(execFile);

interface Step {
  recordings: number;
  seconds: number;
  /** Share of one core, per recording. */
  ffmpegCorePerRecording: number;
  /** Share of one core, all recordings together, beyond the unrecorded rooms. */
  serverExtraCore: number;
  serverCorePerRecording: number;
  /** File duration / wall time recorded, the worst of the step. */
  worstRealtime: number;
  realtime: number[];
  machineCoreShare: number;
  /** Video RTP packets per second that reached each recording's ffmpeg, the fewest of the step (the clip sends about 40). */
  minVideoPacketsPerS: number;
}

/** A step kept up: files within 3 % of their wall time, video arriving as fast as with one recording (within 10 %), the machine under 90 %. */
const keptUp = (s: Step, first: Step) =>
  s.worstRealtime >= 0.97 && s.minVideoPacketsPerS >= 0.9 * first.minVideoPacketsPerS && s.machineCoreShare <= 0.9;

async function lastPacketSeconds(file: string): Promise<number> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], { maxBuffer: 256 * 1024 * 1024 });
  return Math.max(0, ...stdout.split('\n').map(Number).filter(Number.isFinite));
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export async function recording(o: SuiteOptions): Promise<SuiteResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'noom-bench-recordings-'));
  const config = loadConfig({
    ...LOOPBACK_ENV,
    WORKERS: '1',
    LOG_LEVEL: 'silent',
    RECORDINGS_DIR: dir,
    RECORDING_MIN_FREE_MB: '50',
  });
  const noom: NoomServer = await startNoom(config, createLogger('silent'));
  const cores = os.availableParallelism();
  const windowS = o.quick ? 6 : 15;
  const ramp = o.quick ? [1, 2] : [1, 2, 4, 8, 12, 16, 20, 24];
  const peers: SyntheticPeer[] = [];
  const steps: Step[] = [];
  try {
    for (const n of ramp) {
      // Rooms of this step: two publishers each (rooms of earlier steps were closed).
      const rooms = Array.from({ length: n }, (_, i) => `bench-rec-${n}-${i}`);
      for (const roomId of rooms) {
        for (const name of ['A', 'B']) {
          peers.push(await SyntheticPeer.join({ url: noom.url, roomId, displayName: name, publish: { audio: true, video: true }, consume: false }));
        }
      }
      await sleep(2000);
      // Baseline: the same rooms, unrecorded.
      let t0 = performance.now();
      let c0 = cpuNow();
      await sleep(windowS * 1000);
      const baseCore = (cpuNow() - c0) / ((performance.now() - t0) / 1000);

      const hosts = rooms.map((_, i) => peers[peers.length - 2 * n + 2 * i]!);
      // Each recording's clock starts just before its answer.
      const started = await Promise.all(
        hosts.map(async (h) => ({ ...(await request(h.socket, 'recording:start', {}, 20_000)), at: performance.now() })),
      );
      await sleep(1000);
      const pids = rooms.map((r) => noom.recordings.recorder(r)?.pid).filter((p): p is number => p !== undefined);
      const f0 = pids.map((p) => processCpuSeconds(p));
      const videoPackets = () => rooms.map((r) => noom.recordings.recorder(r)?.stats.videoPackets ?? 0);
      const v0 = videoPackets();
      t0 = performance.now();
      c0 = cpuNow();
      await sleep(windowS * 1000);
      const seconds = (performance.now() - t0) / 1000;
      const serverCore = (cpuNow() - c0) / seconds;
      const ffmpegCore = pids.reduce((sum, p, i) => sum + (processCpuSeconds(p) - f0[i]!), 0) / seconds;
      const v1 = videoPackets();
      const minVideoPacketsPerS = round(Math.min(...v1.map((v, i) => (v - v0[i]!) / seconds)), 1);
      const stopAt = performance.now();
      await Promise.all(hosts.map((h) => request(h.socket, 'recording:stop', {}, 30_000)));
      const realtime = await Promise.all(
        started.map(async (s) => round((await lastPacketSeconds(path.join(dir, s.file))) / ((stopAt - s.at) / 1000), 3)),
      );
      const step: Step = {
        recordings: n,
        seconds: round(seconds, 1),
        ffmpegCorePerRecording: round(ffmpegCore / n, 3),
        serverExtraCore: round(serverCore - baseCore, 3),
        serverCorePerRecording: round((serverCore - baseCore) / n, 3),
        worstRealtime: Math.min(...realtime),
        realtime,
        machineCoreShare: round((serverCore + ffmpegCore) / cores, 3),
        minVideoPacketsPerS,
      };
      steps.push(step);
      log(
        `  ${n} recording(s): ffmpeg ${(step.ffmpegCorePerRecording * 100).toFixed(1)} % of a core each, server +${(step.serverCorePerRecording * 100).toFixed(1)} % each, ` +
          `file/wall ${step.worstRealtime} at worst, video in ≥ ${step.minVideoPacketsPerS} packets/s each, machine ${(step.machineCoreShare * 100).toFixed(0)} % busy`,
      );
      for (const p of peers.splice(0)) await p.close();
      await sleep(1000);
      if (!keptUp(step, steps[0]!)) break;
    }
  } finally {
    for (const p of peers.splice(0)) await p.close().catch(() => undefined);
    await noom.close();
    await rm(dir, { recursive: true, force: true });
  }
  const sustained = steps.filter((s) => keptUp(s, steps[0]!)).at(-1);
  const first = steps[0];
  return {
    name: 'recording',
    summary: [
      first
        ? `one recording (2 publishers, 320x240 in, 640x360@15 VP8 + Opus out): ffmpeg ${(first.ffmpegCorePerRecording * 100).toFixed(1)} % of a core, server +${(first.serverCorePerRecording * 100).toFixed(1)} %`
        : 'no step ran',
      `recordings kept in real time (file within 3 % of wall time, video in at ≥ 90 % of one recording's rate, machine under 90 %): ${sustained?.recordings ?? 0} of the ramp ${steps.map((s) => s.recordings).join(', ')} on ${cores} cores`,
    ],
    data: { windowS, cores, steps },
  };
}
