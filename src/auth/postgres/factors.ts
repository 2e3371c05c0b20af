/**
 * A person's second factors across kinds (TOTP, WebAuthn, recovery codes)
 * in PostgreSQL: which they have, and removing one unless it is the last.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';
import type { Atomic } from './index.ts';

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** The store's factor methods, over `q` (the pool, or the transaction the store is bound to). */
export function factorStatements(q: Sql | Tx, atomic: Atomic): Pick<AuthStore, 'listFactorKinds' | 'listFactors' | 'deleteFactorUnlessLast'> {
  return {
    async listFactorKinds(principalId) {
      const [r] = await q`
        SELECT
          EXISTS (SELECT 1 FROM totp_factors WHERE principal_id = ${principalId} AND confirmed_at IS NOT NULL) AS totp,
          EXISTS (SELECT 1 FROM webauthn_credentials WHERE principal_id = ${principalId}) AS webauthn,
          EXISTS (SELECT 1 FROM recovery_codes WHERE principal_id = ${principalId} AND used_at IS NULL) AS recovery`;
      const kinds: ('totp' | 'webauthn' | 'recovery')[] = [];
      if (r!.totp) kinds.push('totp');
      if (r!.webauthn) kinds.push('webauthn');
      if (r!.recovery) kinds.push('recovery');
      return kinds;
    },
    async listFactors(principalId) {
      const rows = await q`
        SELECT id::text, 'totp' AS type, label AS name, created_at, NULL::timestamptz AS last_used_at
          FROM totp_factors WHERE principal_id = ${principalId} AND confirmed_at IS NOT NULL
        UNION ALL
        SELECT id, 'webauthn', name, created_at, last_used_at FROM webauthn_credentials WHERE principal_id = ${principalId}
        ORDER BY created_at`;
      return rows.map((r) => ({ id: r.id, type: r.type, name: r.name, created_at: iso(r.created_at)!, last_used_at: iso(r.last_used_at) }));
    },
    async deleteFactorUnlessLast(principalId, factorId) {
      return atomic(async (tx) => {
        // Lock the person's factors so two concurrent removals cannot both pass the "not last" check.
        await tx`SELECT id FROM principals WHERE id = ${principalId} FOR UPDATE`;
        const [count] = await tx`
          SELECT (SELECT count(*) FROM totp_factors WHERE principal_id = ${principalId} AND confirmed_at IS NOT NULL)
               + (SELECT count(*) FROM webauthn_credentials WHERE principal_id = ${principalId}) AS n`;
        const isUuid = /^[0-9a-f-]{36}$/.test(factorId);
        const [totp] = isUuid ? await tx`SELECT id FROM totp_factors WHERE id = ${factorId} AND principal_id = ${principalId} AND confirmed_at IS NOT NULL` : [];
        const [cred] = await tx`SELECT id FROM webauthn_credentials WHERE id = ${factorId} AND principal_id = ${principalId}`;
        if (!totp && !cred) return 'not_found' as const;
        if (Number(count!.n) <= 1) return 'last' as const;
        if (totp) await tx`DELETE FROM totp_factors WHERE id = ${factorId}`;
        else await tx`DELETE FROM webauthn_credentials WHERE id = ${factorId}`;
        return 'deleted' as const;
      });
    },
  };
}
