/**
 * Rotating refresh tokens: each works once and yields a new pair. Presenting
 * a spent one means a copy is in someone else's hands, so the whole session
 * (every token of the family) is revoked and the event is audited.
 */
import type { RequestMeta } from '../../audit/log.ts';
import { UnauthenticatedError } from '../../errors.ts';
import { sessionEndReason } from './authenticate.ts';
import type { AuthDeps } from '../deps.ts';
import { mintTokenPair, type IssuedSession } from './issueSession.ts';
import { hashOpaqueToken } from '../opaqueToken.ts';

/** Exchanges a refresh token for a new access/refresh pair. */
export async function refreshSession(deps: AuthDeps, options: { refreshToken: string; meta: RequestMeta }): Promise<IssuedSession> {
  // Every refusal is audited (HIPAA §164.312(b)); the token itself never is.
  const invalid = async (reason: string, session?: { id: string; principalId: string }) => {
    await deps.audit.record({ type: 'session.refresh', outcome: 'failure', subjectId: session?.principalId ?? null, meta: options.meta, details: { reason, ...(session ? { session_id: session.id } : {}) } });
    return new UnauthenticatedError('The refresh token is not valid.', { reason });
  };
  if (!/^csr_[A-Za-z0-9_-]{43}$/.test(options.refreshToken)) throw await invalid('malformed');
  const now = deps.clock.now();
  const use = await deps.store.useRefreshToken(hashOpaqueToken(options.refreshToken), now);
  if (use.status === 'invalid') throw await invalid('unknown or expired');
  const session = await deps.store.getSession(use.sessionId);
  if (!session) throw await invalid('no session');
  if (use.status === 'reused') {
    // A retry against a session that already ended is not a theft signal.
    if (sessionEndReason(session, now, deps.settings.idleTimeoutSeconds)) throw await invalid('reused after the session ended', session);
    await deps.store.revokeSession(session.id, now);
    await deps.audit.record({ type: 'session.refresh_reuse', outcome: 'failure', actorId: session.principalId, meta: options.meta, details: { session_id: session.id } });
    throw new UnauthenticatedError('The refresh token is not valid.', { reason: 'reused: session revoked' });
  }
  const ended = sessionEndReason(session, now, deps.settings.idleTimeoutSeconds);
  if (ended) throw await invalid(ended, session);
  const principal = await deps.catalog.getPrincipal(session.principalId);
  if (principal.status !== 'active') throw await invalid('principal disabled', session);
  await deps.store.touchSession(session.id, now);
  return mintTokenPair(deps, session);
}
