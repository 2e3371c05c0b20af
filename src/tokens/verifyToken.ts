/**
 * Verifies a Custos dataset token and decides whether it is still active
 * (RFC 7662): signature by a published key, ES256 only, `typ: at+jwt`, our
 * issuer, an expiry in the future; and at this moment not revoked, its
 * principal and sponsor still active, and every grant it relied on still in
 * force. Header tricks (`alg: none`, HS256 with the public key, `jku`, `x5u`,
 * `jwk`, `kid` paths) never reach a key: nothing is fetched, and `kid` is
 * only ever looked up among our own published keys.
 */
import jwt from 'jsonwebtoken';
import type { Clock } from '../clock.ts';
import type { Tx } from '../db/client.ts';
import type { FactsStore } from '../decisions/facts.ts';
import type { KeyRing } from './keyRing.ts';

/** Token state the verifier needs from storage. */
export interface TokenStateStore {
  isRevoked(jti: string): Promise<boolean>;
  /** Runs `fn` in one transaction (a revocation commits with its audit event). */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Marks a token revoked inside `tx`; false when it already was. */
  revokeIn(tx: Tx, jti: string, expiresAt: Date, now: Date): Promise<boolean>;
}

/** Verified claims of an active token. */
export type TokenClaims = Record<string, unknown> & { sub: string; jti: string; exp: number; client_id: string; grant_ids?: string[]; sponsor?: string };

/** Why a token is inactive (for logs; introspection only says `active: false`). */
export type Verification = { active: true; claims: TokenClaims } | { active: false; reason: string };

const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'];

/** Verifies the signature, header and claims only (not revocation or the live state). */
export async function verifySignature(
  deps: { keys: KeyRing; clock: Clock; issuer: string },
  token: string,
  options: { audience?: string } = {},
): Promise<Verification> {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload !== 'object') return { active: false, reason: 'not a JWT' };
  const header = decoded.header as unknown as Record<string, unknown>;
  if (header.alg !== 'ES256') return { active: false, reason: `alg ${String(header.alg)}` };
  if (header.typ !== 'at+jwt') return { active: false, reason: 'typ is not at+jwt' };
  if (FORBIDDEN_HEADERS.some((h) => h in header)) return { active: false, reason: 'forbidden header' };
  if (typeof header.kid !== 'string' || !/^[A-Za-z0-9_-]{20,64}$/.test(header.kid)) return { active: false, reason: 'bad kid' };
  const key = await deps.keys.publicKey(header.kid);
  if (!key) return { active: false, reason: 'unknown kid' };
  let claims: TokenClaims;
  try {
    claims = jwt.verify(token, key, {
      algorithms: ['ES256'],
      issuer: deps.issuer,
      ...(options.audience ? { audience: options.audience } : {}),
      clockTimestamp: Math.floor(deps.clock.now().getTime() / 1000),
      complete: false,
    }) as TokenClaims;
  } catch (err) {
    return { active: false, reason: (err as Error).message };
  }
  if (typeof claims.exp !== 'number') return { active: false, reason: 'no exp' };
  if (typeof claims.jti !== 'string' || typeof claims.sub !== 'string') return { active: false, reason: 'no jti or sub' };
  return { active: true, claims };
}

/** What the live-state check reads. */
type LiveDeps = { state: TokenStateStore; facts: FactsStore; clock: Clock };

/** Verifies signature and claims, then the live state. */
export async function verifyToken(
  deps: { keys: KeyRing; state: TokenStateStore; facts: FactsStore; clock: Clock; issuer: string },
  token: string,
  options: { audience?: string } = {},
): Promise<Verification> {
  const signed = await verifySignature(deps, token, options);
  if (!signed.active) return signed;
  return liveState(deps, signed.claims);
}

/**
 * The live state of a token whose signature and claims were verified: not
 * revoked, its principal and sponsor active, and every grant it relied on
 * still in force at this moment (a grant is over at its `expires_at`).
 */
export async function liveState(deps: LiveDeps, claims: TokenClaims): Promise<Verification> {
  if (await deps.state.isRevoked(claims.jti)) return { active: false, reason: 'revoked' };
  const now = deps.clock.now();
  const principal = await deps.facts.principal(claims.sub, now);
  if (!principal || principal.status !== 'active') return { active: false, reason: 'principal disabled or unknown' };
  if (principal.kind === 'service' && (!principal.sponsor || principal.sponsor.status !== 'active')) return { active: false, reason: 'sponsor disabled' };
  // Grant ids may be the job's own or its sponsor's (attenuation merges both).
  const grants = [...principal.grants, ...(principal.sponsor?.grants ?? [])];
  for (const id of claims.grant_ids ?? []) {
    const g = grants.find((x) => x.id === id);
    if (!g || now.getTime() >= g.expiresAt) return { active: false, reason: `grant ${id} revoked or expired` };
  }
  return { active: true, claims };
}
