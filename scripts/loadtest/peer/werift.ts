/**
 * werift as the WebRTC engine under mediasoup-client, in Node.
 *
 * werift ships two ESM bundles (`werift` and `werift/polyfill`) that each embed their own
 * copy of the ICE stack, so a patch applied through one import would miss the classes the
 * other one uses. Loading both through `require` gives one shared module graph: the
 * polyfill's RTCPeerConnection is built on the very `Connection` class patched here.
 */
import { createRequire } from 'node:module';

export type Werift = typeof import('werift');
type WeriftPolyfill = typeof import('werift/polyfill');

const require = createRequire(import.meta.url);
export const werift = require('werift') as Werift;
const polyfill = require('werift/polyfill') as WeriftPolyfill;

/**
 * Globals the mediasoup-client handlers reference as bare identifiers. `window` and
 * `navigator` are deliberately left out: other libraries in the same process (Socket.IO's
 * client, the server under test) must keep seeing plain Node.
 */
const GLOBAL_KEYS = [
  'RTCPeerConnection',
  'RTCSessionDescription',
  'RTCIceCandidate',
  'RTCDataChannel',
  'MediaStream',
  'MediaStreamTrack',
  'RTCRtpSender',
  'RTCRtpReceiver',
  'RTCRtpTransceiver',
  'RTCIceTransport',
  'RTCDtlsTransport',
  'RTCTrackEvent',
] as const;

let installed = false;

/**
 * Makes "no STUN server configured" mean no STUN. werift 0.25.2 falls back to
 * stun.l.google.com:19302 otherwise, so every PeerConnection would resolve that name
 * through the system DNS server and send a binding request off the machine.
 */
function disableDefaultStunServer(): void {
  const proto = werift.Connection.prototype as unknown as {
    options: { stunServer?: readonly [string, number]; turnServer?: readonly [string, number] };
    stunServer?: readonly [string, number];
    turnServer?: readonly [string, number];
    applyStunTurnServersFromOptions(): void;
  };
  proto.applyStunTurnServersFromOptions = function applyConfiguredServersOnly() {
    this.stunServer = werift.validateAddress(this.options.stunServer);
    this.turnServer = werift.validateAddress(this.options.turnServer);
  };
}

/**
 * Installs werift's RTCPeerConnection & co. as globals for mediasoup-client. Idempotent.
 * Every PeerConnection defaults to no ICE servers and also offers a 127.0.0.1 host
 * candidate (werift skips loopback interfaces), so a server announcing 127.0.0.1 is
 * reachable without any traffic leaving the host.
 */
export function installWerift(): void {
  if (installed) return;
  installed = true;
  disableDefaultStunServer();
  const holder: Record<string, unknown> = {};
  polyfill.installPolyfill({
    target: holder,
    mediaRegister: [],
    peerConnectionConfig: {
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      // Lets the synthetic audio carry levels, which the server's active-speaker observer reads.
      headerExtensions: { audio: [werift.useAudioLevelIndication()], video: [] },
    },
  });
  const g = globalThis as unknown as Record<string, unknown>;
  for (const key of GLOBAL_KEYS) g[key] = holder[key];
}
