/** What a load-test run is asked to do, with the parsing of the CLI's notations. */
import { availableParallelism } from 'node:os';
import { PEER_ENGINES, type PeerEngine } from './peer/loadPeer.js';
import { SIMULCAST_LAYERS } from './peer/simulcast.js';
import type { Thresholds } from './verdict.js';

export interface LoadTestOptions {
  /**
   * Base URL of the Noom server, e.g. http://127.0.0.1:3000, or of each node of a cluster:
   * the peers of every room are then dealt out over the nodes (see planPeers).
   */
  url: string | readonly string[];
  rooms: number;
  /**
   * Per room: peers publishing audio + video (they also consume each other). With
   * `publishersMax`, the fewest a room gets: room counts then go publishers, publishers + 1,
   * … publishersMax and round again (see publishersInRoom).
   */
  publishers: number;
  publishersMax?: number;
  /** Per room: peers that only consume. */
  subscribers: number;
  /** Seconds to keep every peer connected once the last one has been started. */
  durationSec: number;
  /** Peers started per second, over the whole run. */
  rampPerSec: number;
  /** Directory for the JSON and HTML reports; none written when undefined. */
  outDir?: string;
  /** Child processes running the peers; default one per core. */
  processes?: number;
  /** Room ids are `${roomPrefix}-${n}`; default a random prefix, so runs do not mix. */
  roomPrefix?: string;
  password?: string;
  /** Server metrics endpoint, or one per `url` in the same order; default `${url}/metrics` for each. */
  metricsUrl?: string | readonly string[];
  /** Seconds between samples of the peers and between scrapes of the server. */
  sampleIntervalSec?: number;
  /** Live progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /**
   * WebRTC engine of the peers: `werift` replays a pre-encoded clip (default, cheap);
   * `wrtc` encodes and decodes with libwebrtc, as a browser does.
   */
  engine?: PeerEngine;
  /**
   * On `room:closed`, peers join the room again (retrying for 30 s) as the browser client
   * does, instead of failing; they count as down until media flows again. Default false.
   */
  rejoin?: boolean;
  /** What each publisher sends; default both. */
  publish?: PublishKinds;
  /**
   * Speaker simulation: in each room one audio publisher at a time marks its audio as speech
   * (RFC 6464 level), the others as silence; the turn passes to the next every this many
   * seconds. Default: every publisher speaks all the time.
   */
  speakerTurnSec?: number;
  /** Publishers send video as simulcast layers (SIMULCAST_LAYERS), as the browser client's camera does. */
  simulcast?: boolean;
  /** Subscribers ask every simulcast video consumer for this spatial layer (0 = lowest). */
  subscriberLayer?: number;
  /** With `subscriberLayer`: simulcast consumers allowed to end on another layer (or none); default 0. */
  maxLayerMismatches?: number;
  /** Pass/fail limits; each one left out takes its default (DEFAULT_THRESHOLDS). */
  thresholds?: Partial<Thresholds>;
}

export interface PublishKinds {
  audio: boolean;
  video: boolean;
}

/** `audio,video` (either order), `audio` or `video`. */
export function parsePublish(text: string): PublishKinds {
  const parts = text.split(',').map((p) => p.trim().toLowerCase());
  const unknown = parts.filter((p) => p !== 'audio' && p !== 'video');
  if (unknown.length > 0 || parts.length === 0) throw new Error(`invalid --publish "${text}": expected audio, video or audio,video`);
  return { audio: parts.includes('audio'), video: parts.includes('video') };
}

/** `3` or `2-5`: publishers per room, a fixed count or a range. */
export function parsePublishers(text: string): { min: number; max?: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new Error(`invalid --publishers "${text}": expected a count (3) or a range (2-5)`);
  const min = Number(m[1]);
  if (m[2] === undefined) return { min };
  const max = Number(m[2]);
  if (max < min) throw new Error(`invalid --publishers "${text}": the range goes from low to high`);
  return { min, max };
}

/**
 * Publishers of room `room` (0-based): the range's counts in turn, so that a run of R rooms
 * has a known mix (every count of 2-5 in a 4-room run) and two runs of it are alike.
 */
export function publishersInRoom(o: Pick<LoadTestOptions, 'publishers' | 'publishersMax'>, room: number): number {
  if (o.publishersMax === undefined) return o.publishers;
  return o.publishers + (room % (o.publishersMax - o.publishers + 1));
}

/** `5/s`, `5`, `300/min`: peers per second. */
export function parseRamp(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid ramp "${text}": expected e.g. 5/s or 120/min`);
  const n = Number(m[1]);
  const perMinute = m[2] !== undefined && m[2].toLowerCase().startsWith('m');
  const rate = perMinute ? n / 60 : n;
  if (!(rate > 0)) throw new Error(`invalid ramp "${text}": must be positive`);
  return rate;
}

export function defaultProcesses(): number {
  return Math.max(1, availableParallelism());
}

function checkUrl(text: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`invalid ${flag} "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${flag} must be http(s)://`);
  return text;
}

/** `http://a:3000` or `http://a:3000,http://b:3001`: each an http(s) URL, as written. */
export function parseUrlList(text: string, flag = '--url'): string[] {
  return text.split(',').map((part) => checkUrl(part.trim(), flag));
}

/** The servers' base URLs, without trailing slashes: peer plans and reports name nodes by them. */
export function baseUrls(o: Pick<LoadTestOptions, 'url'>): string[] {
  return [o.url].flat().map((u) => u.replace(/\/+$/, ''));
}

/** Each server's metrics endpoint, in the order of `baseUrls`. */
export function metricsUrls(o: Pick<LoadTestOptions, 'url' | 'metricsUrl'>): string[] {
  return o.metricsUrl === undefined ? baseUrls(o).map((u) => `${u}/metrics`) : [o.metricsUrl].flat();
}

export function validateOptions(o: LoadTestOptions): void {
  const urls = baseUrls(o);
  if (urls.length === 0) throw new Error('--url is required');
  for (const u of urls) checkUrl(u, '--url');
  const twice = urls.find((u, i) => urls.indexOf(u) !== i);
  if (twice !== undefined) throw new Error(`--url ${twice} is given twice`);
  if (o.metricsUrl !== undefined) {
    const metrics = [o.metricsUrl].flat();
    for (const u of metrics) checkUrl(u, '--metrics-url');
    if (metrics.length !== urls.length) {
      throw new Error(`--metrics-url is given ${metrics.length} time(s) for ${urls.length} --url: give one per --url, in the same order`);
    }
  }
  const positiveInt = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}`);
  };
  positiveInt('rooms', o.rooms, 1);
  positiveInt('publishers', o.publishers, 0);
  if (o.publishersMax !== undefined) {
    positiveInt('publishers range high end', o.publishersMax, o.publishers);
  }
  positiveInt('subscribers', o.subscribers, 0);
  if (o.publishers + o.subscribers < 1) throw new Error('a room needs at least one publisher or subscriber');
  if (o.speakerTurnSec !== undefined && !(o.speakerTurnSec >= 0.5)) throw new Error('--speakers must be at least 0.5 s');
  if (!(o.durationSec >= 0)) throw new Error('--duration must be >= 0');
  if (!(o.rampPerSec > 0)) throw new Error('--ramp must be positive');
  if (o.processes !== undefined) positiveInt('processes', o.processes, 1);
  for (const [name, v] of Object.entries(o.thresholds ?? {})) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new Error(`threshold ${name} must be a number >= 0`);
  }
  if (o.thresholds?.maxMediaGapSec === 0) throw new Error('--max-media-gap must be above 0');
  if (o.publish !== undefined && !o.publish.audio && !o.publish.video) throw new Error('--publish must name audio, video or both');
  if (o.speakerTurnSec !== undefined) {
    if (o.publish !== undefined && !o.publish.audio) throw new Error('--speakers needs audio publishers');
    // libwebrtc marks its own levels from the tone it encodes: it cannot take turns.
    if (o.engine === 'wrtc') throw new Error('--speakers works with the werift engine only');
  }
  if (o.maxLayerMismatches !== undefined) positiveInt('max-layer-mismatches', o.maxLayerMismatches, 0);
  if (o.simulcast && o.engine === 'wrtc') throw new Error('--simulcast needs --engine werift');
  if (o.subscriberLayer !== undefined && !(Number.isInteger(o.subscriberLayer) && o.subscriberLayer >= 0 && o.subscriberLayer < SIMULCAST_LAYERS.length)) {
    throw new Error(`--subscriber-layer must be low, mid, high or 0–${SIMULCAST_LAYERS.length - 1}`);
  }
  if (o.engine !== undefined && !PEER_ENGINES.includes(o.engine)) throw new Error(`--engine must be one of ${PEER_ENGINES.join(', ')}`);
}
