import type { types } from 'mediasoup';

/**
 * How every WebRTC transport is opened: UDP preferred, TCP as a fallback, and a starting
 * estimate of 1 Mbit/s so that video does not begin at the lowest layer. The benchmark's
 * bare harness opens its transports the same way, so that the two are comparable.
 */
export const WEBRTC_TRANSPORT_OPTIONS = {
  enableUdp: true,
  enableTcp: true,
  preferUdp: true,
  initialAvailableOutgoingBitrate: 1_000_000,
} as const satisfies Partial<types.WebRtcTransportOptions>;
