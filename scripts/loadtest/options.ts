/** What a load-test run is asked to do, with the parsing of the CLI's notations. */
import { availableParallelism } from 'node:os';
import { PEER_ENGINES, type PeerEngine } from './peer/loadPeer.js';

export interface LoadTestOptions {
  /** Base URL of the Noom server, e.g. http://127.0.0.1:3000. */
  url: string;
  rooms: number;
  /** Per room: peers publishing audio + video (they also consume each other). */
  publishers: number;
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
  /** Server metrics endpoint; default `${url}/metrics`. */
  metricsUrl?: string;
  /** Seconds between samples of the peers and between scrapes of the server. */
  sampleIntervalSec?: number;
  /** Live progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /**
   * WebRTC engine of the peers: `werift` replays a pre-encoded clip (default, cheap);
   * `wrtc` encodes and decodes with libwebrtc, as a browser does.
   */
  engine?: PeerEngine;
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

export function validateOptions(o: LoadTestOptions): void {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new Error(`invalid --url "${o.url}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('--url must be http(s)://');
  const positiveInt = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}`);
  };
  positiveInt('rooms', o.rooms, 1);
  positiveInt('publishers', o.publishers, 0);
  positiveInt('subscribers', o.subscribers, 0);
  if (o.publishers + o.subscribers < 1) throw new Error('a room needs at least one publisher or subscriber');
  if (!(o.durationSec >= 0)) throw new Error('--duration must be >= 0');
  if (!(o.rampPerSec > 0)) throw new Error('--ramp must be positive');
  if (o.processes !== undefined) positiveInt('processes', o.processes, 1);
  if (o.engine !== undefined && !PEER_ENGINES.includes(o.engine)) throw new Error(`--engine must be one of ${PEER_ENGINES.join(', ')}`);
}
