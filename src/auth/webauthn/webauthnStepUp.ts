/**
 * Step-up with WebAuthn: prove a second factor again, within a session, to
 * unlock sensitive actions for the step-up window. Roles listed in
 * `webauthnRequiredRoles` accept only this method (see stepUp.ts).
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidMfaError } from '../../errors.ts';
import type { AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from '../throttle.ts';
import { auditRefusal, ownedCredential, refused, requestOptions, takeChallenge, verifyAssertion, type AssertionInput } from './webauthn.ts';

const AUDIT_TYPE = 'auth.webauthn.step-up';

/** Options listing the caller's credentials; the challenge is bound to the caller's session. */
export async function webauthnStepUpOptions(deps: AuthDeps, auth: AuthContext, meta: RequestMeta): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const credentials = await deps.store.listWebauthnCredentials(auth.principalId);
  if (credentials.length === 0) {
    const err = refused('no WebAuthn credential');
    await auditRefusal(deps, { type: AUDIT_TYPE, err, subjectId: auth.principalId, actorId: auth.principalId, meta });
    throw err;
  }
  return requestOptions(deps, { purpose: 'step-up', principalId: auth.principalId, sessionId: auth.sessionId, mfaChallengeId: null }, credentials);
}

/** Verifies the assertion and restarts the session's step-up window with method 'webauthn'. */
export async function stepUpWithWebauthn(deps: AuthDeps, auth: AuthContext, options: { response: AssertionInput; meta: RequestMeta }): Promise<{ mfa_at: string; method: 'webauthn' }> {
  const { meta } = options;
  const keys = attemptKeys(`mfa:${auth.principalId}`, meta);
  await reserveAttempt(deps, keys, meta, auth.principalId);
  let factorId: string;
  try {
    const challenge = await takeChallenge(deps, options.response, 'step-up');
    if (challenge.principalId !== auth.principalId || challenge.sessionId !== auth.sessionId) throw refused('challenge bound to another session');
    const credential = await ownedCredential(deps, options.response.id, auth.principalId);
    await verifyAssertion(deps, { response: options.response, challenge, credential, meta });
    factorId = credential.id;
  } catch (err) {
    if (err instanceof InvalidMfaError) await auditRefusal(deps, { type: AUDIT_TYPE, err, subjectId: auth.principalId, actorId: auth.principalId, meta });
    throw err;
  }
  const now = deps.clock.now();
  await deps.store.markStepUp(auth.sessionId, now, 'webauthn');
  await attemptSucceeded(deps, keys);
  await deps.audit.record({ type: AUDIT_TYPE, outcome: 'success', actorId: auth.principalId, subjectId: auth.principalId, meta, details: { factor_id: factorId } });
  return { mfa_at: now.toISOString(), method: 'webauthn' };
}
