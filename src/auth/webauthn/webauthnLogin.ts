/**
 * Step two of a person's login with WebAuthn instead of TOTP: options for
 * the MFA challenge the password step issued, then the assertion.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidMfaError } from '../../errors.ts';
import { MAX_CHALLENGE_FAILURES, type AuthDeps } from '../deps.ts';
import { issueSession, type IssuedSession } from '../sessions/issueSession.ts';
import { hashOpaqueToken } from '../opaqueToken.ts';
import { deadChallenge } from '../refusals.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from '../throttle.ts';
import { assertActivePerson, auditRefusal, ownedCredential, refused, requestOptions, takeChallenge, verifyAssertion, type AssertionInput } from './webauthn.ts';

const AUDIT_TYPE = 'auth.webauthn.login';

async function liveMfaChallenge(deps: AuthDeps, mfaToken: string, meta: RequestMeta): Promise<{ id: string; principalId: string }> {
  const challenge = await deps.store.findMfaChallenge(hashOpaqueToken(mfaToken), deps.clock.now(), MAX_CHALLENGE_FAILURES);
  if (!challenge) throw await deadChallenge(deps, { type: AUDIT_TYPE, mfaToken, meta, reason: 'unknown, expired or used login challenge' });
  return challenge;
}

/** Options listing the person's credentials; the WebAuthn challenge is bound to the person and this MFA challenge. */
export async function webauthnLoginOptions(deps: AuthDeps, options: { mfaToken: string; meta: RequestMeta }): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const mfa = await liveMfaChallenge(deps, options.mfaToken, options.meta);
  const credentials = await deps.store.listWebauthnCredentials(mfa.principalId);
  if (credentials.length === 0) {
    const err = refused('no WebAuthn credential');
    await auditRefusal(deps, { type: AUDIT_TYPE, err, subjectId: mfa.principalId, meta: options.meta });
    throw err;
  }
  return requestOptions(deps, { purpose: 'second-factor', principalId: mfa.principalId, sessionId: null, mfaChallengeId: mfa.id }, credentials);
}

/**
 * Verifies the assertion (throttled per account and source, challenge
 * single-use and bound to this login, credential owned by this person,
 * counter enforced) and issues a full session.
 */
export async function completeWebauthnLogin(deps: AuthDeps, options: { mfaToken: string; response: AssertionInput; meta: RequestMeta }): Promise<IssuedSession> {
  const { meta } = options;
  const mfa = await liveMfaChallenge(deps, options.mfaToken, meta);
  const keys = attemptKeys(`mfa:${mfa.principalId}`, meta);
  await reserveAttempt(deps, keys, meta, mfa.principalId);
  let factorId: string;
  try {
    const challenge = await takeChallenge(deps, options.response, 'second-factor');
    if (challenge.principalId !== mfa.principalId || challenge.mfaChallengeId !== mfa.id) throw refused('challenge bound to another login');
    const credential = await ownedCredential(deps, options.response.id, mfa.principalId);
    await assertActivePerson(deps, mfa.principalId);
    await verifyAssertion(deps, { response: options.response, challenge, credential, meta });
    if (!(await deps.store.consumeMfaChallenge(mfa.id))) throw refused('login challenge consumed concurrently');
    factorId = credential.id;
  } catch (err) {
    if (err instanceof InvalidMfaError) {
      await deps.store.recordMfaFailure(mfa.id);
      await auditRefusal(deps, { type: AUDIT_TYPE, err, subjectId: mfa.principalId, meta });
    }
    throw err;
  }
  await attemptSucceeded(deps, keys);
  await deps.audit.record({ type: AUDIT_TYPE, outcome: 'success', actorId: mfa.principalId, subjectId: mfa.principalId, meta, details: { factor_id: factorId } });
  return issueSession(deps, { principalId: mfa.principalId, scope: 'full', amr: ['pwd', 'hwk', 'mfa'], mfaMethod: 'webauthn' });
}
