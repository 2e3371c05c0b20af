/**
 * PostgreSQL storage of signing keys.
 */
import type { Sql } from '../../db/client.ts';
import type { KeyTimes } from '../keySchedule.ts';
import type { SigningKeyRow, SigningKeyStore } from '../keyStore.ts';
import { transaction } from '../../db/transaction.ts';

type Row = Record<string, any>;

const times = (r: Row): KeyTimes => ({
  kid: r.kid,
  createdAt: r.created_at,
  activatesAt: r.activates_at,
  retiredAt: r.retired_at,
  publishUntil: r.publish_until,
  immediate: r.immediate,
});

const keyRow = (r: Row): SigningKeyRow => ({
  ...times(r),
  alg: r.alg,
  publicJwk: r.public_jwk,
  privateEnc: r.private_enc,
});

/** Builds the signing-key store. */
export function createSigningKeyStore(sql: Sql): SigningKeyStore {
  return {
    async published(now) {
      const rows = await sql`
        SELECT * FROM signing_keys WHERE retired_at IS NULL OR publish_until > ${now} ORDER BY created_at DESC`;
      return rows.map(keyRow);
    },
    async rotate(next, since, plan, within) {
      return transaction(sql, async (tx) => {
        // Serialise rotations: two at once must not both retire the same key or both schedule one.
        await tx`LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`;
        const open = await tx`
          SELECT kid, created_at, activates_at, retired_at, publish_until, immediate FROM signing_keys
          WHERE retired_at IS NULL OR retired_at > ${since}`;
        const p = plan(open.map(times));
        if (!p) return undefined;
        // The withdrawn key never signed: it leaves the JWKS at once (publish_until = now is not "> now").
        if (p.withdraw) await tx`UPDATE signing_keys SET retired_at = ${p.now}, publish_until = ${p.now} WHERE kid = ${p.withdraw}`;
        // Retire before inserting: at most one key is without a retirement (signing_keys_one_active_idx).
        if (p.retire) await tx`UPDATE signing_keys SET retired_at = ${p.retire.retiredAt}, publish_until = ${p.retire.publishUntil} WHERE kid = ${p.retire.kid}`;
        await tx`
          INSERT INTO signing_keys (kid, alg, public_jwk, private_enc, created_at, activates_at, immediate)
          VALUES (${next.kid}, ${next.alg}, ${tx.json(next.publicJwk as never)}, ${next.privateEnc}, ${p.now}, ${p.activatesAt}, ${p.immediate})`;
        await within?.(tx, p);
        return p;
      });
    },
  };
}
