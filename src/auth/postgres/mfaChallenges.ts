/**
 * MFA challenges (the step between password and second factor) in
 * PostgreSQL: single-use, expiring, burned after too many failures.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';

/** The store's MFA challenge methods, over `q` (the pool, or the transaction the store is bound to). */
export function mfaChallengeStatements(q: Sql | Tx): Pick<AuthStore, 'createMfaChallenge' | 'findMfaChallenge' | 'consumeMfaChallenge' | 'recordMfaFailure'> {
  return {
    async createMfaChallenge(c) {
      await q`
        INSERT INTO mfa_challenges (id, principal_id, token_hash, expires_at)
        VALUES (${c.id}, ${c.principalId}, ${c.tokenHash}, ${c.expiresAt})`;
    },
    async findMfaChallenge(tokenHash, now, maxFailures) {
      const [r] = await q`
        SELECT id, principal_id FROM mfa_challenges
        WHERE token_hash = ${tokenHash} AND consumed_at IS NULL AND expires_at > ${now} AND failures < ${maxFailures}`;
      return r ? { id: r.id as string, principalId: r.principal_id as string } : undefined;
    },
    async consumeMfaChallenge(id) {
      const rows = await q`UPDATE mfa_challenges SET consumed_at = now() WHERE id = ${id} AND consumed_at IS NULL RETURNING id`;
      return rows.length === 1;
    },
    async recordMfaFailure(id) {
      await q`UPDATE mfa_challenges SET failures = failures + 1 WHERE id = ${id}`;
    },
  };
}
