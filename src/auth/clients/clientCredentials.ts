/**
 * Client credentials of service principals (training jobs, enforcement
 * points): Custos generates the secret, shows it once, and stores only its
 * argon2id hash. Verification results are cached briefly (keyed by a SHA-256
 * of the presented pair, never the secret itself) so a busy enforcement
 * point does not pay ~20 ms of argon2id per request; revocation and
 * disabling are checked on every request all the same. Only a service's
 * sponsor can create its credentials.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import type { RequestMeta } from '../../audit/log.ts';
import { commitWithEvent } from '../../catalog/commitWithEvent.ts';
import type { CatalogDeps } from '../../catalog/deps.ts';
import type { Tx } from '../../db/client.ts';
import { NotSponsorError, UnauthenticatedError } from '../../errors.ts';
import { permissionsOf, type AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';
import { hashPassword, verifyPassword } from '../password.ts';
import { assertSponsor } from './assertSponsor.ts';
import { assertPublicJwk } from './publicJwk.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from '../throttle.ts';

/** Stored credential row: a secret's hash, or (private_key_jwt) the client's public keys. */
export interface ServiceCredentialRow {
  id: string;
  principalId: string;
  clientId: string;
  secretHash: string | null;
  jwks: { keys: Record<string, unknown>[] } | null;
  revokedAt: Date | null;
}

/** Storage of client credentials. */
export interface ClientCredentialStore {
  /** The same store, writing through the caller's transaction (a credential commits with its audit event). */
  withTx(tx: Tx): ClientCredentialStore;
  /** Revokes every live credential of a service (its sponsor changed); returns how many. */
  revokeAllOf(principalId: string, now: Date): Promise<number>;
  create(c: { id: string; principalId: string; clientId: string; secretHash: string | null; jwks?: { keys: Record<string, unknown>[] } | null; createdBy: string }): Promise<void>;
  /** Remembers an assertion id until it expires; false if it was seen before (a replay). */
  useAssertionJti(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
  findByClientId(clientId: string): Promise<ServiceCredentialRow | undefined>;
  /** The datasets a resource server serves (see src/tokens/resourceServers.ts). */
  servedDatasets(principalId: string): Promise<string[]>;
  revoke(id: string, principalId: string, now: Date): Promise<boolean>;
  list(principalId: string): Promise<{ id: string; client_id: string; created_at: string; revoked_at: string | null }[]>;
}

/** A new credential; a generated secret is shown once (none for registered keys). */
export interface IssuedClientCredential {
  credential_id: string;
  client_id: string;
  client_secret?: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'private_key_jwt';
}

/** Options of {@link createClientCredential}. */
export interface CreateClientCredentialOptions {
  principalId: string;
  /** Who asks: must be the service's sponsor, in their own session. */
  actorId: string;
  meta: RequestMeta;
  /** The client's public keys (private_key_jwt); without them a secret is generated (client_secret_basic). */
  jwks?: { keys: Record<string, unknown>[] };
}

/**
 * Creates client credentials for a service principal, for its sponsor only.
 * A service's decisions are capped by its sponsor's access; whoever holds
 * its secret (or the private key of a registered JWKS — the same thing) acts
 * with that access. So an administrator who creates a service for someone
 * else must never hold either: the credential is delivered to the sponsor
 * alone ("no one alone", docs/security-model.md). A refusal is audited. The credential
 * and its event commit together, under a lock on the service's row that a
 * sponsor change also takes, so a credential never outlives a change of
 * sponsor it raced with.
 */
export async function createClientCredential(deps: CatalogDeps, options: CreateClientCredentialOptions): Promise<IssuedClientCredential> {
  const method = options.jwks ? 'private_key_jwt' : 'client_secret_basic';
  // private_key_jwt: the client keeps its private key; we keep its public keys.
  options.jwks?.keys.forEach((k, i) => assertPublicJwk(k, `body.jwks.keys.${i}`));
  const secret = options.jwks ? undefined : `cs_${randomBytes(32).toString('base64url')}`;
  const secretHash = secret === undefined ? null : await hashPassword(secret);
  try {
    return await commitWithEvent(deps, async (tx) => {
      const service = await deps.catalog.withTx(tx).lockPrincipal(options.principalId);
      assertSponsor(service, options.actorId);
      const id = deps.ids();
      const clientId = `svc_${randomBytes(12).toString('base64url')}`;
      await deps.clients.withTx(tx).create({ id, principalId: service.id, clientId, secretHash, jwks: options.jwks ?? null, createdBy: options.actorId });
      return {
        result: { credential_id: id, client_id: clientId, ...(secret === undefined ? {} : { client_secret: secret }), token_endpoint_auth_method: method },
        events: [{ type: 'client_credential.created', outcome: 'success', actorId: options.actorId, subjectId: service.id, meta: options.meta, details: { credential_id: id, client_id: clientId, method } }],
      };
    });
  } catch (err) {
    if (err instanceof NotSponsorError) {
      await deps.audit.record({ type: 'client_credential.created', outcome: 'failure', actorId: options.actorId, subjectId: options.principalId, meta: options.meta, details: { method, reason: 'not the sponsor' } });
    }
    throw err;
  }
}

/** Parses `Authorization: Basic base64(client_id:secret)` (RFC 6749 §2.3.1: form-urlencoded parts). */
export function parseBasic(header: string | undefined): { clientId: string; secret: string } | undefined {
  const m = header ? /^Basic ([A-Za-z0-9+/=]{4,1024})$/i.exec(header) : null;
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  try {
    return { clientId: decodeURIComponent(text.slice(0, i).replace(/\+/g, ' ')), secret: decodeURIComponent(text.slice(i + 1).replace(/\+/g, ' ')) };
  } catch {
    return undefined;
  }
}

/**
 * A verified (client id, secret) pair is remembered for an hour, by a SHA-256
 * of the pair and with the credential it matched: a credential's secret never
 * changes (a new secret is a new credential), and revocation and the
 * service's and sponsor's status are checked regardless. A minute made every
 * busy client pay an argon2id verification on one request a minute, which
 * was the token endpoint's p99 under load (about 100 ms).
 */
const CACHE_TTL_MS = 3_600_000;
const CACHE_MAX = 10_000;
const verified = new Map<string, { credentialId: string; until: number }>();

/** Whether an Authorization header uses the Basic scheme. */
export function isBasic(header: string | undefined): header is string {
  return header !== undefined && header.length > 6 && header.slice(0, 6).toLowerCase() === 'basic ';
}

/**
 * Authenticates a service by its `Authorization: Basic …` header; throws
 * UnauthenticatedError. A cached caller is found by a SHA-256 of the header
 * itself, so a busy enforcement point's requests skip even the parsing.
 */
export function authenticateBasicHeader(deps: AuthDeps, header: string, meta: RequestMeta): Promise<AuthContext> {
  const uncached = () => {
    const creds = parseBasic(header);
    return creds ? authenticateClientUncached(deps, creds, meta) : Promise.reject(new UnauthenticatedError());
  };
  if (!deps.clientContexts) return uncached();
  return deps.clientContexts.get(`h:${hash('sha256', header, 'base64')}`, uncached);
}

async function authenticateClientUncached(deps: AuthDeps, creds: { clientId: string; secret: string }, meta: RequestMeta): Promise<AuthContext> {
  const fail = (reason: string) => new UnauthenticatedError('The client credentials are not valid.', { reason, clientId: creds.clientId });
  const row = await deps.clients.findByClientId(creds.clientId);
  const now = deps.clock.now();
  const key = createHash('sha256').update(`${creds.clientId}\0${creds.secret}`).digest('base64');
  const hit = verified.get(key);
  let ok = Boolean(row && hit && hit.credentialId === row.id && hit.until > now.getTime());
  if (!ok) {
    // Guessing costs an argon2id verification: throttle per client id and source like people's logins.
    const keys = attemptKeys(`client:${creds.clientId}`, meta);
    await reserveAttempt(deps, keys, meta, row?.principalId);
    ok = await verifyPassword(row?.secretHash ?? undefined, creds.secret);
    if (ok) await attemptSucceeded(deps, keys);
    if (ok && row) {
      if (verified.size >= CACHE_MAX) verified.clear();
      verified.set(key, { credentialId: row.id, until: now.getTime() + CACHE_TTL_MS });
    }
  }
  if (!row || !ok) {
    // Every refused authentication attempt is audited (HIPAA §164.312(b)); the secret never is.
    await deps.audit.record({ type: 'client.auth', outcome: 'failure', subjectId: row?.principalId ?? null, meta, details: { client_id: creds.clientId, reason: 'unknown client or wrong secret' } });
    throw fail('unknown client or wrong secret');
  }
  return clientContext(deps, row);
}

/** The caller of a verified credential: revocation, the service's and its sponsor's status checked now. */
export async function clientContext(deps: AuthDeps, row: ServiceCredentialRow): Promise<AuthContext> {
  const fail = (reason: string) => new UnauthenticatedError('The client credentials are not valid.', { reason, clientId: row.clientId });
  const now = deps.clock.now();
  if (row.revokedAt) throw fail('credential revoked');
  const principal = await deps.catalog.getPrincipal(row.principalId);
  if (principal.status !== 'active') throw fail('service disabled');
  if (principal.sponsor_id) {
    const sponsor = await deps.catalog.getPrincipal(principal.sponsor_id);
    if (sponsor.status !== 'active') throw fail('sponsor disabled');
  }
  const orgRoles = await deps.catalog.orgRolesOf(principal.id);
  const permissions = permissionsOf(orgRoles);
  // Only resource servers need their datasets (for introspection): jobs asking for tokens pay no extra read.
  const servedDatasets = permissions.has('pdp:check') ? new Set(await deps.clients.servedDatasets(principal.id)) : undefined;
  return {
    via: 'client',
    principalId: principal.id,
    principalName: principal.name,
    clientId: row.clientId,
    sessionId: `client:${row.id}`,
    scope: 'full',
    amr: ['client_secret_basic'],
    authTime: now,
    expiresAt: now,
    mfaAt: null,
    mfaMethod: null,
    orgRoles,
    permissions,
    ...(servedDatasets ? { servedDatasets } : {}),
  };
}
