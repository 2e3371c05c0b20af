/**
 * One-time enrollment secrets: how a new person (or one who lost their
 * factor) sets a password and a second factor. An administrator or the
 * bootstrap issues one; it works once, before it expires.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { Tx } from '../db/client.ts';
import { InvalidCredentialsError, ValidationError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';
import { issueSession, type IssuedSession } from './issueSession.ts';
import { hashOpaqueToken, newOpaqueToken } from './opaqueToken.ts';
import { checkPasswordPolicy, hashPassword } from './password.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from './throttle.ts';

/** A freshly issued enrollment secret (shown once). */
export interface IssuedEnrollment {
  secret: string;
  expires_at: string;
}

/** Issues a one-time enrollment secret for a person (inside `tx` when given: it commits with the caller's change and event). */
export async function issueEnrollment(deps: AuthDeps, options: { principalId: string; tx?: Tx }): Promise<IssuedEnrollment> {
  const catalog = options.tx ? deps.catalog.withTx(options.tx) : deps.catalog;
  const store = options.tx ? deps.store.withTx(options.tx) : deps.store;
  const principal = await catalog.getPrincipal(options.principalId);
  if (principal.kind !== 'user') {
    throw new ValidationError('Only people enroll; services use client credentials.', [{ path: 'params.id', message: 'not a user' }]);
  }
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + deps.settings.enrollmentTtlSeconds * 1000);
  const { token, hash } = newOpaqueToken('cen');
  await store.createEnrollment({ id: deps.ids(), principalId: principal.id, secretHash: hash, expiresAt });
  return { secret: token, expires_at: expiresAt.toISOString() };
}

/** Options of {@link redeemEnrollment}. */
export interface RedeemEnrollmentOptions {
  username: string;
  secret: string;
  password: string;
  meta: RequestMeta;
}

/**
 * Spends the secret, sets the password, and returns a restricted session that
 * can only enroll a second factor. The policy check runs first, so a weak
 * password does not burn the secret.
 */
export async function redeemEnrollment(deps: AuthDeps, options: RedeemEnrollmentOptions): Promise<IssuedSession> {
  const username = options.username.toLowerCase();
  checkPasswordPolicy({ password: options.password, username });
  const keys = attemptKeys(`enr:${username}`, options.meta);
  await reserveAttempt(deps, keys, options.meta);
  const principal = await deps.catalog.findPrincipalByName(username);
  const fail = async (reason: string) => {
    await deps.audit.record({ type: 'auth.enrollment', outcome: 'failure', subjectId: principal?.id ?? null, meta: options.meta, details: { username, reason } });
    return new InvalidCredentialsError({ username, reason });
  };
  if (!principal || principal.kind !== 'user' || principal.status !== 'active') throw await fail('no such person');
  if (!(await deps.store.consumeEnrollment(principal.id, hashOpaqueToken(options.secret), deps.clock.now()))) {
    throw await fail('enrollment secret unknown, used or expired');
  }
  await attemptSucceeded(deps, keys);
  await deps.store.setPassword(principal.id, await hashPassword(options.password));
  // A re-issued enrollment is a recovery: whoever held the old credentials loses their sessions.
  await deps.store.revokeAllSessions(principal.id, deps.clock.now());
  await deps.audit.record({ type: 'auth.enrollment', outcome: 'success', actorId: principal.id, subjectId: principal.id, meta: options.meta });
  return issueSession(deps, { principalId: principal.id, scope: 'enrollment', amr: ['pwd'], mfaMethod: null });
}
