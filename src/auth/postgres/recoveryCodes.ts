/**
 * Recovery codes (stored as HMACs) in PostgreSQL: replaced as a set, each
 * used once.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';
import type { Atomic } from './index.ts';

/** The store's recovery code methods, over `q` (the pool, or the transaction the store is bound to). */
export function recoveryCodeStatements(q: Sql | Tx, atomic: Atomic): Pick<AuthStore, 'replaceRecoveryCodes' | 'useRecoveryCode' | 'countRecoveryCodes'> {
  return {
    async replaceRecoveryCodes(principalId, codes) {
      await atomic(async (tx) => {
        await tx`DELETE FROM recovery_codes WHERE principal_id = ${principalId}`;
        for (const c of codes) await tx`INSERT INTO recovery_codes (id, principal_id, code_hmac) VALUES (${c.id}, ${principalId}, ${c.hmac})`;
      });
    },
    async useRecoveryCode(principalId, hmac, now) {
      const rows = await q`
        UPDATE recovery_codes SET used_at = ${now}
        WHERE principal_id = ${principalId} AND code_hmac = ${hmac} AND used_at IS NULL RETURNING id`;
      return rows.length === 1;
    },
    async countRecoveryCodes(principalId) {
      const [r] = await q`SELECT count(*)::int AS n FROM recovery_codes WHERE principal_id = ${principalId} AND used_at IS NULL`;
      return r!.n as number;
    },
  };
}
