/**
 * Whether the caller of a long-lived stream may still read alerts. A
 * stream outlives the request that opened it, so what authenticate()
 * checked once is checked again at every heartbeat, without counting as
 * activity (an open console does not keep its session alive: automatic
 * logoff, HIPAA §164.312(a)(2)(iii)): the access token still valid, the
 * session not revoked, expired or idle, the person active, the permission
 * still held.
 */
import { permissionsOf, type Permission } from '../auth/context.ts';
import type { AuthDeps } from '../auth/deps.ts';
import { hashOpaqueToken } from '../auth/opaqueToken.ts';
import { sessionEndReason } from '../auth/sessions/authenticate.ts';

/** Why the holder of `token` may no longer use `permission`, or undefined while they may. */
export async function accessEnded(deps: Pick<AuthDeps, 'store' | 'catalog' | 'clock' | 'settings'>, token: string, permission: Permission): Promise<string | undefined> {
  const now = deps.clock.now();
  const session = await deps.store.findAccessToken(hashOpaqueToken(token), now);
  if (!session) return 'access token expired';
  const ended = sessionEndReason(session, now, deps.settings.idleTimeoutSeconds);
  if (ended) return `session ${ended}`;
  const principal = await deps.catalog.getPrincipal(session.principalId);
  if (principal.status !== 'active') return 'principal disabled';
  if (session.scope !== 'full' || !permissionsOf(await deps.catalog.orgRolesOf(principal.id)).has(permission)) return `${permission} no longer held`;
  return undefined;
}
