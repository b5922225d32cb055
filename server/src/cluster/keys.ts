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
  /** Prefix of a room's keys: `<prefix><roomId>:settings|peers|producers|chat`. */
  roomPrefix: 'noom:room:',
  /** Hash: `public` ('1'/'0'), `password` (hash, '' when open), `maxPeers`, `lobby` ('1'/'0', absent: off), `recording` (the node recording the room, absent: none). */
  roomSettings: (roomId: string) => `noom:room:${roomId}:settings`,
  /** Hash: peer id → JSON {@link DirectoryMember}. */
  roomPeers: (roomId: string) => `noom:room:${roomId}:peers`,
  /** Hash: producer id → JSON {@link DirectoryProducer}. */
  roomProducers: (roomId: string) => `noom:room:${roomId}:producers`,
  /** List of JSON chat messages, oldest first, capped at the history size. */
  roomChat: (roomId: string) => `noom:room:${roomId}:chat`,
  /** Pub/sub channel of chat messages, in the one order Redis ran their scripts: every node delivers in it. */
  chat: 'noom:chat',
  /** Set of room ids that may exist (pruned when their settings key is gone). */
  rooms: 'noom:rooms',
  /** String with a TTL: a removed identity kept out of a room (the key hashes room and identity). */
  kickBan: (digest: string) => `noom:ban:${digest}`,
  /** Set of the room ids in which a node has (or had) members: what to clean when it dies. */
  nodeRooms: (nodeId: string) => `noom:node:${nodeId}:rooms`,
} as const;
