/**
 * One room over Noom cluster nodes run in this process (`startNoom` with REDIS_URL and
 * NODE_ID), one worker each, the worker of node i bound to CPU `cpus[i]`. The publisher is
 * on the first node; viewers alternate between the nodes, placed and served by each node's
 * share of the room ({@link addRoomViewer}): a node's first viewer imports the producers
 * from the first node (one SRTP PipeTransport pair per producer, MediaLinks), the others
 * reuse that import.
 *
 * Each node's share has a member, a Socket.IO client that joined the room (a share is
 * seeded by a join). The publisher's producers enter the first node's room as in
 * {@link NoomTarget} and the shared directory under its member's id, before the other
 * members join: the other nodes learn of them as of any peer's producers.
 */
import { randomUUID } from 'node:crypto';
import { request } from '../../../protocol/index.js';
import { startNoom, type NoomServer } from '../../../server/src/app.js';
import { RoomDirectory } from '../../../server/src/cluster/RoomDirectory.js';
import { connectSocket, type ProtocolSocket } from '../../loadtest/peer/signaling.js';
import { sleep } from '../lib/output.js';
import { pin } from './ramp.js';
import type { SenderProcess } from './senderProcess.js';
import { addRoomViewer, noomConfig, openPublisher, type CapacityTarget, type Published, type Viewer, type ViewerSpec } from './targets.js';

export class ClusterTarget implements CapacityTarget {
  readonly label: string;
  #next = 0;
  readonly #released: (() => void)[] = [];

  private constructor(
    readonly nodes: NoomServer[],
    readonly roomId: string,
    readonly published: Published,
    readonly sockets: ProtocolSocket[],
  ) {
    this.label = `${nodes.length} cluster node(s), one worker each`;
  }

  static async start(sender: SenderProcess, redisUrl: string, cpus: readonly number[]): Promise<ClusterTarget> {
    const tag = randomUUID().slice(0, 8);
    const nodes: NoomServer[] = [];
    const sockets: ProtocolSocket[] = [];
    const release: (() => void)[] = [];
    const roomId = `cluster-capacity-${tag}`;
    const member = async (node: NoomServer) => {
      const socket = await connectSocket(node.url, 5000);
      sockets.push(socket);
      return request(socket, 'room:join', { roomId, displayName: 'member' }, 5000);
    };
    try {
      for (const [i] of cpus.entries()) {
        nodes.push(await startNoom(noomConfig(1, 1, { REDIS_URL: redisUrl, NODE_ID: `capacity-${i}-${tag}` })));
      }
      await seeEachOther(nodes);
      const first = nodes[0]!;
      const { peerId } = await member(first);
      const room = first.rooms.get(roomId)!;
      const placement = room.media.place(`publisher-${tag}`);
      release.push(placement.release);
      const { published } = await openPublisher(placement.router, sender, noomConfig(1, 1).mediasoup.keyFrameRequestDelayMs);
      const directory = new RoomDirectory(first.cluster!.redis, { nodeId: first.cluster!.nodeId, graceMs: 600_000 });
      for (const [producer, source] of [[published.audio, 'mic'], [published.video, 'camera']] as const) {
        room.media.addProducer({ producer, peerId, source, router: placement.router });
        await directory.putProducer(roomId, { producerId: producer.id, peerId, kind: producer.kind, source, paused: false });
      }
      for (const node of nodes.slice(1)) await member(node);
      for (const [i, node] of nodes.entries()) for (const slot of node.pool.slots) await pin(slot.worker.pid, cpus[i]!);
      const target = new ClusterTarget(nodes, roomId, published, sockets);
      target.#released.push(...release);
      return target;
    } catch (error) {
      for (const r of release) r();
      await closeAll(sockets, nodes);
      throw error;
    }
  }

  get workerPids(): number[] {
    return this.nodes.flatMap((n) => n.pool.slots.map((s) => s.worker.pid));
  }

  /** The next viewer goes to the next node; its slot is the node's index. */
  async addViewer(spec: ViewerSpec): Promise<Viewer> {
    const i = this.#next++ % this.nodes.length;
    const room = this.nodes[i]!.rooms.get(this.roomId);
    if (!room) throw new Error(`node ${i} has no share of the room`);
    const { viewer, release } = await addRoomViewer(room, this.published, spec, i);
    this.#released.push(release);
    return viewer;
  }

  async close(): Promise<void> {
    for (const r of this.#released.splice(0)) r();
    await closeAll(this.sockets, this.nodes);
  }
}

/** Until every node sees every other alive (a pipe is asked of a node known to be alive). */
async function seeEachOther(nodes: readonly NoomServer[], timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const ids = nodes.map((n) => n.cluster!.nodeId);
  while (!nodes.every((n) => ids.every((id) => id === n.cluster!.nodeId || n.cluster!.liveness.isAlive(id)))) {
    if (performance.now() > deadline) throw new Error(`cluster nodes did not see each other in ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function closeAll(sockets: readonly ProtocolSocket[], nodes: readonly NoomServer[]): Promise<void> {
  for (const s of sockets) s.disconnect();
  await Promise.all(nodes.map((n) => n.close()));
}
