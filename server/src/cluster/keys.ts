/** Every Redis key and channel name Noom uses, in one place, under the `noom:` prefix. */

export const keys = {
  /** String, JSON {@link NodeRecord}, with a short TTL that the node keeps refreshing. */
  node: (nodeId: string) => `noom:node:${nodeId}`,
  /** Set of node ids that have registered; entries whose key expired are pruned by the survivors. */
  nodes: 'noom:nodes',
  /** Pub/sub channel of membership news (a node leaving on purpose), for an immediate `nodedown`. */
  nodeEvents: 'noom:nodes:events',
  /** Stream of requests to one node (the broker). */
  requests: (nodeId: string) => `noom:broker:requests:${nodeId}`,
  /** Pub/sub channel of replies to one node's requests (the broker). */
  replies: (nodeId: string) => `noom:broker:replies:${nodeId}`,
  /** Stream and channel prefix of the Socket.IO adapter. */
  socketIoStream: 'noom:socket.io',
  socketIoChannelPrefix: 'noom:socket.io',
  socketIoSessionPrefix: 'noom:socket.io:session:',
} as const;
