/**
 * Join tokens: signed JWTs that an operator (`npm run token`) or an application backend
 * mints and a client presents in `room:join`. With AUTH_SECRET (HS256) and/or
 * AUTH_PUBLIC_KEY (RS*, PS*, ES*, EdDSA) configured, no join goes through without one.
 *
 * Claims (all required but `sub`):
 *   room  the room id, or a pattern where `*` stands for any run of characters ("team-*", "*");
 *         compared with the room's canonical id, so "Standup" and "standup" are the same room
 *   name  the display name the peer will carry (1–40 characters, no control characters)
 *   role  "moderator" | "participant" | "viewer"
 *   exp   expiry, seconds since the epoch (a token without one is refused)
 *   sub   optional: a stable identity (user id); a removed identity cannot rejoin for a while
 * `nbf` and `iat` are honoured when present; the header's `alg` must be one configured here.
 */
import { SignJWT, errors, importSPKI, jwtVerify, type JWTHeaderParameters } from 'jose';
import { z } from 'zod/mini';
import type { AuthConfig } from '../../../config/index.js';
import { DisplayName, Role, canonicalRoomId } from '../../../protocol/index.js';
import { AppError } from '../errors.js';

export const JoinClaims = z.object({
  room: z.string().check(z.minLength(1), z.maxLength(256)),
  name: DisplayName,
  role: Role,
  exp: z.number(),
  sub: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export type JoinClaims = z.infer<typeof JoinClaims>;

/** What a valid token grants. */
export interface JoinGrant {
  role: Role;
  displayName: string;
  /** Who the token is for: `sub`, or its name when it names no subject. */
  identity: string;
}

/** Leeway for clocks that disagree a little between the minting backend and this server. */
const CLOCK_TOLERANCE_S = 5;

const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message);

/** Whether a token's `room` claim (an id or a `*` pattern) covers this canonical room id. */
export function roomClaimMatches(claim: string, roomId: string): boolean {
  if (!claim.includes('*')) return canonicalRoomId(claim) === roomId;
  // Pieces of a pattern keep the dashes at their ends: "team-*" must not cover "teamred".
  const parts = claim.split('*').map((p) => p.normalize('NFKC').toLowerCase().normalize('NFKC').replace(/\s+/gu, '-'));
  const escaped = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 'u').test(roomId);
}

type VerifyKey = Awaited<ReturnType<typeof importSPKI>> | Uint8Array;

export class JoinTokens {
  readonly #keys: Map<string, VerifyKey>;

  private constructor(keys: Map<string, VerifyKey>) {
    this.#keys = keys;
  }

  static async create(auth: AuthConfig): Promise<JoinTokens> {
    const keys = new Map<string, VerifyKey>();
    if (auth.secret) keys.set('HS256', new TextEncoder().encode(auth.secret));
    if (auth.publicKey) keys.set(auth.publicKey.algorithm, await importSPKI(auth.publicKey.pem, auth.publicKey.algorithm));
    return new JoinTokens(keys);
  }

  /** The grant of a token for this room; UNAUTHORIZED for a missing, bad, expired or other-room token. */
  async verify(token: string | undefined, roomId: string): Promise<JoinGrant> {
    if (!token) throw unauthorized('this server needs a join token');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.#key(header), {
        algorithms: [...this.#keys.keys()],
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthorized('the join token has expired');
      if (error instanceof errors.JOSEError) throw unauthorized('the join token is not valid');
      throw error;
    }
    const claims = JoinClaims.safeParse(payload);
    if (!claims.success) throw unauthorized('the join token lacks room, name or role');
    if (!roomClaimMatches(claims.data.room, roomId)) throw unauthorized('the join token is for another room');
    return { role: claims.data.role, displayName: claims.data.name, identity: claims.data.sub ? `sub:${claims.data.sub}` : `name:${claims.data.name}` };
  }

  #key(header: JWTHeaderParameters): VerifyKey {
    const key = this.#keys.get(header.alg ?? '');
    if (!key) throw new errors.JOSEAlgNotAllowed('algorithm not allowed');
    return key;
  }
}

export interface MintOptions {
  room: string;
  name: string;
  role: Role;
  /** Lifetime in seconds. */
  ttlS: number;
  sub?: string;
}

/** An HS256 token with the claims above, as `npm run token` prints it. */
export function mintJoinToken(secret: string, o: MintOptions): Promise<string> {
  return new SignJWT({ room: o.room, name: o.name, role: o.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + o.ttlS)
    .setSubject(o.sub ?? o.name)
    .sign(new TextEncoder().encode(secret));
}
