/**
 * Username-less login with a passkey (a discoverable WebAuthn credential):
 * the authenticator says whose credential it is (the user handle), and one
 * ceremony with user verification replaces password + second factor.
 *
 * Why this is multi-factor (amr ['hwk', 'mfa']): the assertion proves
 * possession of a private key held by the authenticator ('hwk'), and user
 * verification is required and checked (the UV flag), meaning the
 * authenticator itself checked a PIN (knowledge) or biometric (inherence)
 * before signing. Possession plus knowledge/inherence is two factors in one
 * gesture — NIST SP 800-63B's multi-factor cryptographic authenticator.
 * Without UV the assertion would be one factor, so it is refused.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidMfaError } from '../../errors.ts';
import type { AuthDeps } from '../deps.ts';
import { issueSession, type IssuedSession } from '../sessions/issueSession.ts';
import { attemptSucceeded, reserveAttempt, type AttemptKeys } from '../throttle.ts';
import { assertActivePerson, auditRefusal, refused, requestOptions, takeChallenge, verifyAssertion, type AssertionInput } from './webauthn.ts';

const AUDIT_TYPE = 'auth.passkey.login';

/** Options without allowCredentials (the authenticator offers its discoverable credentials); the challenge is unbound. */
export async function passkeyLoginOptions(deps: AuthDeps): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return requestOptions(deps, { purpose: 'passkey', principalId: null, sessionId: null, mfaChallengeId: null }, undefined);
}

/**
 * Verifies a passkey assertion and issues a full session. The credential is
 * found by its id; the user handle the authenticator returned must be that
 * credential owner's; the owner must be an active person. Throttled per
 * source address, and per credential id (there is no account name yet).
 */
export async function completePasskeyLogin(deps: AuthDeps, options: { response: AssertionInput; meta: RequestMeta }): Promise<IssuedSession> {
  const { meta, response } = options;
  const keys: AttemptKeys = { account: `passkey:${response.id}`, source: meta.ip ? `src:${meta.ip}` : undefined };
  await reserveAttempt(deps, keys, meta);
  let principalId: string | null = null;
  let factorId: string;
  try {
    const challenge = await takeChallenge(deps, response, 'passkey');
    const credential = await deps.store.getWebauthnCredential(response.id);
    if (!credential) throw refused('unknown credential');
    principalId = credential.principalId;
    const handle = response.response.userHandle;
    if (!handle) throw refused('no user handle (not a discoverable credential)');
    const owner = await deps.store.principalByWebauthnUserId(Buffer.from(handle, 'base64url'));
    if (owner !== credential.principalId) throw refused('user handle does not match the credential');
    await assertActivePerson(deps, credential.principalId);
    await verifyAssertion(deps, { response, challenge, credential, meta });
    factorId = credential.id;
  } catch (err) {
    if (err instanceof InvalidMfaError) await auditRefusal(deps, { type: AUDIT_TYPE, err, subjectId: principalId, meta });
    throw err;
  }
  await attemptSucceeded(deps, keys);
  await deps.audit.record({ type: AUDIT_TYPE, outcome: 'success', actorId: principalId, subjectId: principalId, meta, details: { factor_id: factorId } });
  return issueSession(deps, { principalId, scope: 'full', amr: ['hwk', 'mfa'], mfaMethod: 'webauthn' });
}
