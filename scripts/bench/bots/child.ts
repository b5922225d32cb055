/**
 * A bot process: hosts SyntheticPeers (mediasoup-client on werift) for a benchmark and
 * answers its requests over IPC. One per core, so that the bots' JavaScript SRTP does not
 * share an event loop beyond what one core carries. Exits when the parent goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SyntheticPeer, prepareMedia } from '../../loadtest/peer/index.js';
import { BotRequest, type JoinResult, type PeerCounters, type StatsResult } from './messages.js';

const peers: { peer: SyntheticPeer; roomId: string }[] = [];
const failures: string[] = [];
let warnings = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

async function join(args: Extract<BotRequest, { cmd: 'join' }>['args']): Promise<JoinResult> {
  const started = performance.now();
  const peer = await SyntheticPeer.join({
    url: args.url,
    roomId: args.roomId,
    displayName: args.displayName,
    publish: args.publish,
    consume: args.consume,
  });
  peers.push({ peer, roomId: args.roomId });
  peer.events.on('warning', () => warnings++);
  peer.events.on('failed', (error) => failures.push(`${peer.peerId}: ${error.message}`));
  return { peerId: peer.peerId, joinAckMs: peer.joinedAt - peer.joinSentAt, setupMs: performance.now() - started };
}

function stats(): StatsResult {
  const out: PeerCounters[] = peers.map(({ peer, roomId }) => ({
    peerId: peer.peerId,
    roomId,
    consumers: peer.consumerStats().map((c) => ({
      consumerId: c.consumerId,
      producerId: c.producerId,
      kind: c.kind,
      packets: c.packets,
      bytes: c.bytes,
      lost: c.lost,
      closed: c.closed,
      plisSent: c.plisSent,
      ...(c.firstPacketAt !== undefined ? { firstPacketMs: c.firstPacketAt - peer.joinSentAt } : {}),
      ...(c.resumedAt !== undefined ? { resumedMs: c.resumedAt - peer.joinSentAt } : {}),
    })),
    packetsSent: peer.producerStats().reduce((a, p) => a + p.packetsSent, 0),
    ...(peer.recvConnectedAt !== undefined ? { recvConnectedMs: peer.recvConnectedAt - peer.joinSentAt } : {}),
  }));
  const loopDelayMaxMs = loopDelay.max / 1e6;
  loopDelay.reset();
  return { pid: process.pid, peers: out, warnings, failures: [...failures], loopDelayMaxMs };
}

async function closeAll(): Promise<Record<string, never>> {
  const all = peers.splice(0);
  await Promise.all(all.map(({ peer }) => peer.close()));
  return {};
}

process.on('message', (raw: unknown) => {
  const parsed = BotRequest.safeParse(raw);
  if (!parsed.success) return;
  const req = parsed.data;
  const run = (): Promise<unknown> => {
    switch (req.cmd) {
      case 'join':
        return join(req.args);
      case 'stats':
        return Promise.resolve(stats());
      case 'closeAll':
        return closeAll();
    }
  };
  run().then(
    (result) => process.send?.({ id: req.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: req.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => {
  void closeAll().finally(() => process.exit(0));
});

await prepareMedia();
process.send?.({ ready: true });
