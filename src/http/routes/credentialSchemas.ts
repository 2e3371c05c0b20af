/**
 * Request and answer schemas of client credentials, shared by the
 * administrator's routes (catalog.ts) and the sponsor's (sponsor.ts).
 */
import { z } from 'zod';
import { storableText } from '../route.ts';

/** Client credential bodies: none (a generated secret), or the client's public keys for private_key_jwt. */
export const CredentialBody = z.strictObject({
  jwks: z.strictObject({ keys: z.array(z.record(storableText(100), z.union([storableText(16_384), z.array(storableText(16_384)).max(20)]))).min(1).max(10) }).optional(),
});
/** What creating a credential answers (a generated secret is shown once). */
export const IssuedCredential = z.object({
  credential_id: z.string(),
  client_id: z.string(),
  client_secret: z.string().optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'private_key_jwt']),
});
/** A credential as listed (never the secret). */
export const CredentialList = z.object({ items: z.array(z.object({ id: z.string(), client_id: z.string(), created_at: z.string(), revoked_at: z.string().nullable() })) });
