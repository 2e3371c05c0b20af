/**
 * Passwords (argon2id hashes) in PostgreSQL.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';

/** The store's password methods, over `q` (the pool, or the transaction the store is bound to). */
export function passwordStatements(q: Sql | Tx): Pick<AuthStore, 'setPassword' | 'getPasswordHash'> {
  return {
    async setPassword(principalId, hash) {
      await q`
        INSERT INTO passwords (principal_id, hash) VALUES (${principalId}, ${hash})
        ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash, updated_at = now()`;
    },
    async getPasswordHash(principalId) {
      const [r] = await q`SELECT hash FROM passwords WHERE principal_id = ${principalId}`;
      return r?.hash as string | undefined;
    },
  };
}
