/** What each node of a local cluster (`npm run cluster`) gets: its id, HTTP port and RTC ports. */

export interface ClusterPlanOptions {
  nodes: number;
  /** HTTP port of the first node; node i uses basePort + i. 0: each node picks a free port. */
  basePort: number;
  /** Start of the first node's block of RTC ports; 0: WebRtcServers on free ports. */
  rtcPortBase: number;
  /** mediasoup workers per node. */
  workers: number;
  redisUrl: string;
}

export interface NodePlan {
  nodeId: string;
  /** Variables set for this node, over the caller's environment. */
  env: Record<string, string>;
}

/** Each node owns a block of this many RTC ports, so no two nodes ever compete for one. */
export const RTC_PORTS_PER_NODE = 1000;
/** The first ports of a block are the WebRtcServers' (one per worker); the rest is the range for other sockets. */
const WEBRTC_SERVER_PORTS = 100;
const DEFAULT_RTC_BASE = 40000;

export function planNodes(o: ClusterPlanOptions): NodePlan[] {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 20) throw new RangeError('--nodes must be 1-20');
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > WEBRTC_SERVER_PORTS) {
    throw new RangeError(`--workers must be 1-${WEBRTC_SERVER_PORTS}`);
  }
  if (o.basePort !== 0 && (o.basePort < 1 || o.basePort + o.nodes - 1 > 65535)) {
    throw new RangeError(`--base-port ${o.basePort} leaves no room for ${o.nodes} nodes`);
  }
  const rtcBase = o.rtcPortBase || DEFAULT_RTC_BASE;
  if (rtcBase < 1024 || rtcBase + o.nodes * RTC_PORTS_PER_NODE - 1 > 65535) {
    throw new RangeError(`--rtc-port-base ${rtcBase} leaves no room for ${o.nodes} blocks of ${RTC_PORTS_PER_NODE} ports`);
  }
  return Array.from({ length: o.nodes }, (_, i) => {
    const block = rtcBase + i * RTC_PORTS_PER_NODE;
    const nodeId = `node-${i + 1}`;
    return {
      nodeId,
      env: {
        NODE_ID: nodeId,
        REDIS_URL: o.redisUrl,
        PORT: String(o.basePort === 0 ? 0 : o.basePort + i),
        WORKERS: String(o.workers),
        RTC_PORT_BASE: String(o.rtcPortBase === 0 ? 0 : block),
        RTC_MIN_PORT: String(block + WEBRTC_SERVER_PORTS),
        RTC_MAX_PORT: String(block + RTC_PORTS_PER_NODE - 1),
      },
    };
  });
}
