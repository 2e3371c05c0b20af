/**
 * Creates a session after authentication succeeded.
 */
import type { AuthDeps } from './deps.ts';
import { newOpaqueToken } from './opaqueToken.ts';

/** Options of {@link issueSession}. */
export interface IssueSessionOptions {
  principalId: string;
  scope: 'full' | 'enrollment';
  /** RFC 8176 authentication method references. */
  amr: string[];
}

/** The session as handed to the client. */
export interface IssuedSession {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: 'full' | 'enrollment';
  amr: string[];
  auth_time: number;
}

/** Stores a new session and returns its bearer token (shown once). */
export async function issueSession(deps: AuthDeps, options: IssueSessionOptions): Promise<IssuedSession> {
  const now = deps.clock.now();
  const ttl = deps.settings.sessionTtlSeconds;
  const { token, hash } = newOpaqueToken('cst');
  await deps.store.createSession({
    id: deps.ids(),
    principalId: options.principalId,
    tokenHash: hash,
    scope: options.scope,
    amr: options.amr,
    authTime: now,
    expiresAt: new Date(now.getTime() + ttl * 1000),
  });
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: ttl,
    scope: options.scope,
    amr: options.amr,
    auth_time: Math.floor(now.getTime() / 1000),
  };
}
