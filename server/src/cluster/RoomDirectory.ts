/**
 * The cluster's shared room state in Redis: each room's settings (public flag, password
 * hash, size limit), its members and producers with the node that owns each, and its chat
 * history. Every write that must not race (a join, which creates the room when it is new and
 * checks the password and the size limit) is one Lua script, so two nodes creating or
 * joining one room at the same moment end up with one room and an exact count.
 *
 * One writer per fact: a node writes only its own peers and producers; what it reads back
 * is parsed like any input from the network. A node's entries go when it leaves or, if it
 * dies, when a survivor sees its heartbeat expire ({@link RoomDirectory.removeNode}). Rooms
 * nobody is in keep their settings and chat for the grace period, as a room on one node does.
 *
 * The scripts build room keys from ids (`noom:room:<id>:…`), which a single Redis (or a
 * replicated primary) allows and Redis Cluster does not.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CHAT_HISTORY_SIZE, type ChatMessage, type ProducerInfo, type RoomSummary } from '../../../protocol/index.js';
import { keys } from './keys.js';
import { parseJson } from './json.js';
import type { RedisConnections } from './redis.js';

export const DirectoryMember = z.object({ displayName: z.string().max(200), nodeId: z.string().max(64) });
export type DirectoryMember = z.infer<typeof DirectoryMember>;
export const DirectoryProducer = z.object({
  peerId: z.string().max(128),
  kind: z.enum(['audio', 'video']),
  source: z.enum(['mic', 'camera', 'screen']),
  paused: z.boolean(),
  nodeId: z.string().max(64),
});
export type DirectoryProducer = z.infer<typeof DirectoryProducer>;
export const StoredChat = z.object({
  id: z.string().max(128),
  peerId: z.string().max(128),
  displayName: z.string().max(200),
  text: z.string().max(10_000),
  ts: z.number(),
});

export interface RoomSettings {
  isPublic: boolean;
  /** Hash of the password, '' for an open room. */
  passwordHash: string;
  maxPeers: number;
}

/** The settings a moderator changes while the room runs: the lock and the waiting room. */
export interface ModeratedSettings {
  passwordHash: string;
  lobby: boolean;
}

/** What the directory holds about one room's people and media. */
export interface RoomState {
  peers: Map<string, DirectoryMember>;
  producers: Map<string, DirectoryProducer>;
  /** Absent when the room has no settings any more (gone). */
  moderated?: ModeratedSettings;
}

export interface JoinResult extends RoomState {
  /** `recordedOn`: the node recording the room ('' when none). */
  settings: RoomSettings & { lobby: boolean; recordedOn: string };
  chat: ChatMessage[];
}

export type JoinRefusal = 'LOCKED' | 'WRONG_PASSWORD' | 'FULL';

export class JoinRefusedError extends Error {
  constructor(
    readonly reason: JoinRefusal,
    readonly maxPeers: number,
  ) {
    super(reason);
    this.name = 'JoinRefusedError';
  }
}

/** The directory answered something that does not parse: a bug or a foreign writer. */
export class DirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryError';
  }
}

/** Rooms hash their password with their id, so equal passwords of two rooms differ in Redis. */
export function passwordHash(roomId: string, password: string | undefined): string {
  if (password === undefined) return '';
  return createHash('sha256').update(`${roomId}\0${password}`).digest('hex');
}

const JOIN = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'public', ARGV[2], 'password', ARGV[3], 'maxPeers', ARGV[4])
end
local s = redis.call('HMGET', KEYS[1], 'public', 'password', 'maxPeers')
local pw = s[2] or ''
local maxPeers = tonumber(s[3]) or tonumber(ARGV[4])
if pw ~= '' and ARGV[3] == '' then return {'LOCKED', tostring(maxPeers)} end
if pw ~= '' and pw ~= ARGV[3] then return {'WRONG_PASSWORD', tostring(maxPeers)} end
if redis.call('HEXISTS', KEYS[2], ARGV[5]) == 0 and redis.call('HLEN', KEYS[2]) >= maxPeers then
  return {'FULL', tostring(maxPeers)}
end
redis.call('HSET', KEYS[2], ARGV[5], ARGV[6])
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[4])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
return {'OK', s[1] or ARGV[2], pw, tostring(maxPeers), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]), redis.call('LRANGE', KEYS[4], 0, -1), redis.call('HGET', KEYS[1], 'lobby') or '0', redis.call('HGET', KEYS[1], 'recording') or ''}
`;

/**
 * Changes the lock and/or the waiting room of a room that exists (ARGV: '-' leaves a field
 * as it is) and answers both as they are now; nil when the room is gone.
 */
/**
 * Claims the room's recording for node ARGV[1]: granted (1) when nobody holds it, this node
 * does, or its holder is ARGV[2] (a node known dead); refused (0) otherwise.
 */
const CLAIM_RECORDING = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'recording') or ''
if cur ~= '' and cur ~= ARGV[1] and cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'recording', ARGV[1])
return 1
`;

/** Gives the room's recording up, if node ARGV[1] holds it. */
const RELEASE_RECORDING = `
if redis.call('HGET', KEYS[1], 'recording') == ARGV[1] then redis.call('HDEL', KEYS[1], 'recording') end
return 1
`;

const SET_MODERATED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if ARGV[1] ~= '-' then redis.call('HSET', KEYS[1], 'password', ARGV[1]) end
if ARGV[2] ~= '-' then redis.call('HSET', KEYS[1], 'lobby', ARGV[2]) end
local s = redis.call('HMGET', KEYS[1], 'password', 'lobby')
return {s[1] or '', s[2] or '0'}
`;

/** Removes a peer and its producers; an emptied room keeps settings and chat for the grace period. */
const LEAVE = `
redis.call('HDEL', KEYS[2], ARGV[1])
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local ok, p = pcall(cjson.decode, all[i + 1])
  if ok and type(p) == 'table' and p.peerId == ARGV[1] then redis.call('HDEL', KEYS[3], all[i]) end
end
if redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
end
local mine = false
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
  local ok, m = pcall(cjson.decode, v)
  if ok and type(m) == 'table' and m.nodeId == ARGV[3] then mine = true break end
end
if not mine then redis.call('SREM', KEYS[5], ARGV[4]) end
return 1
`;

/** Writes a field only while the peer is still a member (a late write must not revive it). */
const SET_IF_MEMBER = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

/** Appends to the history and publishes in one step, so history and delivery share one order. */
const CHAT = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if redis.call('HLEN', KEYS[2]) == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
redis.call('PUBLISH', KEYS[3], ARGV[4])
return 1
`;

/** Public rooms with someone in them: id, count, locked, maxPeers, flattened. */
const LIST = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local sk = ARGV[1] .. id .. ':settings'
  if redis.call('EXISTS', sk) == 0 then
    redis.call('SREM', KEYS[1], id)
  else
    local s = redis.call('HMGET', sk, 'public', 'password', 'maxPeers')
    local n = redis.call('HLEN', ARGV[1] .. id .. ':peers')
    if s[1] == '1' and n > 0 then
      table.insert(out, id)
      table.insert(out, tostring(n))
      table.insert(out, (s[2] and s[2] ~= '') and '1' or '0')
      table.insert(out, s[3] or '0')
    end
  end
end
return out
`;

/** Removes every entry a node owns, in every room it had members in; returns how many went. */
const REMOVE_NODE = `
local removed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, kind in ipairs({'peers', 'producers'}) do
    local key = ARGV[1] .. id .. ':' .. kind
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local ok, e = pcall(cjson.decode, all[i + 1])
      if ok and type(e) == 'table' and e.nodeId == ARGV[2] then
        redis.call('HDEL', key, all[i])
        removed = removed + 1
      end
    end
  end
  if redis.call('HLEN', ARGV[1] .. id .. ':peers') == 0 then
    redis.call('PEXPIRE', ARGV[1] .. id .. ':settings', ARGV[3])
    redis.call('PEXPIRE', ARGV[1] .. id .. ':chat', ARGV[3])
  end
end
redis.call('DEL', KEYS[1])
return removed
`;

/**
 * Puts one room's entries of this node back as the node knows them (after Redis lost them or
 * missed writes): settings if the room is gone, this node's members and producers exactly.
 */
const ASSERT = `
local sets = {cjson.decode(ARGV[6]), cjson.decode(ARGV[7])}
if redis.call('EXISTS', KEYS[1]) == 0 and next(sets[1]) ~= nil then
  redis.call('HSET', KEYS[1], 'public', ARGV[3], 'password', ARGV[4], 'maxPeers', ARGV[5], 'lobby', ARGV[9])
end
for n, key in ipairs({KEYS[2], KEYS[3]}) do
  local mine = sets[n]
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local ok, e = pcall(cjson.decode, all[i + 1])
    if ok and type(e) == 'table' and e.nodeId == ARGV[2] and mine[all[i]] == nil then redis.call('HDEL', key, all[i]) end
  end
  for id, value in pairs(mine) do redis.call('HSET', key, id, value) end
end
if redis.call('HLEN', KEYS[2]) > 0 then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[6])
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  redis.call('PEXPIRE', KEYS[6], ARGV[8])
end
if next(sets[1]) ~= nil then redis.call('SADD', KEYS[5], ARGV[1]) else redis.call('SREM', KEYS[5], ARGV[1]) end
return 1
`;

const STATE = `return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HMGET', KEYS[3], 'password', 'lobby')}`;

const Flat = z.array(z.string());

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}


/** Entries that do not parse are skipped: one bad writer must not hide a whole room. */
function parseMap<T>(flat: string[], schema: z.ZodType<T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [id, value] of pairs(flat)) {
    const parsed = schema.safeParse(parseJson(value));
    if (parsed.success) out.set(id, parsed.data);
  }
  return out;
}

const JoinReply = z.union([
  z.tuple([z.enum(['LOCKED', 'WRONG_PASSWORD', 'FULL']), z.string()]),
  z.tuple([z.literal('OK'), z.string(), z.string(), z.string(), Flat, Flat, Flat, z.string(), z.string()]),
]);
/** HMGET's answer: a missing field (or key) is nil, which arrives as null. */
const Moderated = z.tuple([z.string().nullable(), z.string().nullable()]);

export interface DirectoryOptions {
  nodeId: string;
  /** How long an empty room keeps its settings and chat. */
  graceMs: number;
}

export class RoomDirectory {
  readonly #redis: RedisConnections;
  readonly #options: DirectoryOptions;

  constructor(redis: RedisConnections, options: DirectoryOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  get nodeId(): string {
    return this.#options.nodeId;
  }

  #eval(script: string, keyList: string[], args: (string | number)[]): Promise<unknown> {
    return this.#redis.commands.eval(script, { keys: keyList, arguments: args.map(String) });
  }

  /**
   * Admits `peerId` to the room, creating the room with `settings` when it does not exist,
   * and answers the room as it is now; throws {@link JoinRefusedError} when the password or
   * the size limit says no.
   */
  async join(roomId: string, settings: RoomSettings, peerId: string, displayName: string): Promise<JoinResult> {
    const reply = await this.#eval(
      JOIN,
      [keys.roomSettings(roomId), keys.roomPeers(roomId), keys.roomProducers(roomId), keys.roomChat(roomId), keys.rooms, keys.nodeRooms(this.nodeId)],
      [roomId, settings.isPublic ? '1' : '0', settings.passwordHash, settings.maxPeers, peerId, JSON.stringify({ displayName, nodeId: this.nodeId })],
    );
    const parsed = JoinReply.safeParse(reply);
    if (!parsed.success) throw new DirectoryError(`unexpected join reply for room ${roomId}`);
    const r = parsed.data;
    if (r[0] !== 'OK') throw new JoinRefusedError(r[0], Number(r[1]));
    const [, isPublic, hash, maxPeers, peers, producers, chat, lobby, recordedOn] = r;
    return {
      settings: { isPublic: isPublic === '1', passwordHash: hash, maxPeers: Number(maxPeers) || settings.maxPeers, lobby: lobby === '1', recordedOn },
      peers: parseMap(peers, DirectoryMember),
      producers: parseMap(producers, DirectoryProducer),
      chat: chat.flatMap((text) => {
        const m = StoredChat.safeParse(parseJson(text));
        return m.success ? [m.data] : [];
      }),
    };
  }

  async leave(roomId: string, peerId: string): Promise<void> {
    await this.#eval(
      LEAVE,
      [keys.roomSettings(roomId), keys.roomPeers(roomId), keys.roomProducers(roomId), keys.roomChat(roomId), keys.nodeRooms(this.nodeId)],
      [peerId, this.#options.graceMs, this.nodeId, roomId],
    );
  }

  async rename(roomId: string, peerId: string, displayName: string): Promise<void> {
    await this.#eval(SET_IF_MEMBER, [keys.roomPeers(roomId), keys.roomPeers(roomId)], [
      peerId,
      peerId,
      JSON.stringify({ displayName, nodeId: this.nodeId }),
    ]);
  }

  /** Adds or updates one of this node's producers (its paused state). */
  async putProducer(roomId: string, info: ProducerInfo): Promise<void> {
    const entry: DirectoryProducer = { peerId: info.peerId, kind: info.kind, source: info.source, paused: info.paused, nodeId: this.nodeId };
    await this.#eval(SET_IF_MEMBER, [keys.roomPeers(roomId), keys.roomProducers(roomId)], [info.peerId, info.producerId, JSON.stringify(entry)]);
  }

  async removeProducer(roomId: string, producerId: string): Promise<void> {
    await this.#redis.commands.hDel(keys.roomProducers(roomId), producerId);
  }

  /** Records a message and publishes it on {@link keys.chat} as JSON `{ roomId, message }`. */
  async chat(roomId: string, message: ChatMessage): Promise<void> {
    await this.#eval(
      CHAT,
      [keys.roomChat(roomId), keys.roomPeers(roomId), keys.chat],
      [JSON.stringify(message), CHAT_HISTORY_SIZE, this.#options.graceMs, JSON.stringify({ roomId, message })],
    );
  }

  /** The room's members, producers and moderated settings now. */
  async state(roomId: string): Promise<RoomState> {
    // One read of both hashes (a script runs alone), so a producer never shows without its peer.
    const [peers, producers, [password, lobby]] = z
      .tuple([Flat, Flat, Moderated])
      .parse(await this.#eval(STATE, [keys.roomPeers(roomId), keys.roomProducers(roomId), keys.roomSettings(roomId)], []));
    return {
      peers: parseMap(peers, DirectoryMember),
      producers: parseMap(producers, DirectoryProducer),
      ...(password !== null ? { moderated: { passwordHash: password, lobby: lobby === '1' } } : {}),
    };
  }

  /**
   * Sets the lock (a password hash, '' to unlock) and/or the waiting room of an existing
   * room; answers both as they are now, or undefined when the room does not exist.
   */
  async setModerated(roomId: string, change: Partial<ModeratedSettings>): Promise<ModeratedSettings | undefined> {
    const reply = await this.#eval(SET_MODERATED, [keys.roomSettings(roomId)], [
      change.passwordHash ?? '-',
      change.lobby === undefined ? '-' : change.lobby ? '1' : '0',
    ]);
    if (reply === null) return undefined;
    const [passwordHash, lobby] = z.tuple([z.string(), z.string()]).parse(reply);
    return { passwordHash, lobby: lobby === '1' };
  }

  /** The node holding the room's recording ('' when none). */
  async recordingHolder(roomId: string): Promise<string> {
    return z.string().nullable().parse(await this.#redis.commands.hGet(keys.roomSettings(roomId), 'recording')) ?? '';
  }

  /**
   * Claims the room's recording for this node, so that two nodes cannot record one room;
   * `deadHolder` is the holder to take it from (a node known dead). False when another holds it.
   */
  async claimRecording(roomId: string, deadHolder = ''): Promise<boolean> {
    return z.number().parse(await this.#eval(CLAIM_RECORDING, [keys.roomSettings(roomId)], [this.nodeId, deadHolder])) === 1;
  }

  async releaseRecording(roomId: string): Promise<void> {
    await this.#eval(RELEASE_RECORDING, [keys.roomSettings(roomId)], [this.nodeId]);
  }

  /** The lock and waiting room of a room, read before this node has a member there; undefined when there is no such room. */
  async moderated(roomId: string): Promise<ModeratedSettings | undefined> {
    const [password, lobby] = Moderated.parse(await this.#redis.commands.hmGet(keys.roomSettings(roomId), ['password', 'lobby']));
    return password === null ? undefined : { passwordHash: password, lobby: lobby === '1' };
  }

  /** Every public room with someone in it, cluster-wide, busiest first. */
  async publicRooms(): Promise<RoomSummary[]> {
    const flat = Flat.parse(await this.#eval(LIST, [keys.rooms], [keys.roomPrefix]));
    const rooms: RoomSummary[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      const id = flat[i]!;
      rooms.push({ id, name: id, peerCount: Number(flat[i + 1]), locked: flat[i + 2] === '1', maxPeers: Number(flat[i + 3]) });
    }
    return rooms.sort((a, b) => b.peerCount - a.peerCount || a.id.localeCompare(b.id));
  }

  /** Removes what a node (dead, or this one leaving) owns in every room; returns how many entries went. */
  async removeNode(nodeId: string): Promise<number> {
    return z.number().parse(await this.#eval(REMOVE_NODE, [keys.nodeRooms(nodeId)], [keys.roomPrefix, nodeId, this.#options.graceMs]));
  }

  /** Writes this node's members and producers of one room exactly as given (a re-sync). */
  async assert(
    roomId: string,
    settings: RoomSettings & { lobby: boolean },
    members: Map<string, DirectoryMember>,
    producers: Map<string, DirectoryProducer>,
  ): Promise<void> {
    // cjson turns an empty object into an empty array: both iterate as nothing.
    const encode = (m: Map<string, unknown>) => JSON.stringify(Object.fromEntries([...m].map(([id, v]) => [id, JSON.stringify(v)])));
    await this.#eval(
      ASSERT,
      [keys.roomSettings(roomId), keys.roomPeers(roomId), keys.roomProducers(roomId), keys.rooms, keys.nodeRooms(this.nodeId), keys.roomChat(roomId)],
      [
        roomId,
        this.nodeId,
        settings.isPublic ? '1' : '0',
        settings.passwordHash,
        settings.maxPeers,
        encode(members),
        encode(producers),
        this.#options.graceMs,
        settings.lobby ? '1' : '0',
      ],
    );
  }
}
