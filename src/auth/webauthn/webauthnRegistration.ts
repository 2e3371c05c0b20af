/**
 * Registering a WebAuthn authenticator (security key, platform
 * authenticator or passkey): options, then verification of the attestation.
 *
 * Who may register: the enrollment session of someone setting up their first
 * factor (redeeming an enrollment secret proved who they are), or a full
 * session with a recent second factor (step-up), so a stolen session alone
 * cannot add an attacker's key.
 */
import { randomBytes } from 'node:crypto';
import { generateRegistrationOptions, verifyRegistrationResponse, type PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { RequestMeta } from '../../audit/log.ts';
import { ConflictError, InvalidMfaError } from '../../errors.ts';
import type { AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';
import { issueSession, type IssuedSession } from '../sessions/issueSession.ts';
import { assertFreshMfa } from '../sessions/stepUp.ts';
import { SUPPORTED_ALGORITHMS, attestationForLibrary, auditRefusal, cleanTransports, refused, storeChallenge, takeChallenge, type AttestationInput } from './webauthn.ts';

/** Longest credential id WebAuthn allows (bytes). */
const MAX_CREDENTIAL_ID_BYTES = 1023;

/**
 * A full session needs a fresh second factor. Holders of roles that must
 * step up with WebAuthn are an exception while they have no WebAuthn
 * credential yet: a fresh TOTP proof lets them register their first one
 * (otherwise they could never get one).
 */
async function assertMayRegister(deps: AuthDeps, auth: AuthContext, meta: RequestMeta): Promise<void> {
  if (auth.scope !== 'full') return;
  const kinds = await deps.store.listFactorKinds(auth.principalId);
  if (!kinds.includes('totp') && !kinds.includes('webauthn')) return;
  await assertFreshMfa(deps, kinds.includes('webauthn') ? auth : { ...auth, orgRoles: [] }, meta, 'webauthn.register');
}

/** Options for navigator.credentials.create(); the challenge is bound to the caller's principal and session. */
export async function startWebauthnRegistration(deps: AuthDeps, auth: AuthContext, meta: RequestMeta): Promise<PublicKeyCredentialCreationOptionsJSON> {
  await assertMayRegister(deps, auth, meta);
  // The user handle is random and stable per person, never the principal id (it is stored on the authenticator).
  const userId = await deps.store.webauthnUserId(auth.principalId, randomBytes(32));
  const existing = await deps.store.listWebauthnCredentials(auth.principalId);
  const options = await generateRegistrationOptions({
    rpName: deps.settings.webauthn.rpName,
    rpID: deps.settings.webauthn.rpId,
    userName: auth.principalName,
    userDisplayName: auth.principalName,
    userID: new Uint8Array(userId),
    timeout: deps.settings.webauthn.challengeTtlSeconds * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
    // residentKey 'preferred', not 'required': every FIDO2 key works as a
    // second factor, including keys without (or with full) discoverable-
    // credential storage, which 'required' would refuse. Authenticators that
    // can, create a discoverable credential anyway, and those also work for
    // username-less passkey login. User verification is always required.
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
  await storeChallenge(deps, options.challenge, { purpose: 'register', principalId: auth.principalId, sessionId: auth.sessionId, mfaChallengeId: null });
  return options;
}

/** What registration answers: a full session for someone enrolling, otherwise the new credential. */
export type WebauthnRegistrationResult = { kind: 'session'; session: IssuedSession } | { kind: 'credential'; credential_id: string; name: string };

/**
 * Verifies the attestation against the consumed challenge and stores the
 * credential. An enrollment session ends here and a full session replaces
 * it (password + this authenticator is a complete login).
 */
export async function finishWebauthnRegistration(
  deps: AuthDeps,
  auth: AuthContext,
  options: { name: string; response: AttestationInput; meta: RequestMeta },
): Promise<WebauthnRegistrationResult> {
  const { meta } = options;
  await assertMayRegister(deps, auth, meta);
  let credentialId: string;
  try {
    const challenge = await takeChallenge(deps, options.response, 'register');
    if (challenge.principalId !== auth.principalId || challenge.sessionId !== auth.sessionId) throw refused('challenge bound to another session');
    let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      result = await verifyRegistrationResponse({
        response: attestationForLibrary(options.response),
        expectedChallenge: challenge.challenge,
        expectedOrigin: deps.settings.webauthn.origins,
        expectedRPID: deps.settings.webauthn.rpId,
        expectedType: 'webauthn.create',
        requireUserPresence: true,
        requireUserVerification: true,
        supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      });
    } catch (err) {
      throw refused('attestation not verified', err instanceof Error ? err.message : String(err));
    }
    if (!result.verified) throw refused('attestation not verified');
    const info = result.registrationInfo;
    if (info.userVerified !== true) throw refused('user not verified');
    const c = info.credential;
    if (Buffer.from(c.id, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) throw refused('credential id too long');
    // The credential and its event commit together. Under the person's lock the
    // session must still be live: a recovery that committed meanwhile wins.
    await deps.store.transaction(async (s, tx) => {
      await s.lockPerson(auth.principalId);
      if (!(await s.sessionLive(auth.sessionId, deps.clock.now()))) throw refused('session ended meanwhile');
      if (await s.getWebauthnCredential(c.id)) throw new ConflictError('This authenticator is already registered.');
      await s.addWebauthnCredential({
        id: c.id,
        principalId: auth.principalId,
        name: options.name,
        publicKey: Buffer.from(c.publicKey),
        counter: c.counter,
        transports: cleanTransports(c.transports),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
      });
      await deps.audit.recordIn(tx, {
        type: 'factor.added',
        outcome: 'success',
        actorId: auth.principalId,
        subjectId: auth.principalId,
        meta,
        details: { factor: 'webauthn', factor_id: c.id, name: options.name },
      });
    });
    credentialId = c.id;
  } catch (err) {
    if (err instanceof InvalidMfaError) await auditRefusal(deps, { type: 'factor.added', err, subjectId: auth.principalId, actorId: auth.principalId, meta, details: { factor: 'webauthn' } });
    if (err instanceof ConflictError) {
      await deps.audit.record({ type: 'factor.added', outcome: 'failure', actorId: auth.principalId, subjectId: auth.principalId, meta, details: { factor: 'webauthn', reason: 'already registered' } });
    }
    throw err;
  }
  if (auth.scope === 'enrollment') {
    await deps.store.revokeSession(auth.sessionId, deps.clock.now());
    return { kind: 'session', session: await issueSession(deps, { principalId: auth.principalId, scope: 'full', amr: ['pwd', 'hwk', 'mfa'], mfaMethod: 'webauthn' }) };
  }
  return { kind: 'credential', credential_id: credentialId, name: options.name };
}
