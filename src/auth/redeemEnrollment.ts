/**
 * Redeeming a one-time enrollment secret: the person sets a password and
 * gets a session that may only enroll a second factor.
 *
 * Redeeming kills every other secret of the person (other enrollment
 * secrets, sessions and their refresh tokens, pending login and WebAuthn
 * challenges). When the person already had factors, redeeming is a
 * *recovery*: their WebAuthn credentials, TOTP factor and recovery codes are
 * removed too, so nothing of the old owner (or of whoever stole from them)
 * works afterwards. A recovery is audited (`auth.recovery`, with the removed
 * factors' ids and counts, never secrets) and announced on the webhook
 * (`person.recovered`), all in the transaction that makes the change
 * (HIPAA §164.312(b) audit controls, §164.312(d) person authentication).
 */
import type { RequestMeta } from '../audit/log.ts';
import { InvalidCredentialsError, ValidationError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';
import { issueSession, type IssuedSession } from './sessions/issueSession.ts';
import { hashOpaqueToken } from './opaqueToken.ts';
import { checkPasswordPolicy, hashPassword } from './password.ts';
import type { RemovedFactors } from './store.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from './throttle.ts';

/** The webhook event a recovery sends. */
export const RECOVERY_EVENT = 'person.recovered';

/** Options of {@link redeemEnrollment}. */
export interface RedeemEnrollmentOptions {
  username: string;
  secret: string;
  password: string;
  meta: RequestMeta;
}

/** Whether redeeming removed any factor the person had proven (then it is a recovery). */
function isRecovery(r: RemovedFactors): boolean {
  return r.webauthn.length + r.totp.length + r.recoveryCodes > 0;
}

/**
 * Spends the secret, sets the password, revokes the person's other secrets
 * and (on recovery) removes their factors, then returns a restricted session
 * that can only enroll a second factor. The password policy is checked
 * first, so a weak password does not burn the secret.
 */
export async function redeemEnrollment(deps: AuthDeps, options: RedeemEnrollmentOptions): Promise<IssuedSession> {
  const username = options.username.toLowerCase();
  const refuse = (reason: string, subjectId: string | null) =>
    deps.audit.record({ type: 'auth.enrollment', outcome: 'failure', subjectId, meta: options.meta, details: { username, reason } });
  try {
    checkPasswordPolicy({ password: options.password, username });
  } catch (err) {
    if (err instanceof ValidationError) await refuse('password refused by policy', null);
    throw err;
  }
  const keys = attemptKeys(`enr:${username}`, options.meta);
  await reserveAttempt(deps, keys, options.meta);
  const principal = await deps.catalog.findPrincipalByName(username);
  const fail = async (reason: string) => {
    await refuse(reason, principal?.id ?? null);
    return new InvalidCredentialsError({ username, reason });
  };
  if (!principal || principal.kind !== 'user' || principal.status !== 'active') throw await fail('no such person');
  const secretHash = hashOpaqueToken(options.secret);
  const now = deps.clock.now();
  const done = await deps.store.transaction(async (s, tx) => {
    await s.lockPerson(principal.id);
    if (!(await s.consumeEnrollment(principal.id, secretHash, now))) return false;
    await s.setPassword(principal.id, await hashPassword(options.password));
    const revoked = {
      enrollment_ids: await s.revokeEnrollments(principal.id, now, 'enrolled'),
      // Whoever held the old credentials loses their sessions, and logins they had half done.
      sessions: await s.revokeAllSessions(principal.id, now),
      pending_logins: await s.revokeMfaChallenges(principal.id, now),
      pending_webauthn: await s.revokeWebauthnChallenges(principal.id, now),
    };
    const removed = await s.removeAllFactors(principal.id);
    const recovery = isRecovery(removed);
    await deps.audit.recordIn(tx, {
      type: 'auth.enrollment',
      outcome: 'success',
      actorId: principal.id,
      subjectId: principal.id,
      meta: options.meta,
      details: { recovery, revoked },
    });
    if (recovery) {
      const counts = { webauthn: removed.webauthn.length, authenticator_app: removed.totp.length, recovery: removed.recoveryCodes, unconfirmed_authenticator_app: removed.pendingTotp };
      await deps.audit.recordIn(tx, {
        type: 'auth.recovery',
        outcome: 'success',
        actorId: principal.id,
        subjectId: principal.id,
        meta: options.meta,
        details: { removed: counts, webauthn_ids: removed.webauthn, authenticator_app_ids: removed.totp },
      });
      await s.queueNotification({
        id: deps.ids(),
        event: RECOVERY_EVENT,
        at: now,
        data: { principal_id: principal.id, username, removed: counts, webauthn_ids: removed.webauthn, authenticator_app_ids: removed.totp, sessions_revoked: revoked.sessions },
      });
    }
    return true;
  });
  if (!done) throw await fail(`enrollment secret ${await deps.store.enrollmentState(principal.id, secretHash, now)}`);
  await attemptSucceeded(deps, keys);
  return issueSession(deps, { principalId: principal.id, scope: 'enrollment', amr: ['pwd'], mfaMethod: null });
}
