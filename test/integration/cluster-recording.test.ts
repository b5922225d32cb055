/**
 * Recording a room that spans two nodes (a real redis-server): the moderator on node A
 * records, the only publisher is on node B and nobody on A watches it, so what is in the
 * file came through the pipe the recording opened for itself. Members on B, newcomers
 * too, are told of the recording, and a moderator on B stops it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NoomServer } from '../../server/src/app.js';
import { request, type RequestError } from '../../protocol/index.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { twoNodeCall } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { distinctFrames, meanVolume, probe } from '../support/mediaFile.js';
import { mintJoinToken } from '../../server/src/auth/JoinTokens.js';
import { collect, errorCode, rawAck, req } from '../support/server.js';

const SECRET = 'cluster-recording-secret-0123456789abcdef';
const token = (name: string, role: 'moderator' | 'participant') => mintJoinToken(SECRET, { room: 'rec-*', name, role, ttlS: 600 });
const dir = mkdtempSync(path.join(os.tmpdir(), 'noom-cluster-recordings-'));
let a: NoomServer;
let b: NoomServer;
const { sockets, peers } = twoNodeCall('rec', { RECORDINGS_DIR: dir, RECORDING_MIN_FREE_MB: '1', AUTH_SECRET: SECRET }, (nodes) => ({ a, b } = nodes));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a recording on node A holds the audio and video of a publisher on node B; node B shows it and stops it', async () => {
  const host = await sockets.open(a.url);
  await req(host, 'room:join', { roomId: 'rec-span', token: await token('Host', 'moderator') });
  const started = await request(host, 'recording:start', {}, 20_000);
  // Bea's node has no share of the room yet: it learns of the recording from the directory.
  const bea = await SyntheticPeer.join({ url: b.url, roomId: 'rec-span', displayName: 'Bea', token: await token('Bea', 'participant'), publish: { audio: true, video: true }, consume: false });
  peers.push(bea);
  assert.equal(bea.joinData.recording, true, 'a newcomer on node B is told of the recording on node A');
  await eventually("the recording to pipe in both of Bea's producers", () => a.rooms.get('rec-span')?.media.importCount === 2);
  const moB = await sockets.open(b.url);
  const joinedB = await req(moB, 'room:join', { roomId: 'rec-span', token: await token('Mo', 'moderator') });
  assert.equal(joinedB.recording, true);
  assert.equal(errorCode(await rawAck(moB, 'recording:start', {})), 'INVALID_STATE', 'one recording per room, across the nodes');
  const stoppedAtBea = collect(bea.socket, 'recording:stopped');
  await new Promise((r) => setTimeout(r, 5000));
  await request(moB, 'recording:stop', {}, 20_000);
  await eventually('Bea to hear the recording stopped', () => stoppedAtBea.length === 1);
  assert.deepEqual(stoppedAtBea, [{ reason: 'stopped' }]);

  const file = path.join(dir, started.file);
  const info = await probe(file);
  assert.deepEqual(info.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
  assert.ok(info.videoDuration >= 4, `${info.videoDuration} s of video`);
  const volume = await meanVolume(file);
  assert.ok(volume > -60, `mean volume ${volume} dB: Bea's tone is in the file`);
  const { frames, distinct } = await distinctFrames(file);
  assert.ok(distinct > frames * 0.5, `${distinct} distinct of ${frames} frames: Bea's moving picture, not a still`);
  // The recording's pipes go with it, and a newcomer on B hears of no recording.
  await eventually('the pipes to close with the recording', () => a.rooms.get('rec-span')!.media.importCount === 0);
  const late = await sockets.open(b.url);
  assert.equal((await req(late, 'room:join', { roomId: 'rec-span', token: await token('Late', 'participant') })).recording, false);
});

test('two moderators on two nodes pressing start at the same moment make one recording', async () => {
  const modA = await sockets.open(a.url);
  await req(modA, 'room:join', { roomId: 'rec-race', token: await token('Ann', 'moderator') });
  const modB = await sockets.open(b.url);
  await req(modB, 'room:join', { roomId: 'rec-race', token: await token('Ben', 'moderator') });
  // Starting waits for ffmpeg: on a busy machine longer than a plain request's 5 s.
  const start = (s: typeof modA) => request(s, 'recording:start', {}, 20_000).then(() => 'ok', (e: RequestError) => e.code);
  const codes = (await Promise.all([start(modA), start(modB)])).sort();
  assert.deepEqual(codes, ['INVALID_STATE', 'ok']);
  assert.equal(a.recordings.activeCount + b.recordings.activeCount, 1);
  await request(modB, 'recording:stop', {}, 20_000);
  await eventually('no recording left', () => a.recordings.activeCount + b.recordings.activeCount === 0);
  // The claim goes with the recording (its release is written as the recording ends): node A may record now.
  await eventually('node A to record again', () => start(modA), (code) => code === 'ok');
  await request(modA, 'recording:stop', {}, 20_000);
});
