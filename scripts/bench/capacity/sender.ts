/**
 * The capacity benchmark's publisher process: sends synthetic VP8 + Opus RTP (media.ts) in
 * real time to the worker's PlainTransports, one UDP socket per publisher, and answers the
 * worker's keyframe requests (PLI / FIR) with a keyframe, at most one per 250 ms as an
 * encoder would. Counts every packet it sends; the benchmark's expected figure is built
 * from these counts. Runs apart from the benchmark so that neither stalls the other and
 * its CPU is measured on its own. Exits when the parent goes away.
 */
import dgram from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AUDIO_FRAME_MS, DEFAULT_SHAPE, OpusSource, Vp8Source, keyframeRequests, senderReport } from './media.js';
import { SenderRequest, type SenderCounts, type SenderTarget } from './messages.js';

const TICK_MS = 5;
const KEYFRAME_MIN_INTERVAL_MS = 250;
/** Behind schedule by more than this (a stalled event loop): skip ahead instead of bursting. */
const MAX_LAG_MS = 500;
const SENDER_REPORT_MS = 1_000;

const shape = DEFAULT_SHAPE;
const videoIntervalMs = 1000 / shape.videoFps;

class Publisher {
  readonly #socket: dgram.Socket;
  readonly video: Vp8Source;
  readonly audio: OpusSource;
  #videoDue: number;
  #audioDue: number;
  #reportDue: number;
  #keyframePending = true;
  #lastKeyframeAt = -Infinity;
  keyframeRequests = 0;
  lateFrames = 0;

  private constructor(socket: dgram.Socket, target: SenderTarget) {
    this.#socket = socket;
    this.video = new Vp8Source(target.videoSsrc, shape);
    this.audio = new OpusSource(target.audioSsrc, shape);
    const now = performance.now();
    this.#videoDue = now;
    this.#audioDue = now;
    this.#reportDue = now + SENDER_REPORT_MS;
    socket.on('message', (msg) => {
      if (keyframeRequests(msg).includes(target.videoSsrc)) {
        this.keyframeRequests++;
        this.#keyframePending = true;
      }
    });
  }

  static async open(target: SenderTarget): Promise<Publisher> {
    const socket = dgram.createSocket('udp4');
    socket.on('error', (error) => process.stderr.write(`capacity sender: ${error.message}\n`));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => socket.connect(target.port, target.host, resolve));
    return new Publisher(socket, target);
  }

  close(): void {
    this.#socket.close();
  }

  /** Starts the schedule again from `now`, as after a pause. */
  reanchor(now: number): void {
    this.#videoDue = now;
    this.#audioDue = now;
  }

  tick(now: number): void {
    if (now - this.#videoDue > MAX_LAG_MS) {
      this.lateFrames += Math.floor((now - this.#videoDue) / videoIntervalMs);
      this.#videoDue = now;
    }
    if (now - this.#audioDue > MAX_LAG_MS) this.#audioDue = now;
    while (this.#videoDue <= now) {
      if (now - this.#videoDue > videoIntervalMs) this.lateFrames++;
      const keyframe = this.#keyframePending && now - this.#lastKeyframeAt >= KEYFRAME_MIN_INTERVAL_MS;
      if (keyframe) {
        this.#keyframePending = false;
        this.#lastKeyframeAt = now;
      }
      for (const p of this.video.frame(keyframe)) this.#socket.send(p);
      this.#videoDue += videoIntervalMs;
    }
    while (this.#audioDue <= now) {
      this.#socket.send(this.audio.frame());
      this.#audioDue += AUDIO_FRAME_MS;
    }
    if (now >= this.#reportDue) {
      this.#socket.send(senderReport(this.video.stream));
      this.#socket.send(senderReport(this.audio.stream));
      this.#reportDue += SENDER_REPORT_MS;
    }
  }
}

const publishers: Publisher[] = [];
let paused = false;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
setInterval(() => {
  if (paused) return;
  const now = performance.now();
  for (const p of publishers) p.tick(now);
}, TICK_MS);

function counts(): SenderCounts {
  const loopDelayMaxMs = loopDelay.max / 1e6;
  loopDelay.reset();
  return {
    streams: publishers.flatMap((p) => [
      { ssrc: p.video.stream.ssrc, kind: 'video' as const, packets: p.video.stream.packets, bytes: p.video.stream.bytes },
      { ssrc: p.audio.stream.ssrc, kind: 'audio' as const, packets: p.audio.stream.packets, bytes: p.audio.stream.bytes },
    ]),
    keyframes: publishers.reduce((a, p) => a + p.video.keyframes, 0),
    keyframeRequests: publishers.reduce((a, p) => a + p.keyframeRequests, 0),
    lateFrames: publishers.reduce((a, p) => a + p.lateFrames, 0),
    loopDelayMaxMs,
  };
}

process.on('message', (raw: unknown) => {
  const parsed = SenderRequest.safeParse(raw);
  if (!parsed.success) return;
  const req = parsed.data;
  const reply = (result: unknown) => process.send?.({ id: req.id, ok: true, result });
  const fail = (error: unknown) => process.send?.({ id: req.id, ok: false, error: error instanceof Error ? error.message : String(error) });
  if (req.cmd === 'counts') reply(counts());
  else if (req.cmd === 'pause') {
    paused = true;
    reply(counts());
  } else if (req.cmd === 'resume') {
    paused = false;
    const now = performance.now();
    for (const p of publishers) p.reanchor(now);
    reply(counts());
  } else if (req.cmd === 'unpublishAll') {
    for (const p of publishers.splice(0)) p.close();
    reply({});
  } else
    Publisher.open(req.target).then((p) => {
      publishers.push(p);
      reply({});
    }, fail);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
