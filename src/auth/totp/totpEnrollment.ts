/**
 * Enrolling a TOTP authenticator: start (a new secret, sealed at rest) and
 * confirm (the first valid code proves the authenticator holds it).
 */
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidMfaError, NotFoundError } from '../../errors.ts';
import { open, seal } from '../../crypto/secretbox.ts';
import type { AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';
import { assertFreshMfa } from '../sessions/stepUp.ts';
import { issueSession, type IssuedSession } from '../sessions/issueSession.ts';
import { createTotpSecret, totpUri, verifyTotp } from './totp.ts';

/** A pending factor as shown to the person enrolling it (the only time the secret leaves). */
export interface StartedTotpEnrollment {
  factor_id: string;
  secret: string;
  otpauth_uri: string;
}

/**
 * Replacing or adding a factor from a full session is a sensitive action: it
 * needs a fresh second factor (an enrollment session is setting up the first).
 */
async function assertMayEnroll(deps: AuthDeps, auth: AuthContext, meta: RequestMeta): Promise<void> {
  if (auth.scope === 'full') await assertFreshMfa(deps, auth, meta, 'totp.enroll');
}

/** Creates a pending TOTP factor with a fresh 160-bit secret. */
export async function startTotpEnrollment(deps: AuthDeps, auth: AuthContext, meta: RequestMeta): Promise<StartedTotpEnrollment> {
  await assertMayEnroll(deps, auth, meta);
  const id = deps.ids();
  const secret = createTotpSecret();
  // The AAD binds the ciphertext to its factor: copied to another row it will not open.
  await deps.store.createTotpFactor({ id, principalId: auth.principalId, secretEnc: seal(deps.encryptionKey, Buffer.from(secret, 'utf8'), `totp:${id}`) });
  return { factor_id: id, secret, otpauth_uri: totpUri({ secret, issuer: deps.settings.totpIssuer, account: auth.principalName }) };
}

/** What confirming a factor from a full session returns (the session stays as it is). */
export interface ConfirmedFactor {
  factor_id: string;
  confirmed: true;
}

/**
 * Confirms a pending factor with a valid code, replacing any previous one.
 * From an enrollment session, password plus this code is a complete login, so
 * a full session is issued and the enrollment session ends. From a full
 * session (replacing a factor, after step-up) the session is left as it was:
 * enrolling a factor must never refresh a session's age or MFA time.
 */
export async function confirmTotpEnrollment(
  deps: AuthDeps,
  auth: AuthContext,
  options: { factorId: string; code: string; meta: RequestMeta },
): Promise<IssuedSession | ConfirmedFactor> {
  await assertMayEnroll(deps, auth, options.meta);
  const factor = await deps.store.getTotpFactor(auth.principalId, options.factorId);
  if (!factor || factor.confirmedAt) throw new NotFoundError(`Pending factor ${options.factorId}`);
  const now = deps.clock.now();
  const secret = open(deps.encryptionKey, factor.secretEnc, `totp:${factor.id}`).toString('utf8');
  const result = await verifyTotp({ secret, code: options.code, nowMs: now.getTime(), lastTimeStep: null });
  if (result.valid !== true) {
    await deps.audit.record({ type: 'factor.added', outcome: 'failure', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor: 'totp', reason: result.reason } });
    throw new InvalidMfaError({ reason: result.reason });
  }
  // The factor and its events commit together. Under the person's lock the
  // session must still be live: a recovery that committed meanwhile wins.
  const confirmed = await deps.store.transaction(async (s, tx) => {
    await s.lockPerson(auth.principalId);
    if (!(await s.sessionLive(auth.sessionId, now))) return false;
    const replaced = await s.getConfirmedTotp(auth.principalId);
    if (!(await s.confirmTotp(auth.principalId, factor.id, result.timeStep))) return false;
    if (replaced) {
      await deps.audit.recordIn(tx, { type: 'factor.removed', outcome: 'success', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor: 'totp', factor_id: replaced.id, reason: 'replaced' } });
    }
    await deps.audit.recordIn(tx, { type: 'factor.added', outcome: 'success', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor: 'totp', factor_id: factor.id } });
    return true;
  });
  if (!confirmed) throw new NotFoundError(`Pending factor ${options.factorId}`);
  if (auth.scope === 'full') return { factor_id: factor.id, confirmed: true };
  await deps.store.revokeSession(auth.sessionId, now);
  return issueSession(deps, { principalId: auth.principalId, scope: 'full', amr: ['pwd', 'otp', 'mfa'], mfaMethod: 'totp' });
}
