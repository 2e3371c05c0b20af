/**
 * The PostgreSQL statements behind "one live value per secret": revoking a
 * person's enrollment secrets, login and WebAuthn challenges, removing every
 * factor at recovery, and queueing the notification that announces it.
 * Part of {@link createAuthStore}; split out to keep files small.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStoreOptions } from './index.ts';
import type { AuthStore } from '../store.ts';

type SecretStatements = Pick<
  AuthStore,
  | 'lockPerson'
  | 'enrollmentState'
  | 'revokeEnrollments'
  | 'revokeMfaChallenges'
  | 'revokeWebauthnChallenges'
  | 'removeAllFactors'
  | 'mfaChallengeOwner'
  | 'queueNotification'
  | 'sessionLive'
  | 'roleHoldersWithFactors'
  | 'activeRoleHolders'
  | 'lockRole'
>;

/** The statements over `q` (the pool, or the transaction the store is bound to). */
export function secretStatements(q: Sql | Tx, options: AuthStoreOptions): SecretStatements {
  return {
    async lockPerson(principalId) {
      await q`SELECT id FROM principals WHERE id = ${principalId} FOR UPDATE`;
    },
    async enrollmentState(principalId, secretHash, now) {
      const [r] = await q`
        SELECT used_at, revoked_reason, expires_at FROM enrollments WHERE principal_id = ${principalId} AND secret_hash = ${secretHash}`;
      if (!r) return 'unknown';
      if (r.used_at) return 'used';
      if (r.revoked_reason) return r.revoked_reason as 'superseded' | 'enrolled';
      return (r.expires_at as Date) <= now ? 'expired' : 'live';
    },
    async revokeEnrollments(principalId, now, reason) {
      const rows = await q`
        UPDATE enrollments SET revoked_at = ${now}, revoked_reason = ${reason}
        WHERE principal_id = ${principalId} AND used_at IS NULL AND revoked_at IS NULL
        RETURNING id`;
      return rows.map((r) => r.id as string);
    },
    async revokeMfaChallenges(principalId, now) {
      // A consumed challenge is dead: nothing can answer it any more.
      const rows = await q`
        UPDATE mfa_challenges SET consumed_at = ${now}
        WHERE principal_id = ${principalId} AND consumed_at IS NULL AND expires_at > ${now}
        RETURNING id`;
      return rows.length;
    },
    async revokeWebauthnChallenges(principalId, now) {
      const rows = await q`
        UPDATE webauthn_challenges SET consumed_at = ${now}
        WHERE principal_id = ${principalId} AND consumed_at IS NULL AND expires_at > ${now}
        RETURNING challenge`;
      return rows.length;
    },
    async removeAllFactors(principalId) {
      const webauthn = await q`DELETE FROM webauthn_credentials WHERE principal_id = ${principalId} RETURNING id`;
      const totp = await q`DELETE FROM totp_factors WHERE principal_id = ${principalId} RETURNING id::text, confirmed_at IS NOT NULL AS confirmed`;
      const codes = await q`DELETE FROM recovery_codes WHERE principal_id = ${principalId} RETURNING id`;
      // A new user handle at the next registration: an old authenticator's discoverable
      // credential names a handle that no longer belongs to anyone.
      await q`UPDATE principals SET webauthn_user_id = NULL WHERE id = ${principalId}`;
      return {
        webauthn: webauthn.map((r) => r.id as string),
        totp: totp.filter((r) => r.confirmed).map((r) => r.id as string),
        pendingTotp: totp.filter((r) => !r.confirmed).length,
        recoveryCodes: codes.length,
      };
    },
    async mfaChallengeOwner(tokenHash) {
      const [r] = await q`SELECT principal_id FROM mfa_challenges WHERE token_hash = ${tokenHash}`;
      return r?.principal_id as string | undefined;
    },
    async queueNotification(n) {
      if (!options.webhook) return;
      // The same envelope as the workflow's notifications (src/grants): {id, event, created_at, data}.
      const payload = { id: n.id, event: n.event, created_at: n.at.toISOString(), data: n.data };
      await q`
        INSERT INTO webhook_deliveries (id, event, payload, next_attempt_at, created_at)
        VALUES (${n.id}, ${n.event}, ${q.json(payload as never)}, now(), ${n.at})`;
    },
    async roleHoldersWithFactors(principalId, roleId) {
      const [r] = await q`
        WITH RECURSIVE down(id) AS (
          SELECT ${roleId}::text UNION SELECT i.role_id FROM role_inherits i JOIN down ON i.parent_id = down.id
        ), holders AS (
          SELECT DISTINCT p.id FROM role_assignments a JOIN principals p ON p.id = a.principal_id
          WHERE a.role_id IN (SELECT id FROM down) AND a.project_id IS NULL AND p.status = 'active' AND p.kind = 'user'
        )
        SELECT
          EXISTS (SELECT 1 FROM holders WHERE id = ${principalId}) AS holds,
          (SELECT count(*)::int FROM holders h WHERE h.id <> ${principalId} AND (
             EXISTS (SELECT 1 FROM totp_factors t WHERE t.principal_id = h.id AND t.confirmed_at IS NOT NULL)
             OR EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.principal_id = h.id))) AS others`;
      return { holds: Boolean(r!.holds), othersWithFactors: Number(r!.others) };
    },
    async lockRole(roleId) {
      await q`SELECT id FROM roles WHERE id = ${roleId} FOR UPDATE`;
    },
    async activeRoleHolders(roleId) {
      const [r] = await q`
        WITH RECURSIVE down(id) AS (
          SELECT ${roleId}::text UNION SELECT i.role_id FROM role_inherits i JOIN down ON i.parent_id = down.id
        )
        SELECT count(DISTINCT p.id)::int AS n FROM role_assignments a JOIN principals p ON p.id = a.principal_id
        WHERE a.role_id IN (SELECT id FROM down) AND a.project_id IS NULL AND p.status = 'active' AND p.kind = 'user'`;
      return Number(r!.n);
    },
    async sessionLive(sessionId, now) {
      const [r] = await q`SELECT 1 AS live FROM sessions WHERE id = ${sessionId} AND revoked_at IS NULL AND expires_at > ${now}`;
      return Boolean(r);
    },
  };
}

/**
 * Who could hold a person's account: the receivers of their live enrollment
 * secrets and of the one they last enrolled with (`enrollments.issued_by`;
 * the bootstrap and the host operator are not recorded). Such a receiver may
 * not alone give that person roles or access (changes/assignRole.ts,
 * grants/reviewRequest.ts).
 */
export async function secretHoldersOf(q: Sql | Tx, principalId: string, at: Date): Promise<string[]> {
  const rows = await q`
    SELECT issued_by FROM enrollments
    WHERE principal_id = ${principalId} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ${at}
    UNION
    (SELECT issued_by FROM enrollments WHERE principal_id = ${principalId} AND used_at IS NOT NULL ORDER BY used_at DESC LIMIT 1)`;
  return rows.map((r) => r.issued_by as string | null).filter((id): id is string => id !== null);
}
