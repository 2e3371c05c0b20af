/**
 * Revokes one dataset token (RFC 7009): its id is remembered until the
 * token would have expired anyway, and the revocation commits with its audit
 * event or not at all. Who may revoke which token is the caller's check.
 */
import type { AuditLog, RequestMeta } from '../audit/log.ts';
import type { Clock } from '../clock.ts';
import type { TokenClaims, TokenStateStore } from './verifyToken.ts';

/** What {@link revokeToken} needs. */
export interface RevokeTokenDeps {
  tokens: TokenStateStore;
  audit: AuditLog;
  clock: Clock;
}

/** Whether this call revoked the token (false: it already was). */
export interface RevokeTokenResult {
  revoked: boolean;
}

/** Revokes a token whose signature was verified, with its audit event in the same transaction. */
export async function revokeToken(deps: RevokeTokenDeps, options: { claims: TokenClaims; actorId: string; meta: RequestMeta }): Promise<RevokeTokenResult> {
  const { claims } = options;
  const now = deps.clock.now();
  return deps.tokens.transaction(async (tx) => {
    const revoked = await deps.tokens.revokeIn(tx, claims.jti, new Date(claims.exp * 1000), now);
    // A second revocation changes nothing, and leaves no second event.
    if (revoked) {
      await deps.audit.recordIn(tx, { type: 'token.revoked', outcome: 'success', actorId: options.actorId, subjectId: claims.sub, meta: options.meta, details: { jti: claims.jti } });
    }
    return { revoked };
  });
}
