/**
 * PostgreSQL storage of service client credentials.
 */
import type { Sql } from '../../db/client.ts';
import type { ClientCredentialStore } from '../clients/clientCredentials.ts';

/** Builds the client credential store. */
export function createClientCredentialStore(sql: Sql): ClientCredentialStore {
  return {
    withTx(tx) {
      return createClientCredentialStore(tx as unknown as Sql);
    },
    async revokeAllOf(principalId, now) {
      const rows = await sql`UPDATE service_credentials SET revoked_at = ${now} WHERE principal_id = ${principalId} AND revoked_at IS NULL RETURNING id`;
      return rows.length;
    },
    async create(c) {
      await sql`
        INSERT INTO service_credentials (id, principal_id, client_id, secret_hash, jwks, created_by)
        VALUES (${c.id}, ${c.principalId}, ${c.clientId}, ${c.secretHash}, ${c.jwks ? sql.json(c.jwks as never) : null}, ${c.createdBy})`;
    },
    async useAssertionJti(clientId, jti, expiresAt) {
      const rows = await sql`
        INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES (${clientId}, ${jti}, ${expiresAt})
        ON CONFLICT DO NOTHING RETURNING jti`;
      return rows.length === 1;
    },
    async findByClientId(clientId) {
      const [r] = await sql`SELECT id, principal_id, client_id, secret_hash, jwks, revoked_at FROM service_credentials WHERE client_id = ${clientId}`;
      return r ? { id: r.id, principalId: r.principal_id, clientId: r.client_id, secretHash: r.secret_hash, jwks: r.jwks, revokedAt: r.revoked_at } : undefined;
    },
    async servedDatasets(principalId) {
      const rows = await sql`SELECT dataset_id FROM resource_server_datasets WHERE principal_id = ${principalId}`;
      return rows.map((r) => r.dataset_id as string);
    },
    async revoke(id, principalId, now) {
      const rows = await sql`UPDATE service_credentials SET revoked_at = ${now} WHERE id = ${id} AND principal_id = ${principalId} AND revoked_at IS NULL RETURNING id`;
      return rows.length === 1;
    },
    async list(principalId) {
      const rows = await sql`SELECT id, client_id, created_at, revoked_at FROM service_credentials WHERE principal_id = ${principalId} ORDER BY created_at`;
      return rows.map((r) => ({ id: r.id, client_id: r.client_id, created_at: new Date(r.created_at).toISOString(), revoked_at: r.revoked_at ? new Date(r.revoked_at).toISOString() : null }));
    },
  };
}
