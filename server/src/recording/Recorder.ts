/**
 * One recording of one room: mediasoup consumers on a PlainTransport (comedia off) send
 * every producer's RTP to a UDP socket of this process; the audio is decoded and mixed here
 * (AudioMixer), the video of the one source shown (VideoSwitcher) is passed on as one
 * stream; both go as RTP to an ffmpeg that reads them from an SDP file (L16 mono audio and
 * VP8 video on 127.0.0.1, with RTCP sender reports on one clock so the two stay in sync)
 * and writes a WebM file: Opus audio, VP8 video at 640x360, 15 fps.
 *
 * Which video: a screen share when there is one (the newest), else the active speaker's
 * camera, else the camera shown last, else any camera; the placeholder (black) when nobody
 * sends video. Producers that join, pause or leave during the recording change only which
 * source is mixed or shown. The Matroska clusters are written out every second, so a file
 * whose ffmpeg was killed plays up to its last second.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { readFile, statfs, unlink, writeFile } from 'node:fs/promises';
import type { types } from 'mediasoup';
import type { RecordingStoppedEvent } from '../../../protocol/index.js';
import type { z } from 'zod/mini';
import type { Logger } from '../logger.js';
import type { RoomMedia, RoomProducer } from '../media/RoomMedia.js';
import { AudioMixer, FRAME_SAMPLES, MIX_DELAY_SAMPLES, SAMPLE_RATE } from './AudioMixer.js';
import { bindUdp, type PortPairs } from './PortPairs.js';
import { readRtp, senderReport, writeRtp } from './rtp.js';
import { VIDEO_PAYLOAD_TYPE, VideoSwitcher } from './VideoSwitcher.js';

export type StopReason = z.infer<typeof RecordingStoppedEvent>['reason'];

export const VIDEO_WIDTH = 640;
export const VIDEO_HEIGHT = 360;
export const VIDEO_FPS = 15;
const AUDIO_PAYLOAD_TYPE = 97;
const TICK_MS = 20;
const REPORT_EVERY_MS = 1000;
const KEYFRAME_RETRY_MS = 1000;
const DISK_CHECK_MS = 2000;
/** How long ffmpeg gets to open its ports, and to finish its file after `q`. */
const FFMPEG_START_MS = 10_000;
const FFMPEG_FINISH_MS = 10_000;

export interface RecorderOptions {
  recordingId: string;
  roomId: string;
  media: RoomMedia;
  /** Who speaks as the recording starts (the observer tells only of changes). */
  speaker: string | null;
  /** The output file (WebM) and the SDP file that describes ffmpeg's input. */
  file: string;
  sdpFile: string;
  placeholder: Buffer;
  minFreeBytes: number;
  /** Where ffmpeg's input ports come from (shared by the node's recorders). */
  ports: PortPairs;
  /** The ffmpeg executable (`ffmpeg` on the PATH by default). */
  ffmpeg: string;
  log: Logger;
  /** Cluster: the room's producers on other nodes, which the recording pipes in as it does any consumer. */
  remote?: RemoteProducers;
}

export interface RemoteProducers {
  ids(): Iterable<string>;
  /** Calls `listener` with each producer that appears on another node; returns the unsubscribe. */
  onNew(listener: (producerId: string) => void): () => void;
}

export type RecorderEvents = {
  /** The recording is over and its file finalised (or as finished as a dead ffmpeg left it). */
  end: [reason: StopReason, message: string | undefined];
};

interface Input {
  consumer: types.Consumer;
  producer: RoomProducer;
  ssrc: number;
  giveBack: () => void;
  addedAt: number;
}

export class Recorder extends EventEmitter<RecorderEvents> {
  readonly #o: RecorderOptions;
  readonly #log: Logger;
  readonly #mixer = new AudioMixer();
  readonly #inputs = new Map<number, Input>();
  /** Producers being consumed or consumed already: each once. */
  readonly #taken = new Set<string>();
  readonly #switcher: VideoSwitcher;
  readonly #audioSsrc = randomSsrc();
  readonly #videoSsrc = randomSsrc();
  readonly #audioBase = randomSsrc();
  readonly #videoBase = randomSsrc();
  #audioSeq = Math.floor(Math.random() * 0xffff);
  #audioFrames = 0;
  #audioOctets = 0;
  #t0 = 0;
  #epochAtT0 = 0;
  #inSocket: dgram.Socket | undefined;
  #outSocket: dgram.Socket | undefined;
  #ports: { audio: number; video: number } | undefined;
  #transport: types.PlainTransport | undefined;
  #router: types.Router | undefined;
  #ffmpeg: ChildProcess | undefined;
  #ffmpegExit: Promise<number | null> | undefined;
  #stderrTail: string[] = [];
  #timers: NodeJS.Timeout[] = [];
  #lastReport = 0;
  #lastKeyframeAsk = 0;
  #speaker: string | null = null;
  #sending = false;
  #stopping: Promise<void> | undefined;
  readonly #detach: (() => void)[] = [];

  constructor(o: RecorderOptions) {
    super();
    this.#o = o;
    this.#log = o.log;
    this.#speaker = o.speaker;
    this.#switcher = new VideoSwitcher({
      ssrc: this.#videoSsrc,
      now90k: () => this.#clock(90_000, this.#videoBase),
      send: (packet) => {
        if (this.#ports) this.#send(packet, this.#ports.video);
      },
      placeholder: o.placeholder,
      onSwitched: (ssrc) => this.#onSwitched(ssrc),
    });
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Figures for tests and the benchmark. */
  get stats(): { audioSources: number; videoSources: number; shown: string | undefined; videoSwitches: number; videoPackets: number } {
    const shown = this.#switcher.current === undefined ? undefined : this.#inputs.get(this.#switcher.current)?.producer.peerId;
    return {
      audioSources: this.#mixer.sourceCount,
      videoSources: [...this.#inputs.values()].filter((i) => i.consumer.kind === 'video').length,
      shown,
      videoSwitches: this.#switcher.switches,
      videoPackets: this.#switcher.packets,
    };
  }

  /** ffmpeg's process id while it runs. */
  get pid(): number | undefined {
    return this.#ffmpeg?.exitCode === null ? this.#ffmpeg.pid : undefined;
  }

  /** Starts ffmpeg and the consumers; rejects (with everything undone) when either cannot start. */
  async start(): Promise<void> {
    try {
      await this.#start();
    } catch (error) {
      await this.#teardown();
      throw error;
    }
  }

  async #start(): Promise<void> {
    this.#inSocket = await bindUdp();
    this.#outSocket = await bindUdp();
    this.#inSocket.on('message', (packet) => this.#onRtp(packet));
    this.#inSocket.on('error', (error) => this.#log.warn({ err: error }, 'recorder input socket error'));
    this.#outSocket.on('error', (error) => this.#log.debug({ err: error }, 'recorder output socket error'));
    // A port found free may be taken by another socket before ffmpeg binds it: new ports then.
    for (let attempt = 1; ; attempt++) {
      const audio = await this.#o.ports.take();
      this.#ports = { audio, video: audio };
      const video = await this.#o.ports.take();
      this.#ports = { audio, video };
      await writeFile(this.#o.sdpFile, sdp(audio, video));
      this.#spawnFfmpeg();
      try {
        await this.#waitForFfmpegPorts([audio, audio + 1, video, video + 1]);
        break;
      } catch (error) {
        const clash = this.#stderrTail.some((l) => /bind failed|address already in use/i.test(l));
        if (!clash || attempt >= 3 || this.#stopping) throw error;
        this.#log.debug({ audio, video }, 'a port of ffmpeg was taken meanwhile: new ports');
        await this.#ffmpegExit;
        this.#o.ports.give(audio);
        this.#o.ports.give(video);
        this.#stderrTail = [];
      }
    }

    const site = this.#o.media.routers[0];
    if (!site) throw new Error('the room has no media');
    this.#router = site.router;
    this.#transport = await site.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: false,
    });
    await this.#transport.connect({ ip: '127.0.0.1', port: (this.#inSocket.address()).port });
    this.#transport.observer.once('close', () => {
      // A room that is closing closes its routers first, then says why: its reason wins.
      queueMicrotask(() => {
        if (!this.#stopping) void this.stop('error', 'the recording lost its media router');
      });
    });

    // From here on the output runs on the recording's clock.
    this.#t0 = performance.now();
    this.#epochAtT0 = Date.now();
    this.#sending = true;
    // ffmpeg's death is watched from here on; one before is the start's failure.
    if (this.#ffmpeg?.exitCode !== null) throw new Error(`ffmpeg stopped: ${this.#lastError()}`);
    this.#report(true);
    this.#timers.push(setInterval(() => this.#tick(), TICK_MS));
    this.#timers.push(setInterval(() => void this.#checkDisk(), DISK_CHECK_MS));

    const media = this.#o.media;
    const onProducer = (p: RoomProducer) => void this.#add(p.producer.id);
    const onSpeaker = (peerId: string | null) => {
      this.#speaker = peerId;
      this.#choose();
    };
    media.on('producer', onProducer);
    media.on('dominantspeaker', onSpeaker);
    this.#detach.push(() => media.off('producer', onProducer), () => media.off('dominantspeaker', onSpeaker));
    const remote = this.#o.remote;
    if (remote) this.#detach.push(remote.onNew((id) => void this.#add(id)));
    await Promise.all([...media.producers.keys(), ...(remote?.ids() ?? [])].map((id) => this.#add(id)));
    this.#choose();
  }

  #spawnFfmpeg(): void {
    const filter = [
      `scale=${VIDEO_WIDTH}:${VIDEO_HEIGHT}:force_original_aspect_ratio=decrease`,
      `pad=${VIDEO_WIDTH}:${VIDEO_HEIGHT}:(ow-iw)/2:(oh-ih)/2`,
      `fps=${VIDEO_FPS}`,
      'format=yuv420p',
    ].join(',');
    // prettier-ignore
    const args = [
      '-hide_banner', '-nostats', '-loglevel', 'info',
      '-protocol_whitelist', 'file,udp,rtp',
      '-analyzeduration', '1000000', '-probesize', '1000000',
      // One decoding thread: frame threads hold frames back, and `q` ends without them.
      '-threads', '1',
      '-i', this.#o.sdpFile,
      '-map', '0:a', '-map', '0:v',
      '-vf', filter,
      '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-g', String(VIDEO_FPS * 2), '-threads', '1',
      '-c:a', 'libopus', '-b:a', '64k',
      '-f', 'webm', '-cluster_time_limit', '1000', '-flush_packets', '1',
      '-y', this.#o.file,
    ];
    const child = spawn(this.#o.ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#ffmpeg = child;
    child.stdin!.on('error', () => undefined); // 'q' to an ffmpeg that has just died
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      for (const line of text.split(/\r?\n/)) if (line.trim()) this.#stderrTail.push(line.trim());
      if (this.#stderrTail.length > 40) this.#stderrTail.splice(0, this.#stderrTail.length - 40);
    });
    this.#ffmpegExit = new Promise((resolve) => {
      child.once('error', (error) => {
        this.#stderrTail.push(`ffmpeg could not run: ${error.message}`);
        resolve(null);
      });
      child.once('exit', (code, signal) => {
        this.#log.debug({ code, signal }, 'ffmpeg exited');
        resolve(code);
      });
    });
    void this.#ffmpegExit.then((code) => {
      if (this.#stopping || !this.#sending || this.#ffmpeg !== child) return;
      const diskFull = this.#stderrTail.some((l) => /No space left on device/i.test(l));
      void this.stop(diskFull ? 'disk-full' : 'error', `the recorder stopped (${code === null ? 'killed' : `exit ${code}`}): ${this.#lastError()}`);
    });
  }

  #lastError(): string {
    return this.#stderrTail.filter((l) => /error|fail|invalid|no space|could not/i.test(l)).slice(-2).join(' / ') || 'no message';
  }

  /** Waits until ffmpeg listens on its RTP and RTCP ports (what is sent before would be lost). */
  async #waitForFfmpegPorts(ports: number[]): Promise<void> {
    const wanted = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
    const deadline = performance.now() + FFMPEG_START_MS;
    for (;;) {
      if (this.#ffmpeg?.exitCode !== null || this.#stopping) throw new Error(`ffmpeg did not start: ${this.#lastError()}`);
      const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
      const open = new Set(table.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]?.split(':')[1]).filter(Boolean));
      if ([...wanted].every((p) => open.has(p))) return;
      if (performance.now() > deadline) throw new Error('ffmpeg did not open its ports in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The video stream to ffmpeg is VP8; an H264 camera is left out (and said so). */
  #recordable(p: RoomProducer): boolean {
    const codec = p.producer.rtpParameters.codecs[0]?.mimeType.toLowerCase();
    if (p.producer.kind === 'video' && codec !== 'video/vp8') {
      this.#log.info({ producer: p.producer.id, codec }, 'recording leaves out a video that is not VP8');
      return false;
    }
    return true;
  }

  /**
   * Records a producer of the room: one of this node's (its codec is known at once), or one
   * of another node, piped onto this node first (the pipe then tells its codec).
   */
  async #add(producerId: string): Promise<void> {
    const router = this.#router;
    if (!this.#transport || !router || this.#stopping || this.#taken.has(producerId)) return;
    const known = this.#o.media.producers.get(producerId);
    if (known && (known.producer.closed || !this.#recordable(known))) return;
    this.#taken.add(producerId);
    let giveBack: () => void;
    try {
      giveBack = await this.#o.media.route(producerId, router);
    } catch (error) {
      if (!this.#stopping) this.#log.debug({ err: error, producer: producerId }, 'recorder could not route a producer');
      return;
    }
    const p = known ?? this.#o.media.producers.get(producerId);
    if (!p || p.producer.closed || (!known && !this.#recordable(p))) {
      giveBack();
      return;
    }
    await this.#consume(p, giveBack);
  }

  /** Consumes a producer already routed to the recording's router; `giveBack` returns that route. */
  async #consume(p: RoomProducer, giveBack: () => void): Promise<void> {
    const transport = this.#transport;
    const router = this.#router;
    if (!transport || !router) return giveBack();
    let consumer: types.Consumer;
    try {
      // Video is consumed paused and resumed only while it is shown or about to be.
      consumer = await transport.consume({ producerId: p.producer.id, rtpCapabilities: router.rtpCapabilities, paused: p.producer.kind === 'video' });
    } catch (error) {
      giveBack();
      if (!this.#stopping) this.#log.debug({ err: error, producer: p.producer.id }, 'recorder could not consume a producer');
      return;
    }
    if (this.#stopping) {
      consumer.close();
      giveBack();
      return;
    }
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc === undefined) {
      consumer.close();
      giveBack();
      return;
    }
    const input: Input = { consumer, producer: p, ssrc, giveBack, addedAt: performance.now() };
    this.#inputs.set(ssrc, input);
    const demand = this.#o.media.demand;
    if (consumer.kind === 'audio') this.#mixer.add(ssrc);
    else {
      demand.addViewer(p.producer.id, consumer.id);
      // The file is 640x360: a middle simulcast layer is plenty.
      void consumer.setPreferredLayers({ spatialLayer: 1 }).catch(() => undefined);
      demand.setLayer(p.producer.id, consumer.id, 1);
    }
    consumer.on('producerpause', () => this.#choose());
    consumer.on('producerresume', () => this.#choose());
    consumer.observer.once('close', () => {
      this.#inputs.delete(ssrc);
      giveBack();
      if (consumer.kind === 'audio') this.#mixer.remove(ssrc);
      else {
        demand.removeViewer(p.producer.id, consumer.id);
        this.#switcher.drop(ssrc);
        this.#choose();
      }
    });
    if (consumer.kind === 'video') this.#choose();
  }

  /** Which video the recording shows now; asks its publisher for a keyframe when it changes. */
  #choose(): void {
    if (this.#stopping || !this.#sending) return;
    const live = [...this.#inputs.values()].filter((i) => i.consumer.kind === 'video' && !i.consumer.closed && !i.consumer.producerPaused);
    const newest = (list: Input[]) => list.sort((a, b) => b.addedAt - a.addedAt)[0];
    const screen = newest(live.filter((i) => i.producer.source === 'screen'));
    const cameras = live.filter((i) => i.producer.source !== 'screen');
    const speaking = cameras.find((i) => i.producer.peerId === this.#speaker);
    const shown = cameras.find((i) => i.ssrc === this.#switcher.current);
    const pick = screen ?? speaking ?? shown ?? cameras[0];
    const target = this.#switcher.pending ?? this.#switcher.current;
    if (pick?.ssrc === target) return;
    this.#switcher.want(pick?.ssrc);
    if (pick) {
      void pick.consumer.resume().catch(() => undefined);
      this.#o.media.demand.setPaused(pick.producer.producer.id, pick.consumer.id, false);
      this.#askKeyframe(pick);
    }
  }

  #askKeyframe(input: Input): void {
    this.#lastKeyframeAsk = performance.now();
    void input.consumer.requestKeyFrame().catch(() => undefined);
  }

  /** Only the source shown (and one about to be) keeps sending to the recorder. */
  #onSwitched(ssrc: number | undefined): void {
    for (const input of this.#inputs.values()) {
      if (input.consumer.kind !== 'video' || input.ssrc === ssrc || input.ssrc === this.#switcher.pending || input.consumer.closed) continue;
      if (!input.consumer.paused) {
        void input.consumer.pause().catch(() => undefined);
        this.#o.media.demand.setPaused(input.producer.producer.id, input.consumer.id, true);
      }
    }
    this.#log.debug({ ssrc, peer: ssrc === undefined ? undefined : this.#inputs.get(ssrc)?.producer.peerId }, 'recording shows another video');
  }

  #onRtp(packet: Buffer): void {
    if (!this.#sending) return;
    const h = readRtp(packet);
    if (!h) return;
    const input = this.#inputs.get(h.ssrc);
    if (!input) return;
    if (input.consumer.kind === 'audio') this.#mixer.push(h.ssrc, packet.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength));
    else this.#switcher.onPacket(packet, h);
  }

  #elapsedMs(): number {
    return performance.now() - this.#t0;
  }

  #clock(rate: number, base: number): number {
    return (base + Math.round((this.#elapsedMs() * rate) / 1000)) >>> 0;
  }

  /** Sends the audio that is due (20 ms frames, caught up after a late timer), the placeholder, the reports. */
  #tick(): void {
    if (!this.#sending) return;
    const due = Math.floor((this.#elapsedMs() * SAMPLE_RATE) / 1000 / FRAME_SAMPLES);
    // After a long stall (a blocked event loop), skip ahead rather than burst seconds of audio.
    if (due - this.#audioFrames > 50) this.#audioFrames = due - 50;
    while (this.#audioFrames < due) {
      const pcm = this.#mixer.nextFrame();
      this.#audioSeq = (this.#audioSeq + 1) & 0xffff;
      const timestamp = (this.#audioBase + this.#audioFrames * FRAME_SAMPLES) >>> 0;
      this.#send(writeRtp({ payloadType: AUDIO_PAYLOAD_TYPE, marker: false, sequenceNumber: this.#audioSeq, timestamp, ssrc: this.#audioSsrc }, pcm), this.#ports!.audio);
      this.#audioFrames++;
      this.#audioOctets += pcm.length;
    }
    const now = performance.now();
    this.#switcher.tick(now);
    const pending = this.#switcher.pending;
    if (pending !== undefined && now - this.#lastKeyframeAsk > KEYFRAME_RETRY_MS) {
      const input = this.#inputs.get(pending);
      if (input) this.#askKeyframe(input);
    }
    this.#report(false);
  }

  /** RTCP sender reports: the same wall-clock instant on both streams' RTP clocks. */
  #report(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#lastReport < REPORT_EVERY_MS) return;
    this.#lastReport = now;
    const atMs = this.#epochAtT0 + (now - this.#t0);
    const ports = this.#ports!;
    // What goes out now was heard MIX_DELAY_SAMPLES ago: the report puts it back there.
    const audioNow = (this.#clock(SAMPLE_RATE, this.#audioBase) + MIX_DELAY_SAMPLES) >>> 0;
    this.#send(senderReport(this.#audioSsrc, atMs, audioNow, this.#audioFrames, this.#audioOctets), ports.audio + 1);
    this.#send(senderReport(this.#videoSsrc, atMs, this.#clock(90_000, this.#videoBase), this.#switcher.packets, this.#switcher.octets), ports.video + 1);
  }

  #send(packet: Buffer, port: number): void {
    this.#outSocket?.send(packet, port, '127.0.0.1');
  }

  async #checkDisk(): Promise<void> {
    if (this.#stopping) return;
    const free = await freeBytes(this.#o.file);
    if (free !== undefined && free < this.#o.minFreeBytes) {
      void this.stop('disk-full', `less than ${Math.round(this.#o.minFreeBytes / 1048576)} MB free on the recordings disk`);
    }
  }

  /**
   * Ends the recording (once): the consumers go, ffmpeg is asked to finish (`q`) and given
   * FFMPEG_FINISH_MS to write the end of its file, while silence and the last picture keep
   * its input flowing; then it is killed. Resolves when ffmpeg is gone.
   */
  stop(reason: StopReason, message?: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#log.info({ reason, message }, 'recording stopping');
      for (const d of this.#detach.splice(0)) d();
      for (const input of [...this.#inputs.values()]) input.consumer.close();
      this.#switcher.want(undefined);
      const child = this.#ffmpeg;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.stdin?.end('q');
        const finished = await Promise.race([this.#ffmpegExit!.then(() => true), sleep(FFMPEG_FINISH_MS).then(() => false)]);
        if (!finished) {
          this.#log.warn('ffmpeg did not finish its file in time: killed');
          child.kill('SIGKILL');
          await this.#ffmpegExit;
        }
      }
      await this.#teardown();
      this.emit('end', reason, message);
    })();
    return this.#stopping;
  }

  async #teardown(): Promise<void> {
    this.#sending = false;
    for (const t of this.#timers.splice(0)) clearInterval(t);
    for (const d of this.#detach.splice(0)) d();
    this.#transport?.close();
    if (this.#ffmpeg && this.#ffmpeg.exitCode === null && this.#ffmpeg.signalCode === null) {
      this.#ffmpeg.kill('SIGKILL');
      await this.#ffmpegExit;
    }
    this.#mixer.close();
    this.#inSocket?.close();
    this.#outSocket?.close();
    this.#inSocket = this.#outSocket = undefined;
    if (this.#ports) {
      this.#o.ports.give(this.#ports.audio);
      this.#o.ports.give(this.#ports.video);
      this.#ports = undefined;
    }
    await unlink(this.#o.sdpFile).catch(() => undefined);
  }
}

function sdp(audioPort: number, videoPort: number): string {
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=Noom recording',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${audioPort} RTP/AVP ${AUDIO_PAYLOAD_TYPE}`,
    `a=rtpmap:${AUDIO_PAYLOAD_TYPE} L16/${SAMPLE_RATE}/1`,
    `m=video ${videoPort} RTP/AVP ${VIDEO_PAYLOAD_TYPE}`,
    `a=rtpmap:${VIDEO_PAYLOAD_TYPE} VP8/90000`,
    '',
  ].join('\r\n');
}

function randomSsrc(): number {
  return (1 + Math.floor(Math.random() * 0xfffffffe)) >>> 0;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Free bytes for unprivileged users on the disk holding `file`'s directory. */
export async function freeBytes(file: string): Promise<number | undefined> {
  try {
    const s = await statfs(file.replace(/\/[^/]*$/, '') || '/');
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
