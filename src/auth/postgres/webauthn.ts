/**
 * WebAuthn user handles, credentials and challenges in PostgreSQL. A
 * challenge is consumed by one conditional UPDATE, a counter advanced by
 * another.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore, WebauthnChallengeRow, WebauthnCredentialRow } from '../store.ts';

type Row = Record<string, any>;

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

/** The store's WebAuthn methods, over `q` (the pool, or the transaction the store is bound to). */
export function webauthnStatements(q: Sql | Tx): Pick<AuthStore, 'webauthnUserId' | 'principalByWebauthnUserId' | 'addWebauthnCredential' | 'listWebauthnCredentials' | 'getWebauthnCredential' | 'advanceWebauthnCounter' | 'createWebauthnChallenge' | 'consumeWebauthnChallenge'> {
  return {
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
  };
}
