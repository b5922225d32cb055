/**
 * A room's recordings over HTTP, for its moderators:
 *   GET /api/rooms/:room/recordings       the list (newest first)
 *   GET /api/rooms/:room/recordings/:id   the WebM file
 *
 * With join tokens (AUTH_SECRET / AUTH_PUBLIC_KEY) both need a token whose role is
 * `moderator` for that room, as `Authorization: Bearer <token>` or `?token=`: 401 without a
 * valid one, 403 for another role. On an open server nobody can prove over HTTP that they
 * moderate a room (anyone may open one and be its host), so there is no list (403), and a
 * file is served to whoever has its recording id: 128 random bits that only the moderator
 * who started the recording is told (`recording:start`'s answer).
 */
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import { parseRoomId } from '../../../protocol/index.js';
import type { JoinTokens } from '../auth/JoinTokens.js';
import { AppError } from '../errors.js';
import type { RecordingFile, Recordings } from '../recording/Recordings.js';

export interface RecordingRoutesDeps {
  recordings: Recordings;
  tokens?: JoinTokens;
}

function tokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7);
  return typeof req.query.token === 'string' ? req.query.token : undefined;
}

const deny = (res: Response, status: number, message: string) => {
  if (status === 401) res.set('WWW-Authenticate', 'Bearer');
  res.status(status).json({ error: message });
};

const publicView = ({ recordingId, file, startedAt, endedAt, reason, bytes, active }: RecordingFile) => ({
  recordingId,
  file,
  startedAt,
  ...(endedAt !== undefined ? { endedAt } : {}),
  ...(reason !== undefined ? { reason } : {}),
  bytes,
  active,
});

export function recordingRoutes(deps: RecordingRoutesDeps): Router {
  const router = express.Router();

  /** The canonical room id, or undefined (answered) when the caller may not see the room's recordings. */
  const authorised = async (req: Request<{ room: string }>, res: Response): Promise<string | undefined> => {
    const room = parseRoomId(req.params.room);
    if (!room.ok) {
      deny(res, 404, 'no such room');
      return undefined;
    }
    if (!deps.tokens) return room.id;
    try {
      const grant = await deps.tokens.verify(tokenOf(req), room.id);
      if (grant.role !== 'moderator') {
        deny(res, 403, "only the room's moderators may see its recordings");
        return undefined;
      }
      return room.id;
    } catch (error) {
      if (error instanceof AppError) {
        deny(res, 401, error.message);
        return undefined;
      }
      throw error;
    }
  };

  router.get('/api/rooms/:room/recordings', async (req, res, next) => {
    try {
      if (!deps.tokens) return deny(res, 403, 'listing recordings needs join tokens (AUTH_SECRET); download one by its recording id');
      const roomId = await authorised(req, res);
      if (roomId === undefined) return;
      res.json({ recordings: (await deps.recordings.list(roomId)).map(publicView) });
    } catch (error) {
      next(error);
    }
  });

  router.get('/api/rooms/:room/recordings/:id', async (req, res, next) => {
    try {
      const roomId = await authorised(req, res);
      if (roomId === undefined) return;
      const found = /^[A-Za-z0-9_-]{16,64}$/.test(req.params.id) ? await deps.recordings.find(roomId, req.params.id) : undefined;
      if (!found) return deny(res, 404, 'no such recording');
      res.set('Cache-Control', 'no-store');
      res.attachment(found.file);
      res.sendFile(path.join(deps.recordings.dir, found.file), { headers: { 'Content-Type': 'video/webm' } });
    } catch (error) {
      next(error);
    }
  });

  return router;
}
