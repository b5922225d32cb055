/**
 * werift as the WebRTC engine under mediasoup-client, in Node.
 *
 * werift ships two ESM bundles (`werift` and `werift/polyfill`) that each embed their own
 * copy of the ICE stack, so a patch applied through one import would miss the classes the
 * other one uses. Loading both through `require` gives one shared module graph: the
 * polyfill's RTCPeerConnection is built on the very `Connection` class patched here.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ABS_CAPTURE_TIME_URI } from './latency.js';

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

/** werift has no helper for abs-capture-time; it passes unknown extensions through as they are. */
function absCaptureTime(): InstanceType<Werift['RTCRtpHeaderExtensionParameters']> {
  return new werift.RTCRtpHeaderExtensionParameters({ uri: ABS_CAPTURE_TIME_URI });
}

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
 * Makes closing a PeerConnection stop every transport it ever created. werift 0.25.2 stops
 * only the transports its transceivers still point at; after a renegotiation that
 * re-creates a transport (consumers closed while the server goes away), the replaced
 * transport's ICE sockets outlive the PeerConnection and keep the process alive.
 */
function stopEveryTransportOnClose(): void {
  type Stoppable = { stop(): Promise<void> };
  type Manager = { createTransport(...args: unknown[]): Stoppable; close(): Promise<void> };
  const path = join(dirname(require.resolve('werift')), 'secureTransportManager.js');
  const { SecureTransportManager } = require(path) as { SecureTransportManager: { prototype: Manager } };
  const proto = SecureTransportManager.prototype;
  const created = new WeakMap<object, Set<Stoppable>>();
  const create = proto.createTransport;
  proto.createTransport = function createAndRemember(this: Manager, ...args: unknown[]) {
    const transport = create.apply(this, args);
    let set = created.get(this);
    if (!set) created.set(this, (set = new Set()));
    set.add(transport);
    return transport;
  };
  const close = proto.close;
  proto.close = async function closeAndStopAll(this: Manager) {
    await close.call(this);
    await Promise.allSettled([...(created.get(this) ?? [])].map((t) => t.stop()));
    created.delete(this);
  };
}

/**
 * Makes an ICE restart run ICE again. werift 0.25.2's `RTCPeerConnection.connect()` skips a
 * transport whose DTLS is still connected before it starts that transport's ICE agent; after
 * an ICE restart (new credentials, no selected pair) DTLS is still connected, so the agent
 * never sends a connectivity check and media never comes back, while the restart itself
 * answers fine. That is what happened after a UDP blackout long enough (30 s) for ICE
 * consent to expire. Here the restarted agents are started first; DTLS and SRTP carry on
 * over the new pair as they are.
 */
function startIceAgainAfterRestart(): void {
  type IceTransport = { state: string; connection: { nominated?: unknown }; start(): Promise<void> };
  type PeerConnection = {
    dtlsTransports: { state: string; iceTransport: IceTransport }[];
    secureManager: { setConnectionState(state: string): void };
    connect(): Promise<void>;
  };
  const proto = werift.RTCPeerConnection.prototype as unknown as PeerConnection;
  const connect = proto.connect;
  proto.connect = async function connectRestartedIce(this: PeerConnection) {
    const restarted = this.dtlsTransports.filter(
      (d) => d.state === 'connected' && d.iceTransport.state !== 'closed' && d.iceTransport.connection.nominated === undefined,
    );
    if (restarted.length > 0) {
      this.secureManager.setConnectionState('connecting');
      const started = await Promise.allSettled(restarted.map((d) => d.iceTransport.start()));
      if (started.some((r) => r.status === 'rejected')) {
        // As werift does when ICE fails: the transport reports it, and may be restarted again.
        this.secureManager.setConnectionState('failed');
        return;
      }
    }
    await connect.call(this);
  };
}

/**
 * Receive buffer asked for on every werift UDP socket. Linux's default (net.core.rmem_default,
 * 208 KiB) fills in a few ms when a busy bot's event loop stalls, and the kernel then drops
 * datagrams that the run would count as loss on the server's side; Linux caps the request at
 * net.core.rmem_max.
 */
export const UDP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** Every ICE socket werift binds gets a receive buffer of UDP_RECV_BUFFER_BYTES, where the OS allows. */
function raiseUdpReceiveBuffers(): void {
  type UdpTransport = { socket: import('node:dgram').Socket; init(): Promise<void> };
  const proto = (werift as unknown as { UdpTransport: { prototype: UdpTransport } }).UdpTransport.prototype;
  const init = proto.init;
  proto.init = async function initWithLargerBuffer(this: UdpTransport) {
    await init.call(this);
    try {
      this.socket.setRecvBufferSize(UDP_RECV_BUFFER_BYTES);
    } catch {
      // Refused by the OS: the default buffer is what the bot gets.
    }
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
  stopEveryTransportOnClose();
  startIceAgainAfterRestart();
  raiseUdpReceiveBuffers();
  const holder: Record<string, unknown> = {};
  polyfill.installPolyfill({
    target: holder,
    mediaRegister: [],
    peerConnectionConfig: {
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      // Lets the synthetic audio carry levels, which the server's active-speaker observer reads;
      // MID and RID let simulcast layers (simulcast.ts) be told apart, as a browser's are; and
      // every stream carries its send time, read back on receive for end-to-end latency (latency.ts).
      headerExtensions: {
        audio: [werift.useAudioLevelIndication(), absCaptureTime()],
        video: [werift.useSdesMid(), werift.useSdesRTPStreamId(), absCaptureTime()],
      },
    },
  });
  const g = globalThis as unknown as Record<string, unknown>;
  for (const key of GLOBAL_KEYS) g[key] = holder[key];
}
