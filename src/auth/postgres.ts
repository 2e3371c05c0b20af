/**
 * PostgreSQL implementation of {@link AuthStore}.
 */
import type { Sql } from '../db/client.ts';
import type { AuthStore, SessionRow, TotpFactorRow } from './store.ts';

type Row = Record<string, any>;

const totpRow = (r: Row): TotpFactorRow => ({
  id: r.id,
  principalId: r.principal_id,
  secretEnc: r.secret_enc,
  lastTimeStep: r.last_time_step === null ? null : Number(r.last_time_step),
  confirmedAt: r.confirmed_at,
});

const sessionRow = (r: Row): SessionRow => ({
  id: r.id,
  principalId: r.principal_id,
  scope: r.scope,
  amr: r.amr,
  authTime: r.auth_time,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

/** Builds the auth store over a postgres.js client. */
export function createAuthStore(sql: Sql): AuthStore {
  return {
    async setPassword(principalId, hash) {
      await sql`
        INSERT INTO passwords (principal_id, hash) VALUES (${principalId}, ${hash})
        ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash, updated_at = now()`;
    },
    async getPasswordHash(principalId) {
      const [r] = await sql`SELECT hash FROM passwords WHERE principal_id = ${principalId}`;
      return r?.hash as string | undefined;
    },

    async createEnrollment(e) {
      await sql`
        INSERT INTO enrollments (id, principal_id, secret_hash, expires_at)
        VALUES (${e.id}, ${e.principalId}, ${e.secretHash}, ${e.expiresAt})`;
    },
    async consumeEnrollment(principalId, secretHash, now) {
      const rows = await sql`
        UPDATE enrollments SET used_at = ${now}
        WHERE principal_id = ${principalId} AND secret_hash = ${secretHash} AND used_at IS NULL AND expires_at > ${now}
        RETURNING id`;
      return rows.length === 1;
    },

    async createTotpFactor(f) {
      await sql`INSERT INTO totp_factors (id, principal_id, secret_enc) VALUES (${f.id}, ${f.principalId}, ${f.secretEnc})`;
    },
    async getTotpFactor(principalId, factorId) {
      const [r] = await sql`SELECT * FROM totp_factors WHERE id = ${factorId} AND principal_id = ${principalId}`;
      return r ? totpRow(r) : undefined;
    },
    async getConfirmedTotp(principalId) {
      const [r] = await sql`SELECT * FROM totp_factors WHERE principal_id = ${principalId} AND confirmed_at IS NOT NULL`;
      return r ? totpRow(r) : undefined;
    },
    async confirmTotp(principalId, factorId, timeStep) {
      return sql.begin(async (tx) => {
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
      const rows = await sql`
        UPDATE totp_factors SET last_time_step = ${timeStep}
        WHERE id = ${factorId} AND (last_time_step IS NULL OR last_time_step < ${timeStep})
        RETURNING id`;
      return rows.length === 1;
    },

    async createMfaChallenge(c) {
      await sql`
        INSERT INTO mfa_challenges (id, principal_id, token_hash, expires_at)
        VALUES (${c.id}, ${c.principalId}, ${c.tokenHash}, ${c.expiresAt})`;
    },
    async findMfaChallenge(tokenHash, now, maxFailures) {
      const [r] = await sql`
        SELECT id, principal_id FROM mfa_challenges
        WHERE token_hash = ${tokenHash} AND consumed_at IS NULL AND expires_at > ${now} AND failures < ${maxFailures}`;
      return r ? { id: r.id as string, principalId: r.principal_id as string } : undefined;
    },
    async consumeMfaChallenge(id) {
      const rows = await sql`UPDATE mfa_challenges SET consumed_at = now() WHERE id = ${id} AND consumed_at IS NULL RETURNING id`;
      return rows.length === 1;
    },
    async recordMfaFailure(id) {
      await sql`UPDATE mfa_challenges SET failures = failures + 1 WHERE id = ${id}`;
    },

    async createSession(s) {
      await sql`
        INSERT INTO sessions (id, principal_id, token_hash, scope, amr, auth_time, expires_at)
        VALUES (${s.id}, ${s.principalId}, ${s.tokenHash}, ${s.scope}, ${s.amr}, ${s.authTime}, ${s.expiresAt})`;
    },
    async findSession(tokenHash) {
      const [r] = await sql`SELECT * FROM sessions WHERE token_hash = ${tokenHash}`;
      return r ? sessionRow(r) : undefined;
    },
    async revokeAllSessions(principalId, now) {
      const rows = await sql`UPDATE sessions SET revoked_at = ${now} WHERE principal_id = ${principalId} AND revoked_at IS NULL RETURNING id`;
      return rows.length;
    },
    async revokeSession(id, now) {
      await sql`UPDATE sessions SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`;
    },
  };
}
