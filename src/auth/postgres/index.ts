/**
 * PostgreSQL implementation of {@link AuthStore}.
 */
import type { Sql, Tx } from '../../db/client.ts';
import { secretStatements } from './secrets.ts';
import type { AuthStore, SessionRow, TotpFactorRow, WebauthnChallengeRow, WebauthnCredentialRow } from '../store.ts';

export { createClientCredentialStore } from './clientCredentials.ts';

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
  lastSeenAt: r.last_seen_at,
  mfaAt: r.mfa_at,
  mfaMethod: r.mfa_method,
});

const credentialRow = (r: Row): WebauthnCredentialRow => ({
  id: r.id,
  principalId: r.principal_id,
  name: r.name,
  publicKey: r.public_key,
  counter: Number(r.counter),
  transports: r.transports,
  deviceType: r.device_type,
  backedUp: r.backed_up,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** Options of {@link createAuthStore}. */
export interface AuthStoreOptions {
  /** Whether a webhook is configured: notifications are queued only then. */
  webhook?: boolean;
}

/**
 * Builds the auth store over a postgres.js client; with `bound`, every
 * statement runs in that transaction instead.
 */
export function createAuthStore(sql: Sql, options: AuthStoreOptions = {}, bound?: Tx): AuthStore {
  const q: Sql | Tx = bound ?? sql;
  // A multi-statement change: its own transaction, or the one the store is bound to.
  const atomic = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => (bound ? fn(bound) : (sql.begin(fn) as Promise<T>));
  const store: AuthStore = {
    ...secretStatements(q, options),
    transaction: (fn) => atomic((tx) => fn(bound ? store : createAuthStore(sql, options, tx), tx)),
    within: (tx) => createAuthStore(sql, options, tx),
    async setPassword(principalId, hash) {
      await q`
        INSERT INTO passwords (principal_id, hash) VALUES (${principalId}, ${hash})
        ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash, updated_at = now()`;
    },
    async getPasswordHash(principalId) {
      const [r] = await q`SELECT hash FROM passwords WHERE principal_id = ${principalId}`;
      return r?.hash as string | undefined;
    },

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

    async webauthnUserId(principalId, fresh) {
      const [r] = await q`
        UPDATE principals SET webauthn_user_id = coalesce(webauthn_user_id, ${fresh})
        WHERE id = ${principalId} RETURNING webauthn_user_id`;
      return r!.webauthn_user_id as Buffer;
    },
    async principalByWebauthnUserId(userId) {
      const [r] = await q`SELECT id FROM principals WHERE webauthn_user_id = ${userId}`;
      return r?.id as string | undefined;
    },
    async addWebauthnCredential(c) {
      await q`
        INSERT INTO webauthn_credentials (id, principal_id, name, public_key, counter, transports, device_type, backed_up)
        VALUES (${c.id}, ${c.principalId}, ${c.name}, ${c.publicKey}, ${c.counter}, ${c.transports}, ${c.deviceType}, ${c.backedUp})`;
    },
    async listWebauthnCredentials(principalId) {
      const rows = await q`SELECT * FROM webauthn_credentials WHERE principal_id = ${principalId} ORDER BY created_at`;
      return rows.map(credentialRow);
    },
    async getWebauthnCredential(id) {
      const [r] = await q`SELECT * FROM webauthn_credentials WHERE id = ${id}`;
      return r ? credentialRow(r) : undefined;
    },
    async advanceWebauthnCounter(id, newCounter, now) {
      // WebAuthn §6.1.1: a signature counter that does not increase signals a
      // cloned authenticator. Authenticators that always report 0 are allowed.
      const rows = await q`
        UPDATE webauthn_credentials SET counter = ${newCounter}, last_used_at = ${now}
        WHERE id = ${id} AND (counter < ${newCounter} OR (counter = 0 AND ${newCounter} = 0))
        RETURNING id`;
      return rows.length === 1;
    },
    async createWebauthnChallenge(c) {
      await q`
        INSERT INTO webauthn_challenges (challenge, purpose, principal_id, session_id, mfa_challenge_id, expires_at)
        VALUES (${c.challenge}, ${c.purpose}, ${c.principalId}, ${c.sessionId}, ${c.mfaChallengeId}, ${c.expiresAt})`;
    },
    async consumeWebauthnChallenge(challenge, purpose, now) {
      const [r] = await q`
        UPDATE webauthn_challenges SET consumed_at = ${now}
        WHERE challenge = ${challenge} AND purpose = ${purpose} AND consumed_at IS NULL AND expires_at > ${now}
        RETURNING *`;
      return r
        ? ({ challenge: r.challenge, purpose: r.purpose, principalId: r.principal_id, sessionId: r.session_id, mfaChallengeId: r.mfa_challenge_id } as WebauthnChallengeRow)
        : undefined;
    },

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

    async createSession(s) {
      await q`
        INSERT INTO sessions (id, principal_id, scope, amr, auth_time, expires_at, last_seen_at, mfa_at, mfa_method)
        VALUES (${s.id}, ${s.principalId}, ${s.scope}, ${s.amr}, ${s.authTime}, ${s.expiresAt}, ${s.authTime}, ${s.mfaAt}, ${s.mfaMethod})`;
    },
    async addSessionToken(t) {
      await q`
        INSERT INTO session_tokens (token_hash, session_id, kind, expires_at)
        VALUES (${t.tokenHash}, ${t.sessionId}, ${t.kind}, ${t.expiresAt})`;
    },
    async findAccessToken(tokenHash, now) {
      const [r] = await q`
        SELECT s.* FROM session_tokens t JOIN sessions s ON s.id = t.session_id
        WHERE t.token_hash = ${tokenHash} AND t.kind = 'access' AND t.expires_at > ${now}`;
      return r ? sessionRow(r) : undefined;
    },
    async getSession(id) {
      const [r] = await q`SELECT * FROM sessions WHERE id = ${id}`;
      return r ? sessionRow(r) : undefined;
    },
    async touchSession(id, now) {
      await q`UPDATE sessions SET last_seen_at = ${now} WHERE id = ${id} AND last_seen_at < ${now}`;
    },
    async useRefreshToken(tokenHash, now) {
      const [spent] = await q`
        UPDATE session_tokens SET used_at = ${now}
        WHERE token_hash = ${tokenHash} AND kind = 'refresh' AND used_at IS NULL AND expires_at > ${now}
        RETURNING session_id`;
      if (spent) return { status: 'ok', sessionId: spent.session_id as string };
      const [known] = await q`SELECT session_id, used_at FROM session_tokens WHERE token_hash = ${tokenHash} AND kind = 'refresh'`;
      if (known?.used_at) return { status: 'reused', sessionId: known.session_id as string };
      return { status: 'invalid' };
    },
    async markStepUp(id, now, method) {
      await q`UPDATE sessions SET mfa_at = ${now}, mfa_method = ${method} WHERE id = ${id}`;
    },
    async revokeAllSessions(principalId, now) {
      const rows = await q`UPDATE sessions SET revoked_at = ${now} WHERE principal_id = ${principalId} AND revoked_at IS NULL RETURNING id`;
      return rows.length;
    },
    async revokeSession(id, now) {
      await q`UPDATE sessions SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`;
    },

    async reserveAttempt(key, now, limits) {
      // One statement under the row lock: concurrent attempts are counted one
      // by one, so at most `budget` of them ever reach credential checking.
      const [r] = await q`
        INSERT INTO auth_throttle AS t (key, attempts, updated_at) VALUES (${key}, 1, ${now})
        ON CONFLICT (key) DO UPDATE SET
          attempts = CASE
            WHEN t.locked_until IS NOT NULL AND t.locked_until <= ${now} THEN 1
            WHEN t.locked_until IS NULL AND t.updated_at < ${new Date(now.getTime() - limits.windowSeconds * 1000)} THEN 1
            ELSE t.attempts + 1 END,
          locked_until = CASE WHEN t.locked_until IS NOT NULL AND t.locked_until <= ${now} THEN NULL ELSE t.locked_until END,
          updated_at = ${now}
        RETURNING attempts, locked_until, lockouts`;
      const lockedUntil = r!.locked_until as Date | null;
      if (lockedUntil && lockedUntil > now) {
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000)), lockedNow: false };
      }
      if ((r!.attempts as number) <= limits.budget) return { allowed: true };
      // Budget spent: lock, each lockout twice as long as the one before.
      const lockouts = r!.lockouts as number;
      const seconds = Math.min(limits.maxLockSeconds, limits.baseLockSeconds * 2 ** Math.min(lockouts, 20));
      const until = new Date(now.getTime() + seconds * 1000);
      const [locked] = await q`
        UPDATE auth_throttle SET locked_until = ${until}, lockouts = lockouts + 1
        WHERE key = ${key} AND (locked_until IS NULL OR locked_until <= ${now})
        RETURNING locked_until`;
      const effective = (locked?.locked_until as Date | undefined) ?? until;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((effective.getTime() - now.getTime()) / 1000)), lockedNow: Boolean(locked) };
    },
    async lockedFor(key, now) {
      const [r] = await q`SELECT locked_until FROM auth_throttle WHERE key = ${key} AND locked_until > ${now}`;
      return r ? Math.max(1, Math.ceil(((r.locked_until as Date).getTime() - now.getTime()) / 1000)) : 0;
    },
    async clearAttempts(key) {
      await q`UPDATE auth_throttle SET attempts = 0, lockouts = 0, locked_until = NULL WHERE key = ${key}`;
    },
    async purgeExpired(now, throttleWindowSeconds) {
      const hourAgo = new Date(now.getTime() - 3_600_000);
      const windowAgo = new Date(now.getTime() - throttleWindowSeconds * 1000);
      const counts = await Promise.all([
        q`DELETE FROM webauthn_challenges WHERE expires_at < ${hourAgo}`,
        q`DELETE FROM mfa_challenges WHERE expires_at < ${hourAgo}`,
        q`DELETE FROM session_tokens WHERE expires_at < ${hourAgo}`,
        q`DELETE FROM auth_throttle WHERE updated_at < ${windowAgo} AND (locked_until IS NULL OR locked_until < ${now})`,
      ]);
      return counts.reduce((n, r) => n + r.count, 0);
    },
    async refundAttempt(key) {
      await q`UPDATE auth_throttle SET attempts = greatest(attempts - 1, 0) WHERE key = ${key} AND locked_until IS NULL`;
    },
  };
  return store;
}
