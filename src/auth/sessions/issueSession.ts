/**
 * Creates a session (one login: a family of tokens) after authentication
 * succeeded, and mints access + refresh token pairs for it.
 */
import { InvalidCredentialsError } from '../../errors.ts';
import type { AuthDeps } from '../deps.ts';
import { newOpaqueToken } from '../opaqueToken.ts';
import type { SessionRow } from '../store.ts';

/** Options of {@link issueSession}. */
export interface IssueSessionOptions {
  principalId: string;
  scope: 'full' | 'enrollment';
  /** RFC 8176 authentication method references. */
  amr: string[];
  /** The second factor just proven, if any (starts the step-up window). */
  mfaMethod: SessionRow['mfaMethod'];
}

/** The session as handed to the client (tokens shown once). */
export interface IssuedSession {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  scope: 'full' | 'enrollment';
  amr: string[];
  auth_time: number;
}

/** Mints a fresh access/refresh pair for an existing session. */
export async function mintTokenPair(deps: AuthDeps, session: Pick<SessionRow, 'id' | 'scope' | 'amr' | 'authTime' | 'expiresAt'>): Promise<IssuedSession> {
  const now = deps.clock.now();
  const accessTtl = deps.settings.sessionTtlSeconds;
  const access = newOpaqueToken('cst');
  const refresh = newOpaqueToken('csr');
  const accessExpires = new Date(Math.min(now.getTime() + accessTtl * 1000, session.expiresAt.getTime()));
  await deps.store.addSessionToken({ tokenHash: access.hash, sessionId: session.id, kind: 'access', expiresAt: accessExpires });
  await deps.store.addSessionToken({ tokenHash: refresh.hash, sessionId: session.id, kind: 'refresh', expiresAt: session.expiresAt });
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: Math.max(0, Math.floor((accessExpires.getTime() - now.getTime()) / 1000)),
    refresh_token: refresh.token,
    refresh_expires_in: Math.max(0, Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000)),
    scope: session.scope,
    amr: session.amr,
    auth_time: Math.floor(session.authTime.getTime() / 1000),
  };
}

/** Stores a new session and returns its first token pair. */
export async function issueSession(deps: AuthDeps, options: IssueSessionOptions): Promise<IssuedSession> {
  // The one place every login path passes: a person disabled between the
  // first and second factor gets nothing (and nothing to revive later).
  const principal = await deps.catalog.getPrincipal(options.principalId);
  if (principal.status !== 'active' || principal.kind !== 'user') {
    await deps.audit.record({ type: 'auth.session', outcome: 'failure', subjectId: principal.id, details: { reason: 'principal not active' } });
    throw new InvalidCredentialsError({ reason: 'principal not active', principalId: principal.id });
  }
  const now = deps.clock.now();
  const session = {
    id: deps.ids(),
    principalId: options.principalId,
    scope: options.scope,
    amr: options.amr,
    authTime: now,
    mfaAt: options.mfaMethod ? now : null,
    mfaMethod: options.mfaMethod,
    // An enrollment session lives no longer than one access token.
    expiresAt: new Date(now.getTime() + (options.scope === 'full' ? deps.settings.sessionMaxSeconds : deps.settings.sessionTtlSeconds) * 1000),
  };
  await deps.store.createSession(session);
  return mintTokenPair(deps, session);
}
