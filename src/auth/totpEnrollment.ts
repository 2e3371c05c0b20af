/**
 * Enrolling a TOTP authenticator: start (a new secret, sealed at rest) and
 * confirm (the first valid code proves the authenticator holds it).
 */
import type { RequestMeta } from '../audit/log.ts';
import { InvalidMfaError, NotFoundError } from '../errors.ts';
import { open, seal } from '../crypto/secretbox.ts';
import type { AuthContext } from './context.ts';
import type { AuthDeps } from './deps.ts';
import { issueSession, type IssuedSession } from './issueSession.ts';
import { createTotpSecret, totpUri, verifyTotp } from './totp.ts';

/** A pending factor as shown to the person enrolling it (the only time the secret leaves). */
export interface StartedTotpEnrollment {
  factor_id: string;
  secret: string;
  otpauth_uri: string;
}

/** Creates a pending TOTP factor with a fresh 160-bit secret. */
export async function startTotpEnrollment(deps: AuthDeps, auth: AuthContext): Promise<StartedTotpEnrollment> {
  const id = deps.ids();
  const secret = createTotpSecret();
  // The AAD binds the ciphertext to its factor: copied to another row it will not open.
  await deps.store.createTotpFactor({ id, principalId: auth.principalId, secretEnc: seal(deps.encryptionKey, Buffer.from(secret, 'utf8'), `totp:${id}`) });
  return { factor_id: id, secret, otpauth_uri: totpUri({ secret, issuer: deps.settings.totpIssuer, account: auth.principalName }) };
}

/**
 * Confirms a pending factor with a valid code, replacing any previous one.
 * Password plus this code is a complete login, so a full session is issued
 * and the enrollment session ends.
 */
export async function confirmTotpEnrollment(deps: AuthDeps, auth: AuthContext, options: { factorId: string; code: string; meta: RequestMeta }): Promise<IssuedSession> {
  const factor = await deps.store.getTotpFactor(auth.principalId, options.factorId);
  if (!factor || factor.confirmedAt) throw new NotFoundError(`Pending factor ${options.factorId}`);
  const now = deps.clock.now();
  const secret = open(deps.encryptionKey, factor.secretEnc, `totp:${factor.id}`).toString('utf8');
  const result = await verifyTotp({ secret, code: options.code, nowMs: now.getTime(), lastTimeStep: null });
  if (result.valid !== true) {
    await deps.audit.record({ type: 'factor.added', outcome: 'failure', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor: 'totp', reason: result.reason } });
    throw new InvalidMfaError({ reason: result.reason });
  }
  if (!(await deps.store.confirmTotp(auth.principalId, factor.id, result.timeStep))) throw new NotFoundError(`Pending factor ${options.factorId}`);
  await deps.audit.record({ type: 'factor.added', outcome: 'success', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor: 'totp', factor_id: factor.id } });
  await deps.store.revokeSession(auth.sessionId, now);
  return issueSession(deps, { principalId: auth.principalId, scope: 'full', amr: ['pwd', 'otp', 'mfa'], mfaMethod: 'totp' });
}
