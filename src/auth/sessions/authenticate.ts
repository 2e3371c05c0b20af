/**
 * Resolves a bearer access token to the caller. Expiry (token, session and
 * idle timeout), revocation and the principal's status are checked at every
 * use, against the server clock — never left to a sweeper.
 */
import { UnauthenticatedError } from '../../errors.ts';
import { permissionsOf, type AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';
import { hashOpaqueToken } from '../opaqueToken.ts';
import type { SessionRow } from '../store.ts';

/** Why a session can no longer be used, or undefined when it can. */
export function sessionEndReason(session: SessionRow, now: Date, idleTimeoutSeconds: number): string | undefined {
  if (session.revokedAt) return 'revoked';
  if (session.expiresAt.getTime() <= now.getTime()) return 'expired';
  // Automatic logoff, §164.312(a)(2)(iii).
  if (now.getTime() - session.lastSeenAt.getTime() > idleTimeoutSeconds * 1000) return 'idle';
  return undefined;
}

/** Returns the caller of an access token, or throws UnauthenticatedError. */
export async function authenticate(deps: Pick<AuthDeps, 'store' | 'catalog' | 'clock' | 'settings'>, token: string): Promise<AuthContext> {
  if (!/^cst_[A-Za-z0-9_-]{43}$/.test(token)) throw new UnauthenticatedError('The session token is not valid.', { reason: 'malformed' });
  const now = deps.clock.now();
  const session = await deps.store.findAccessToken(hashOpaqueToken(token), now);
  if (!session) throw new UnauthenticatedError('The session token is not valid.', { reason: 'unknown or expired token' });
  const ended = sessionEndReason(session, now, deps.settings.idleTimeoutSeconds);
  if (ended) {
    if (ended === 'idle') await deps.store.revokeSession(session.id, now);
    throw new UnauthenticatedError('The session has ended.', { reason: ended, sessionId: session.id });
  }
  const principal = await deps.catalog.getPrincipal(session.principalId);
  if (principal.status !== 'active') throw new UnauthenticatedError('The session has ended.', { reason: 'principal disabled', sessionId: session.id });
  await deps.store.touchSession(session.id, now);
  const orgRoles = await deps.catalog.orgRolesOf(principal.id);
  return {
    via: 'session',
    principalId: principal.id,
    principalName: principal.name,
    sessionId: session.id,
    scope: session.scope,
    amr: session.amr,
    authTime: session.authTime,
    expiresAt: session.expiresAt,
    mfaAt: session.mfaAt,
    mfaMethod: session.mfaMethod,
    orgRoles,
    // An enrollment session carries no permissions whatever roles the person holds.
    permissions: session.scope === 'full' ? permissionsOf(orgRoles) : new Set(),
  };
}
