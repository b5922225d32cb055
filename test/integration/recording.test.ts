/**
 * Recording a real call: werift peers publish a synthetic clip (moving test pattern, 440 Hz
 * tone) through the real server, a moderator records the room, and the file ffmpeg wrote is
 * decoded: its streams and durations, frames that change and are not black, audio that is
 * not silent, and the picture of a peer that joined and left during the recording.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NoomServer } from '../../server/src/app.js';
import { DEFAULT_CLIP, ensureClip, prepareMedia, SyntheticPeer, type ClipParameters } from '../../scripts/loadtest/peer/index.js';
import { mintJoinToken } from '../../server/src/auth/JoinTokens.js';
import { eventually } from '../support/eventually.js';
import { blackStarts, distinctFrames, lumaOverTime, meanVolume, probe, silenceStarts } from '../support/mediaFile.js';
import { request } from '../../protocol/index.js';
import type { ProtocolSocket } from '../../scripts/loadtest/peer/signaling.js';
import { collect, errorCode, rawAck, req, socketTracker, startTestServer } from '../support/server.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'noom-recordings-'));
/** A wide clip: shown in the 640x360 recording with black bars above and below (the 4:3 default gets them left and right). */
const WIDE_CLIP: ClipParameters = { ...DEFAULT_CLIP, width: 640, height: 160 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Starting waits for ffmpeg and stopping for its file: on a busy machine more than `req`'s 5 s. */
const slow = <E extends 'recording:start' | 'recording:stop'>(socket: ProtocolSocket, name: E) => request(socket, name, {}, 20_000);

let noom: NoomServer;
const peers: SyntheticPeer[] = [];
const sockets = socketTracker();
before(async () => {
  await prepareMedia();
  await ensureClip(WIDE_CLIP);
  noom = await startTestServer({ RECORDINGS_DIR: dir, RECORDING_MIN_FREE_MB: '1' });
});
after(async () => {
  sockets.closeAll();
  await Promise.all(peers.map((p) => p.close()));
  await noom?.close();
  if (!process.env.KEEP_RECORDINGS) rmSync(dir, { recursive: true, force: true });
});

async function gauge(): Promise<number> {
  const text = await (await fetch(`${noom.url}/metrics`)).text();
  return Number(/^noom_recordings_active (\d+)/m.exec(text)?.[1]);
}

test('a 3-peer call recorded for 10 s, with a peer joining and leaving meanwhile, decodes to what happened', async () => {
  const [ada, bob, cy] = await Promise.all(
    ['Ada', 'Bob', 'Cy'].map((name, i) => sleep(i * 300).then(() => SyntheticPeer.join({ url: noom.url, roomId: 'rec', displayName: name, publish: { audio: true, video: true }, consume: false }))),
  );
  peers.push(ada!, bob!, cy!);
  const room = noom.rooms.rooms.get('rec')!;
  await eventually('every producer in the room', () => room.media.producers.size === 6);
  const startedAtBob = collect(bob!.socket, 'recording:started');
  const stoppedAtBob = collect(bob!.socket, 'recording:stopped');

  const started = await slow(ada!.socket, 'recording:start');
  const recordingFrom = performance.now();
  assert.match(started.file, /^rec_\d{8}T\d{6}Z_[A-Za-z0-9_-]{8}\.webm$/);
  await eventually('Bob told of the recording', () => startedAtBob.length === 1);
  assert.equal(await gauge(), 1);

  await sleep(3000);
  // Dee joins; the others turn their cameras off, so the recording shows Dee.
  const dee = await SyntheticPeer.join({ url: noom.url, roomId: 'rec', displayName: 'Dee', publish: { audio: true, video: true }, consume: false, clip: WIDE_CLIP });
  peers.push(dee);
  assert.equal(dee.joinData.recording, true, 'a newcomer is told the room is being recorded');
  const cameras = (p: SyntheticPeer) => [...room.peers.get(p.peerId)!.producers.values()].filter((x) => x.producer.kind === 'video').map((x) => x.producer.id);
  for (const p of [ada!, bob!, cy!]) for (const producerId of cameras(p)) await req(p.socket, 'producer:pause', { producerId });
  await eventually('the recording shows Dee', () => noom.recordings.recorder('rec')?.stats.shown === dee.peerId, Boolean, { timeoutMs: 5000 });
  await sleep(3000);
  await dee.close();
  for (const p of [ada!, bob!, cy!]) for (const producerId of cameras(p)) await req(p.socket, 'producer:resume', { producerId });
  await sleep(10_000 - (performance.now() - recordingFrom));

  await slow(ada!.socket, 'recording:stop');
  console.log(`recorded for ${((performance.now() - recordingFrom) / 1000).toFixed(2)} s`);
  await eventually('Bob told the recording stopped', () => stoppedAtBob.length === 1);
  assert.equal(stoppedAtBob[0]!.reason, 'stopped');
  assert.equal(await gauge(), 0);

  const file = path.join(dir, started.file);
  const info = await probe(file);
  console.log(`recording: ${statSync(file).size} bytes, audio ${info.audioDuration.toFixed(2)} s, video ${info.videoDuration.toFixed(2)} s`);
  assert.deepEqual(info.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:opus', 'video:vp8']);
  for (const d of [info.audioDuration, info.videoDuration]) assert.ok(d >= 9 && d <= 11, `stream of ${d.toFixed(2)} s`);

  const { frames, distinct } = await distinctFrames(file);
  console.log(`frames: ${frames}, distinct: ${distinct}`);
  assert.ok(distinct > frames * 0.5, `${distinct} distinct of ${frames} frames: not frozen`);
  const volume = await meanVolume(file);
  console.log(`mean volume ${volume} dB`);
  assert.ok(volume > -60, `mean volume ${volume} dB`);

  // 4:3 cameras have black bars left and right; Dee's wide clip has them above and below.
  const left = await lumaOverTime(file, '40:200:0:80');
  const top = await lumaOverTime(file, '200:40:220:0');
  const mean = (list: { t: number; y: number }[], from: number, to: number) => {
    const picked = list.filter((s) => s.t >= from && s.t < to);
    return picked.reduce((n, s) => n + s.y, 0) / Math.max(1, picked.length);
  };
  const windows = { before: [0.5, 2.5], dee: [4.5, 6], after: [8.5, 9.5] } as const;
  const seen = Object.fromEntries(Object.entries(windows).map(([k, [a, b]]) => [k, { left: mean(left, a, b), top: mean(top, a, b) }]));
  console.log(`luma of the bars: ${JSON.stringify(seen)}`);
  assert.ok(seen.before!.left < 25 && seen.before!.top > 40, 'a 4:3 camera before Dee joined');
  assert.ok(seen.dee!.top < 25 && seen.dee!.left > 40, "Dee's wide picture while Dee was there");
  assert.ok(seen.after!.left < 25 && seen.after!.top > 40, 'a 4:3 camera again after Dee left');

  const meta = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { reason: string; endedAt: number; roomId: string };
  assert.equal(meta.reason, 'stopped');
  assert.equal(meta.roomId, 'rec');
});

test('a shared screen is shown rather than the cameras, while it lasts', async () => {
  const ada = await SyntheticPeer.join({ url: noom.url, roomId: 'screen', displayName: 'Ada', publish: { audio: true, video: true }, consume: false });
  peers.push(ada);
  const started = await slow(ada.socket, 'recording:start');
  await sleep(2500);
  const sam = await SyntheticPeer.join({
    url: noom.url,
    roomId: 'screen',
    displayName: 'Sam',
    publish: { video: true, videoSource: 'screen' },
    consume: false,
    clip: WIDE_CLIP,
  });
  peers.push(sam);
  await eventually('the screen shown', () => noom.recordings.recorder('screen')?.stats.shown === sam.peerId, Boolean, { timeoutMs: 5000 });
  await sleep(2500);
  await slow(ada.socket, 'recording:stop');
  const file = path.join(dir, started.file);
  const left = await lumaOverTime(file, '40:200:0:80');
  const top = await lumaOverTime(file, '200:40:220:0');
  const at = (list: { t: number; y: number }[], from: number, to: number) => {
    const picked = list.filter((s) => s.t >= from && s.t < to);
    return picked.reduce((n, s) => n + s.y, 0) / Math.max(1, picked.length);
  };
  const duration = (await probe(file)).videoDuration;
  console.log(`screen: camera bars left ${at(left, 0.8, 2).toFixed(1)} / top ${at(top, 0.8, 2).toFixed(1)}, screen bars left ${at(left, duration - 1.5, duration - 0.3).toFixed(1)} / top ${at(top, duration - 1.5, duration - 0.3).toFixed(1)}`);
  assert.ok(at(left, 0.8, 2) < 25 && at(top, 0.8, 2) > 40, "Ada's 4:3 camera first");
  assert.ok(at(top, duration - 1.5, duration - 0.3) < 25 && at(left, duration - 1.5, duration - 0.3) > 40, "Sam's wide screen at the end, though Ada speaks");
});

test('audio and video stay in sync: a peer that stops both at once goes silent and black together in the file', async () => {
  const solo = await SyntheticPeer.join({ url: noom.url, roomId: 'sync', displayName: 'Solo', publish: { audio: true, video: true }, consume: false });
  peers.push(solo);
  const started = await slow(solo.socket, 'recording:start');
  await eventually('the camera shown', () => noom.recordings.recorder('sync')?.stats.shown === solo.peerId, Boolean, { timeoutMs: 10_000 });
  await sleep(3000);
  // Both paused in one go on the server, as a publisher's mute of everything would.
  const producers = [...noom.rooms.rooms.get('sync')!.peers.get(solo.peerId)!.producers.values()];
  await Promise.all(producers.map((p) => p.producer.pause()));
  await sleep(2000);
  await slow(solo.socket, 'recording:stop');
  const file = path.join(dir, started.file);
  // The pause came after 3 s of recording (the picture may be black for a moment at the start, before the camera's first keyframe).
  const silent = (await silenceStarts(file)).find((t) => t > 2);
  const black = (await blackStarts(file)).find((t) => t > 2);
  console.log(`silence from ${silent} s, black from ${black} s`);
  assert.ok(silent !== undefined && black !== undefined, 'both stopped mid-recording');
  // Lip sync is noticed beyond about 45 ms of audio ahead and 125 ms behind (ITU-R BT.1359);
  // what this can measure is coarser: a frame is 67 ms, the mix buffers 40-80 ms, and the
  // silence and the black each start on their own detector's grid.
  assert.ok(Math.abs(silent - black) <= 0.2, `audio and video apart by ${(silent - black).toFixed(3)} s`);
});

test('only moderators start and stop recordings, and one at a time', async () => {
  const host = await sockets.open(noom.url);
  const guest = await sockets.open(noom.url);
  await req(host, 'room:join', { roomId: 'only-mods', displayName: 'Host' });
  const joined = await req(guest, 'room:join', { roomId: 'only-mods', displayName: 'Guest' });
  assert.equal(joined.recording, false);
  assert.equal(errorCode(await rawAck(guest, 'recording:start', {})), 'FORBIDDEN');
  await slow(host, 'recording:start');
  assert.equal(errorCode(await rawAck(host, 'recording:start', {})), 'INVALID_STATE');
  assert.equal(errorCode(await rawAck(guest, 'recording:stop', {})), 'FORBIDDEN');
  assert.equal(noom.recordings.activeCount, 1);
  await slow(host, 'recording:stop');
  assert.equal(errorCode(await rawAck(host, 'recording:stop', {})), 'INVALID_STATE');
});

test('a recording whose media worker dies ends with a finalised file', async () => {
  const host = await SyntheticPeer.join({ url: noom.url, roomId: 'doomed', displayName: 'Host', publish: { audio: true, video: true }, consume: false });
  peers.push(host);
  const started = await slow(host.socket, 'recording:start');
  const file = path.join(dir, started.file);
  await eventually('video in the file', () => existsSync(file) && statSync(file).size > 50_000, Boolean, { timeoutMs: 10_000 });
  const ffmpegPid = noom.recordings.recorder('doomed')!.pid!;
  process.kill(noom.pool.slots[0]!.worker.pid, 'SIGKILL');
  await eventually('the recording over', () => noom.recordings.activeCount === 0, Boolean, { timeoutMs: 15_000 });
  assert.throws(() => process.kill(ffmpegPid, 0), 'ffmpeg has exited');
  const info = await probe(file);
  assert.deepEqual(info.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
  assert.ok(info.videoDuration > 1 && info.audioDuration > 1, `${info.videoDuration} s of video`);
  const meta = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { reason?: string; endedAt?: number };
  assert.ok(meta.endedAt, 'the sidecar records the end');
  await eventually('a new worker', () => noom.pool.slots.length === 1 && noom.pool.slots[0]!.worker.pid !== undefined);
});

test('a recorder that dies is reported to the room, which goes on; its file stays readable', async () => {
  const host = await SyntheticPeer.join({ url: noom.url, roomId: 'crash', displayName: 'Host', publish: { audio: true, video: true }, consume: false });
  const guest = await SyntheticPeer.join({ url: noom.url, roomId: 'crash', displayName: 'Guest', publish: { audio: true }, consume: true });
  peers.push(host, guest);
  const stopped = collect(guest.socket, 'recording:stopped');
  const started = await slow(host.socket, 'recording:start');
  const file = path.join(dir, started.file);
  await eventually('video in the file', () => existsSync(file) && statSync(file).size > 50_000, Boolean, { timeoutMs: 10_000 });
  process.kill(noom.recordings.recorder('crash')!.pid!, 'SIGKILL');
  const [event] = await eventually('the room told', () => stopped, (s) => s.length > 0);
  assert.equal(event!.reason, 'error');
  assert.match(event!.message ?? '', /recorder stopped/);
  assert.equal(noom.recordings.activeCount, 0);
  // The call goes on: the guest still receives the host, and a new recording can start.
  const before = guest.consumerStats().reduce((n, c) => n + c.packets, 0);
  await eventually('media still flowing', () => guest.consumerStats().reduce((n, c) => n + c.packets, 0), (n) => n > before + 20);
  const info = await probe(file);
  assert.deepEqual(info.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
  assert.ok(info.videoDuration > 0.5, `${info.videoDuration} s of video in the killed recorder's file`);
  await slow(host.socket, 'recording:start');
  await slow(host.socket, 'recording:stop');
});

test('recordings of several rooms start at the same moment, each with ports of its own', async () => {
  const hosts = await Promise.all(Array.from({ length: 8 }, () => sockets.open(noom.url)));
  await Promise.all(hosts.map((h, i) => req(h, 'room:join', { roomId: `parallel-${i}`, displayName: 'Host' })));
  const started = await Promise.all(hosts.map((h) => slow(h, 'recording:start')));
  assert.equal(new Set(started.map((s) => s.file)).size, 8);
  assert.equal(noom.recordings.activeCount, 8);
  await Promise.all(hosts.map((h) => slow(h, 'recording:stop')));
  assert.equal(noom.recordings.activeCount, 0);
});

test('on an open server a recording downloads by its id only; there is no list', async () => {
  const host = await sockets.open(noom.url);
  await req(host, 'room:join', { roomId: 'open-dl', displayName: 'Host' });
  const started = await slow(host, 'recording:start');
  await sleep(1500);
  await slow(host, 'recording:stop');
  const list = await fetch(`${noom.url}/api/rooms/open-dl/recordings`);
  assert.equal(list.status, 403);
  const res = await fetch(`${noom.url}${started.downloadPath}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'video/webm');
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, statSync(path.join(dir, started.file)).size);
  assert.equal((await fetch(`${noom.url}/api/rooms/open-dl/recordings/${'A'.repeat(22)}`)).status, 404);
  // Another room's path does not reach it.
  assert.equal((await fetch(`${noom.url}/api/rooms/other/recordings/${started.recordingId}`)).status, 404);
});

test('with join tokens, moderators of the room list and download its recordings; others cannot', async () => {
  const secret = 'recording-test-secret-0123456789abcdef';
  const authDir = mkdtempSync(path.join(os.tmpdir(), 'noom-recordings-auth-'));
  const server = await startTestServer({ RECORDINGS_DIR: authDir, RECORDING_MIN_FREE_MB: '1', AUTH_SECRET: secret });
  try {
    const mod = await mintJoinToken(secret, { room: 'board', name: 'Chair', role: 'moderator', ttlS: 600 });
    const member = await mintJoinToken(secret, { room: 'board', name: 'Member', role: 'participant', ttlS: 600 });
    const otherMod = await mintJoinToken(secret, { room: 'other', name: 'Chair', role: 'moderator', ttlS: 600 });
    const chair = await sockets.open(server.url);
    await req(chair, 'room:join', { roomId: 'board', token: mod });
    const started = await slow(chair, 'recording:start');
    await sleep(1500);
    const stopped = collect(chair, 'recording:stopped');
    // Shutting the server down ends the recording as a drain, with its file finalised.
    await server.close();
    assert.equal(stopped.length, 0, 'the room was gone when it ended');
    const meta = JSON.parse(readFileSync(path.join(authDir, `${started.file}.json`), 'utf8')) as { reason: string };
    assert.equal(meta.reason, 'drain');
    const info = await probe(path.join(authDir, started.file));
    console.log(`drained recording: audio ${info.audioDuration} s, video ${info.videoDuration} s`);
    assert.ok(info.audioDuration > 1 && info.videoDuration > 1, `${info.audioDuration} s of audio, ${info.videoDuration} s of video`);
    assert.deepEqual(info.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);

    const again = await startTestServer({ RECORDINGS_DIR: authDir, AUTH_SECRET: secret });
    try {
      const url = `${again.url}/api/rooms/board/recordings`;
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${member}` } })).status, 403);
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${otherMod}` } })).status, 401);
      const listed = (await (await fetch(url, { headers: { authorization: `Bearer ${mod}` } })).json()) as { recordings: { recordingId: string; file: string; bytes: number; reason: string }[] };
      assert.deepEqual(listed.recordings.map((r) => [r.recordingId, r.file, r.reason]), [[started.recordingId, started.file, 'drain']]);
      assert.equal((await fetch(`${again.url}${started.downloadPath}`)).status, 401, 'the id alone is not enough here');
      const dl = await fetch(`${again.url}${started.downloadPath}?token=${mod}`);
      assert.equal(dl.status, 200);
      assert.equal((await dl.arrayBuffer()).byteLength, listed.recordings[0]!.bytes);
    } finally {
      await again.close();
    }
  } finally {
    if (!process.env.KEEP_RECORDINGS) rmSync(authDir, { recursive: true, force: true });
  }
});

test('a recording is refused when the disk is short of space', async () => {
  const server = await startTestServer({ RECORDINGS_DIR: dir, RECORDING_MIN_FREE_MB: '1000000' });
  try {
    const host = await sockets.open(server.url);
    await req(host, 'room:join', { roomId: 'full-disk', displayName: 'Host' });
    assert.equal(errorCode(await rawAck(host, 'recording:start', {})), 'INVALID_STATE');
    assert.equal(server.recordings.activeCount, 0);
  } finally {
    await server.close();
  }
});

test('a disk that fills up during a recording ends it as disk-full, with the file readable and the room going on', async (t) => {
  // A small tmpfs is the disk: 1.8 MB, of which the recording may use all but 1 MB.
  const small = mkdtempSync(path.join(os.tmpdir(), 'noom-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1800k', 'tmpfs', small]);
  } catch {
    rmSync(small, { recursive: true, force: true });
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const server = await startTestServer({ RECORDINGS_DIR: small, RECORDING_MIN_FREE_MB: '1' });
  try {
    const host = await sockets.open(server.url);
    await req(host, 'room:join', { roomId: 'filling', displayName: 'Host' });
    const pub = await SyntheticPeer.join({ url: server.url, roomId: 'filling', displayName: 'Pia', publish: { audio: true, video: true }, consume: false });
    peers.push(pub);
    const stoppedAtPia = collect(pub.socket, 'recording:stopped');
    const started = await slow(host, 'recording:start');
    await eventually('the recording to stop for lack of space', () => stoppedAtPia.length === 1, Boolean, { timeoutMs: 60_000 });
    assert.equal(stoppedAtPia[0]!.reason, 'disk-full');
    assert.equal(server.recordings.activeCount, 0);
    const info = await probe(path.join(small, started.file));
    assert.deepEqual(info.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    assert.ok(info.videoDuration > 1, `${info.videoDuration} s of video before the disk filled`);
    // The room is untouched: both members are in it and chat goes on.
    assert.equal(server.rooms.get('filling')?.peers.size, 2);
    await req(host, 'chat:send', { text: 'still here' });
  } finally {
    await server.close();
    execFileSync('umount', [small]);
    rmSync(small, { recursive: true, force: true });
  }
});
