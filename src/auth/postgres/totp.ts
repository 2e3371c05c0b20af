/**
 * TOTP factors (RFC 6238) in PostgreSQL: secrets stay sealed; the accepted
 * time step only moves forward.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore, TotpFactorRow } from '../store.ts';
import type { Atomic } from './index.ts';

type Row = Record<string, any>;

const totpRow = (r: Row): TotpFactorRow => ({
  id: r.id,
  principalId: r.principal_id,
  secretEnc: r.secret_enc,
  lastTimeStep: r.last_time_step === null ? null : Number(r.last_time_step),
  confirmedAt: r.confirmed_at,
});

/** The store's TOTP methods, over `q` (the pool, or the transaction the store is bound to). */
export function totpStatements(q: Sql | Tx, atomic: Atomic): Pick<AuthStore, 'createTotpFactor' | 'getTotpFactor' | 'getConfirmedTotp' | 'confirmTotp' | 'advanceTotpStep'> {
  return {
    async createTotpFactor(f) {
      await q`INSERT INTO totp_factors (id, principal_id, secret_enc) VALUES (${f.id}, ${f.principalId}, ${f.secretEnc})`;
    },
    async getTotpFactor(principalId, factorId) {
      const [r] = await q`SELECT * FROM totp_factors WHERE id = ${factorId} AND principal_id = ${principalId}`;
      return r ? totpRow(r) : undefined;
    },
    async getConfirmedTotp(principalId) {
      const [r] = await q`SELECT * FROM totp_factors WHERE principal_id = ${principalId} AND confirmed_at IS NOT NULL`;
      return r ? totpRow(r) : undefined;
    },
    async confirmTotp(principalId, factorId, timeStep) {
      return atomic(async (tx) => {
        const [pending] = await tx`
          SELECT id FROM totp_factors WHERE id = ${factorId} AND principal_id = ${principalId} AND confirmed_at IS NULL FOR UPDATE`;
        if (!pending) return false;
        await tx`DELETE FROM totp_factors WHERE principal_id = ${principalId} AND confirmed_at IS NOT NULL`;
        await tx`UPDATE totp_factors SET confirmed_at = now(), last_time_step = ${timeStep} WHERE id = ${factorId}`;
        return true;
      });
    },
    async advanceTotpStep(factorId, timeStep) {
      // RFC 6238 §5.2: a verifier MUST NOT accept the second attempt of an OTP
      // after the first succeeded. The comparison and the write are one statement.
      const rows = await q`
        UPDATE totp_factors SET last_time_step = ${timeStep}
        WHERE id = ${factorId} AND (last_time_step IS NULL OR last_time_step < ${timeStep})
        RETURNING id`;
      return rows.length === 1;
    },
  };
}
