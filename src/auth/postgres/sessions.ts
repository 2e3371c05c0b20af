/**
 * Sessions and their access and refresh tokens (stored as hashes) in
 * PostgreSQL. A refresh token is used once; using it again is told apart.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore, SessionRow } from '../store.ts';

type Row = Record<string, any>;

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

/** The store's session methods, over `q` (the pool, or the transaction the store is bound to). */
export function sessionStatements(q: Sql | Tx): Pick<AuthStore, 'createSession' | 'addSessionToken' | 'findAccessToken' | 'getSession' | 'touchSession' | 'useRefreshToken' | 'markStepUp' | 'revokeAllSessions' | 'revokeSession'> {
  return {
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
  };
}
