/**
 * Resolves a bearer session token to the caller. Expiry, revocation and the
 * principal's status are checked at every use, against the server clock.
 */
import { UnauthenticatedError } from '../errors.ts';
import { permissionsOf, type AuthContext } from './context.ts';
import type { AuthDeps } from './deps.ts';
import { hashOpaqueToken } from './opaqueToken.ts';

/** Returns the caller of a session token, or throws UnauthenticatedError. */
export async function authenticate(deps: Pick<AuthDeps, 'store' | 'catalog' | 'clock'>, token: string): Promise<AuthContext> {
  if (!/^cst_[A-Za-z0-9_-]{43}$/.test(token)) throw new UnauthenticatedError('The session token is not valid.', { reason: 'malformed' });
  const session = await deps.store.findSession(hashOpaqueToken(token));
  const now = deps.clock.now();
  if (!session) throw new UnauthenticatedError('The session token is not valid.', { reason: 'unknown' });
  if (session.revokedAt) throw new UnauthenticatedError('The session has ended.', { reason: 'revoked', sessionId: session.id });
  if (session.expiresAt.getTime() <= now.getTime()) throw new UnauthenticatedError('The session has ended.', { reason: 'expired', sessionId: session.id });
  const principal = await deps.catalog.getPrincipal(session.principalId);
  if (principal.status !== 'active') throw new UnauthenticatedError('The session has ended.', { reason: 'principal disabled', sessionId: session.id });
  const orgRoles = await deps.catalog.orgRolesOf(principal.id);
  return {
    principalId: principal.id,
    principalName: principal.name,
    sessionId: session.id,
    scope: session.scope,
    amr: session.amr,
    authTime: session.authTime,
    expiresAt: session.expiresAt,
    orgRoles,
    // An enrollment session carries no permissions whatever roles the person holds.
    permissions: session.scope === 'full' ? permissionsOf(orgRoles) : new Set(),
  };
}
