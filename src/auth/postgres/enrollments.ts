/**
 * Enrollment secrets in PostgreSQL: each is used once, before it expires,
 * unless revoked (revocation is in secrets.ts).
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';

/** The store's enrollment methods, over `q` (the pool, or the transaction the store is bound to). */
export function enrollmentStatements(q: Sql | Tx): Pick<AuthStore, 'createEnrollment' | 'consumeEnrollment'> {
  return {
    async createEnrollment(e) {
      await q`
        INSERT INTO enrollments (id, principal_id, secret_hash, expires_at, issued_by)
        VALUES (${e.id}, ${e.principalId}, ${e.secretHash}, ${e.expiresAt}, ${e.issuedBy ?? null})`;
    },
    async consumeEnrollment(principalId, secretHash, now) {
      const rows = await q`
        UPDATE enrollments SET used_at = ${now}
        WHERE principal_id = ${principalId} AND secret_hash = ${secretHash} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ${now}
        RETURNING id`;
      return rows.length === 1;
    },
  };
}
