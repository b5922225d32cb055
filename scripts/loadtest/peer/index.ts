/**
 * Synthetic WebRTC peers for integration tests and the load tester: mediasoup-client on
 * werift, publishing a cached, pre-encoded clip in real time (SyntheticPeer), or on
 * @roamhq/wrtc, encoding generated camera and microphone media with libwebrtc (WrtcPeer).
 */
import { DEFAULT_CLIP, ensureClip } from './clip.js';
import { SIMULCAST_LAYERS } from './simulcast.js';

export { SyntheticPeer } from './syntheticPeer.js';
export type {
  ConsumerStats,
  KeyFrameEvent,
  ProducerStats,
  SyntheticPeerEvents,
  SyntheticPeerJoinOptions,
  SyntheticPeerOptions,
} from './syntheticPeer.js';
export { DEFAULT_CLIP, clipCacheRoot, ensureClip, type ClipParameters } from './clip.js';
export { installWerift } from './werift.js';

/** Encodes the clip (and with `simulcast` one per layer) with ffmpeg unless it is already cached. */
export async function prepareMedia(o: { simulcast?: boolean } = {}): Promise<void> {
  await ensureClip(DEFAULT_CLIP);
  // One at a time: the machine's cores are for the run's peers and server, not for ffmpeg.
  if (o.simulcast) for (const layer of SIMULCAST_LAYERS) await ensureClip(layer);
}
export { WrtcPeer, type WrtcPeerOptions } from './wrtcPeer.js';
export { PEER_ENGINES, waitForConsumerMedia, type LoadPeer, type PeerEngine, type WaitForMediaOptions } from './loadPeer.js';
