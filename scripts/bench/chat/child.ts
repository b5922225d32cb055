/**
 * A signaling-benchmark client process: plain socket.io-client sockets, no media. All members
 * of a room live in the same process, so a message's send time and every receipt are read
 * from one clock (performance.now()).
 */
import { io } from 'socket.io-client';
import { ChatMessageEvent, request } from '../../../protocol/index.js';
import type { ProtocolSocket } from '../../loadtest/peer/signaling.js';
import { ChatCommand, type ChatReply } from './messages.js';

interface Member {
  socket: ProtocolSocket;
  roomId: string;
  /** Index of the URL (node) it connected to. */
  node: number;
}

const members: Member[] = [];
const rooms = new Map<string, Member[]>();
/** Message text → send time, per room; receipts are matched on the text. */
const sentAt = new Map<string, number>();
/** Latencies by the receiver's node. */
let byNode: number[][] = [];

function reply(message: ChatReply): void {
  process.send?.(message);
}

function connectOne(url: string): Promise<ProtocolSocket> {
  const socket: ProtocolSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20_000 });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.disconnect();
      reject(error);
    });
  });
}

async function connectAll(cmd: Extract<ChatCommand, { cmd: 'connect' }>): Promise<void> {
  const jobs = cmd.rooms.flatMap((roomId) => Array.from({ length: cmd.membersPerRoom }, (_, i) => ({ roomId, i })));
  const joinMs: number[] = [];
  const failed: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      try {
        const t0 = performance.now();
        const node = job.i % cmd.urls.length;
        const socket = await connectOne(cmd.urls[node]!);
        const joined = await request(socket, 'room:join', { roomId: job.roomId, displayName: `chat-${job.i}` }, 20_000);
        joinMs.push(performance.now() - t0);
        const m: Member = { socket, roomId: job.roomId, node };
        members.push(m);
        const list = rooms.get(job.roomId) ?? [];
        list.push(m);
        rooms.set(job.roomId, list);
        (socket as unknown as { on(ev: string, f: (raw: unknown) => void): void }).on('chat:message', (raw) => {
          const now = performance.now();
          const msg = ChatMessageEvent.safeParse(raw);
          if (!msg.success) return;
          const t = sentAt.get(msg.data.text);
          // The server echoes a message to its sender too: that copy is not a fan-out delivery.
          if (t !== undefined && msg.data.peerId !== joined.peerId) (byNode[node] ??= []).push(now - t);
        });
      } catch (error) {
        failed.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency }, worker));
  reply({ type: 'connected', sockets: members.length, failed: failed.slice(0, 20), joinMs });
}

async function chat(cmd: Extract<ChatCommand, { cmd: 'chat' }>): Promise<void> {
  byNode = [];
  let sent = 0;
  let expected = 0;
  const sendFailures: string[] = [];
  const inflight: Promise<void>[] = [];
  // Senders: the members on the first node.
  const roomList = [...rooms.values()].map((list) => ({ list, senders: list.filter((m) => m.node === 0) }));
  const start = performance.now();
  const total = Math.floor(cmd.durationMs / cmd.intervalMs) * roomList.length;
  // Rooms send in turn on a fixed schedule spread over the interval, not all on one tick,
  // and a late timer does not slow the offered rate down.
  for (let k = 0; k < total; k++) {
    const wait = start + (k * cmd.intervalMs) / roomList.length - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { list, senders } = roomList[k % roomList.length]!;
    const tick = Math.floor(k / roomList.length);
    const sender = senders[tick % senders.length]!;
    const text = `bench ${sender.roomId} ${tick}`;
    sentAt.set(text, performance.now());
    sent++;
    expected += list.length - 1;
    inflight.push(
      request(sender.socket, 'chat:send', { text }, 20_000).then(
        () => undefined,
        (error: unknown) => {
          sendFailures.push(error instanceof Error ? error.message : String(error));
        },
      ),
    );
  }
  await Promise.all(inflight);
  await new Promise((resolve) => setTimeout(resolve, 2000)); // stragglers
  const rounded = Array.from(byNode, (ls) => (ls ?? []).map((l) => Math.round(l * 100) / 100));
  reply({ type: 'chatDone', sent, sendFailures: sendFailures.slice(0, 20), expected, latencies: rounded.flat(), byNode: rounded });
}

process.on('message', (raw: unknown) => {
  const cmd = ChatCommand.safeParse(raw);
  if (!cmd.success) return;
  if (cmd.data.cmd === 'connect') void connectAll(cmd.data);
  else void chat(cmd.data);
});
process.on('disconnect', () => {
  for (const m of members) m.socket.disconnect();
  process.exit(0);
});
reply({ type: 'ready' });
