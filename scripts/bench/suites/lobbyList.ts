/**
 * (l) The public room list on the wire: 1,000 lobby sockets watch 300 public rooms, one
 * member each at first, while members move to another room 50 times a second (counts change,
 * rooms leave and re-enter the list). Counts the `rooms:update` bytes (the JSON payload) and messages
 * that reach the lobby sockets and the members' own sockets, per second.
 */
import { request } from '../../../protocol/index.js';
import { connectSocket, type ProtocolSocket } from '../../loadtest/peer/signaling.js';
import { log, sleep } from '../lib/output.js';
import { startServer } from '../lib/serverProcess.js';
import { round } from '../lib/stats.js';
import { scaled, type SuiteOptions, type SuiteResult } from './types.js';

interface Tally {
  bytes: number;
  messages: number;
}

function count(sockets: readonly ProtocolSocket[], tally: Tally): void {
  for (const s of sockets) {
    s.on('rooms:update', (page) => {
      tally.bytes += Buffer.byteLength(JSON.stringify(page));
      tally.messages += 1;
    });
  }
}

async function inBatches<T>(n: number, batch: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => make(i + k)))));
  return out;
}

export async function lobbyList(o: SuiteOptions): Promise<SuiteResult> {
  const lobbies = o.quick ? 100 : scaled(1000, o);
  const rooms = o.quick ? 60 : scaled(300, o);
  const churnPerS = 50;
  const durationMs = o.quick ? 5_000 : 20_000;
  log(`lobby-list: ${lobbies} lobby sockets, ${rooms} public rooms, ${churnPerS} moves between rooms per second for ${durationMs / 1000} s`);
  const server = await startServer('noom', 'lobby-list', { MAX_ROOMS: String(rooms * 2), RATE_LIMIT_EXEMPT: 'loopback' });
  const sockets: ProtocolSocket[] = [];
  try {
    const members = await inBatches(rooms, 50, async (i) => {
      const s = await connectSocket(server.url, 10_000);
      sockets.push(s);
      await request(s, 'room:join', { roomId: `room-${i}`, displayName: `member ${i}`, public: true });
      return s;
    });
    const watchers = await inBatches(lobbies, 100, async () => {
      const s = await connectSocket(server.url, 10_000);
      sockets.push(s);
      return s;
    });
    await sleep(1000);
    const lobby: Tally = { bytes: 0, messages: 0 };
    const inRoom: Tally = { bytes: 0, messages: 0 };
    count(watchers, lobby);
    count(members, inRoom);

    const started = Date.now();
    let changes = 0;
    while (Date.now() - started < durationMs) {
      const i = Math.floor(Math.random() * rooms);
      const member = members[i]!;
      await request(member, 'room:leave', {});
      await request(member, 'room:join', { roomId: `room-${Math.floor(Math.random() * rooms)}`, displayName: `member ${i}`, public: true });
      changes += 1;
      const due = started + (changes * 1000) / churnPerS;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    const seconds = (Date.now() - started) / 1000;
    await sleep(500);
    const perS = (t: Tally) => ({ bytesPerS: round(t.bytes / seconds, 0), messagesPerS: round(t.messages / seconds, 1) });
    const data = {
      lobbies,
      rooms,
      churnPerS: round(changes / seconds, 1),
      seconds: round(seconds, 1),
      lobby: perS(lobby),
      perLobbySocket: round(lobby.bytes / seconds / lobbies, 0),
      inRoom: perS(inRoom),
    };
    const mb = (b: number) => `${round(b / 1e6, 2)} MB/s`;
    return {
      name: 'lobby-list',
      summary: [
        `rooms:update to ${lobbies} lobby sockets, ${rooms} public rooms, ${data.churnPerS} changes/s: ${mb(data.lobby.bytesPerS)} (${data.lobby.messagesPerS} messages/s, ${data.perLobbySocket} B/s per socket)`,
        `rooms:update to the ${rooms} sockets in rooms: ${mb(data.inRoom.bytesPerS)} (${data.inRoom.messagesPerS} messages/s)`,
      ],
      data,
    };
  } finally {
    for (const s of sockets) s.close();
    await server.stop();
  }
}
