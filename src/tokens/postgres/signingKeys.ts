/**
 * PostgreSQL storage of signing keys.
 */
import type { Sql } from '../../db/client.ts';
import type { SigningKeyRow, SigningKeyStore } from '../keyStore.ts';
import { transaction } from '../../db/transaction.ts';

type Row = Record<string, any>;

const keyRow = (r: Row): SigningKeyRow => ({
  kid: r.kid,
  alg: r.alg,
  publicJwk: r.public_jwk,
  privateEnc: r.private_enc,
  createdAt: r.created_at,
  retiredAt: r.retired_at,
  publishUntil: r.publish_until,
});

/** Builds the signing-key store. */
export function createSigningKeyStore(sql: Sql): SigningKeyStore {
  return {
    async published(now) {
      const rows = await sql`
        SELECT * FROM signing_keys WHERE retired_at IS NULL OR publish_until > ${now} ORDER BY created_at DESC`;
      return rows.map(keyRow);
    },
    async rotate(next, now, publishUntil, within) {
      return transaction(sql, async (tx) => {
        // Serialise rotations: two at once must not both retire the same key.
        await tx`LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`;
        const [old] = await tx`
          UPDATE signing_keys SET retired_at = ${now}, publish_until = ${publishUntil}
          WHERE retired_at IS NULL RETURNING kid`;
        await tx`
          INSERT INTO signing_keys (kid, alg, public_jwk, private_enc, created_at)
          VALUES (${next.kid}, ${next.alg}, ${tx.json(next.publicJwk as never)}, ${next.privateEnc}, ${next.createdAt})`;
        const retired = (old?.kid as string | undefined) ?? null;
        await within?.(tx, retired);
        return { retired };
      });
    },
  };
}
