/**
 * `recording:start` and `recording:stop`: FORBIDDEN unless the asking peer is a moderator of
 * its room (see Recordings for what a recording is).
 */
import { Empty, type EmptyData } from '../../../protocol/index.js';
import type { Recordings } from '../recording/Recordings.js';
import type { Peer } from '../rooms/Peer.js';
import type { Room } from '../rooms/Room.js';
import type { On } from './moderationRequests.js';

const EMPTY: EmptyData = {};

export function registerRecording(on: On, member: () => { peer: Peer; room: Room }, recordings: Recordings): void {
  const moderated = () => {
    const { peer, room } = member();
    room.moderation.assertModerator(peer.id);
    return room;
  };

  on('recording:start', Empty, () => recordings.start(moderated()));

  on('recording:stop', Empty, async () => {
    const room = moderated();
    // In a cluster the recording may run on another node: that node stops it.
    if (!recordings.isRecording(room.id) && (await room.stopRemoteRecording())) return EMPTY;
    await recordings.stop(room);
    return EMPTY;
  });
}
