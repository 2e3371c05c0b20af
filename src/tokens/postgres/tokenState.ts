/**
 * PostgreSQL storage of revoked token ids.
 */
import type { Sql } from '../../db/client.ts';
import type { TokenStateStore } from '../verifyToken.ts';
import { transaction } from '../../db/transaction.ts';

/** Builds the revoked-token store. */
export function createTokenStateStore(sql: Sql): TokenStateStore {
  return {
    async isRevoked(jti) {
      const [r] = await sql`SELECT 1 AS hit FROM revoked_tokens WHERE jti = ${jti}`;
      return Boolean(r);
    },
    transaction(fn) {
      return transaction(sql, fn) as Promise<Awaited<ReturnType<typeof fn>>>;
    },
    async revokeIn(tx, jti, expiresAt, now) {
      const rows = await tx`INSERT INTO revoked_tokens (jti, revoked_at, expires_at) VALUES (${jti}, ${now}, ${expiresAt}) ON CONFLICT (jti) DO NOTHING RETURNING jti`;
      return rows.length === 1;
    },
  };
}
