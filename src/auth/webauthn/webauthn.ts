/**
 * WebAuthn (FIDO2) building blocks shared by registration, second-factor
 * login, passkey login and step-up (webauthnRegistration.ts,
 * webauthnLogin.ts, webauthnPasskey.ts, webauthnStepUp.ts).
 *
 * Rules every flow follows:
 * - A challenge is 32 random bytes, stored with its purpose and what it is
 *   bound to (principal, session, MFA challenge), expires after
 *   `settings.webauthn.challengeTtlSeconds`, and is consumed atomically,
 *   exactly once, BEFORE the response is verified: a replayed or raced
 *   response finds it spent. The challenge is found through the response's
 *   own clientDataJSON; the library then checks the two are equal.
 * - User verification is required at every ceremony.
 * - Origins and RP id come from configuration only.
 * - The library's error messages echo expected values (challenge, origins):
 *   they go into `detail` (logs) and never to a client or an audit record.
 *   Every refusal is the generic InvalidMfaError.
 * - The sign counter is enforced here, atomically in the store (the library
 *   is given counter 0 so it never decides): a non-zero counter that does not
 *   increase is refused and audited as `webauthn.counter_anomaly`; synced
 *   passkeys that always report 0 are accepted.
 */
import { generateAuthenticationOptions, verifyAuthenticationResponse, type AuthenticationResponseJSON, type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON } from '@simplewebauthn/server';
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidMfaError } from '../../errors.ts';
import type { AuthDeps } from '../deps.ts';
import type { WebauthnChallengeRow, WebauthnCredentialRow } from '../store.ts';

/**
 * COSE algorithms accepted for new credentials: EdDSA, ES256, RS256. Named
 * explicitly so options and verification agree and the list does not grow
 * with the runtime (the library adds ML-DSA where supported).
 */
export const SUPPORTED_ALGORITHMS = [-8, -7, -257];

/** Transports worth remembering (hints for allow/excludeCredentials). */
const KNOWN_TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** A registration response (navigator.credentials.create(), as JSON), validated by the route. */
export interface AttestationInput {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports?: string[] | undefined };
}

/** An authentication response (navigator.credentials.get(), as JSON), validated by the route. */
export interface AssertionInput {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string | undefined };
}

/**
 * A refusal. `reason` is ours and safe to audit; `libraryMessage` may echo
 * expected values and is kept for logs only (the error's detail).
 */
export function refused(reason: string, libraryMessage?: string, extra?: Record<string, unknown>): InvalidMfaError {
  return new InvalidMfaError({ reason, ...(libraryMessage ? { library: libraryMessage } : {}), ...extra });
}

/** The audit-safe reason of a refusal. */
export function reasonOf(err: InvalidMfaError): string {
  const r = (err.detail as { reason?: unknown } | undefined)?.reason;
  return typeof r === 'string' ? r : 'refused';
}

/** Only the transports we know, at most a handful. */
export function cleanTransports(t: readonly string[] | undefined): string[] {
  return [...new Set((t ?? []).filter((x) => KNOWN_TRANSPORTS.has(x)))].slice(0, 8);
}

/** The registration response exactly as the library needs it (nothing unvalidated passes through). */
export function attestationForLibrary(r: AttestationInput): RegistrationResponseJSON {
  return {
    id: r.id,
    rawId: r.rawId,
    type: 'public-key',
    response: { clientDataJSON: r.response.clientDataJSON, attestationObject: r.response.attestationObject, transports: cleanTransports(r.response.transports) },
    clientExtensionResults: {},
  };
}

function assertionForLibrary(r: AssertionInput): AuthenticationResponseJSON {
  return {
    id: r.id,
    rawId: r.rawId,
    type: 'public-key',
    response: {
      clientDataJSON: r.response.clientDataJSON,
      authenticatorData: r.response.authenticatorData,
      signature: r.response.signature,
      ...(r.response.userHandle ? { userHandle: r.response.userHandle } : {}),
    },
    clientExtensionResults: {},
  };
}

/** The challenge a response claims to answer (from its clientDataJSON), or a refusal. */
export function challengeOf(r: { response: { clientDataJSON: string } }): string {
  let challenge: unknown;
  try {
    challenge = (JSON.parse(Buffer.from(r.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge;
  } catch {
    throw refused('malformed client data');
  }
  // Ours are 32 bytes: 43 base64url characters.
  if (typeof challenge !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw refused('malformed client data');
  return challenge;
}

/** Stores a freshly generated challenge with its purpose and binding. */
export async function storeChallenge(deps: AuthDeps, challenge: string, binding: Omit<WebauthnChallengeRow, 'challenge'>): Promise<void> {
  const expiresAt = new Date(deps.clock.now().getTime() + deps.settings.webauthn.challengeTtlSeconds * 1000);
  await deps.store.createWebauthnChallenge({ challenge, ...binding, expiresAt });
}

/** Consumes (once, atomically) the challenge a response answers; refuses unknown, expired, used or other-purpose ones. */
export async function takeChallenge(deps: AuthDeps, r: { response: { clientDataJSON: string } }, purpose: WebauthnChallengeRow['purpose']): Promise<WebauthnChallengeRow> {
  const row = await deps.store.consumeWebauthnChallenge(challengeOf(r), purpose, deps.clock.now());
  if (!row) throw refused('unknown, expired or used challenge');
  return row;
}

/** Options for navigator.credentials.get(), with the challenge stored. */
export async function requestOptions(
  deps: AuthDeps,
  binding: Omit<WebauthnChallengeRow, 'challenge'>,
  allow: WebauthnCredentialRow[] | undefined,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({
    rpID: deps.settings.webauthn.rpId,
    userVerification: 'required',
    timeout: deps.settings.webauthn.challengeTtlSeconds * 1000,
    ...(allow ? { allowCredentials: allow.map((c) => ({ id: c.id, transports: c.transports })) } : {}),
  });
  await storeChallenge(deps, options.challenge, binding);
  return options;
}

/** The credential of the response if it belongs to this person; another person's is refused like an unknown one. */
export async function ownedCredential(deps: AuthDeps, credentialId: string, principalId: string): Promise<WebauthnCredentialRow> {
  const c = await deps.store.getWebauthnCredential(credentialId);
  if (!c || c.principalId !== principalId) throw refused('credential not registered to this person');
  return c;
}

/** Refuses unless the principal is an active person. */
export async function assertActivePerson(deps: AuthDeps, principalId: string): Promise<void> {
  const p = await deps.catalog.getPrincipal(principalId).catch(() => undefined);
  if (!p || p.kind !== 'user' || p.status !== 'active') throw refused('not an active person');
}

/**
 * Verifies an assertion against a consumed challenge and a stored
 * credential (origin, RP id, type, user presence and verification,
 * signature), then advances the sign counter atomically.
 */
export async function verifyAssertion(
  deps: AuthDeps,
  o: { response: AssertionInput; challenge: WebauthnChallengeRow; credential: WebauthnCredentialRow; meta: RequestMeta },
): Promise<void> {
  const { credential } = o;
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response: assertionForLibrary(o.response),
      expectedChallenge: o.challenge.challenge,
      expectedOrigin: deps.settings.webauthn.origins,
      expectedRPID: deps.settings.webauthn.rpId,
      expectedType: 'webauthn.get',
      // Counter 0: the library never judges the counter; advanceWebauthnCounter below does, atomically.
      credential: { id: credential.id, publicKey: new Uint8Array(credential.publicKey), counter: 0, transports: credential.transports },
      requireUserVerification: true,
    });
  } catch (err) {
    throw refused('assertion not verified', err instanceof Error ? err.message : String(err), { factor_id: credential.id });
  }
  if (result.verified !== true) throw refused('assertion not verified', undefined, { factor_id: credential.id });
  if (result.authenticationInfo.userVerified !== true) throw refused('user not verified', undefined, { factor_id: credential.id });
  const reported = result.authenticationInfo.newCounter;
  if (!(await deps.store.advanceWebauthnCounter(credential.id, reported, deps.clock.now()))) {
    // WebAuthn §6.1.1: a counter that does not increase suggests a cloned authenticator.
    await deps.audit.record({
      type: 'webauthn.counter_anomaly',
      outcome: 'failure',
      subjectId: credential.principalId,
      meta: o.meta,
      details: { factor_id: credential.id, stored_counter: credential.counter, reported_counter: reported },
    });
    throw refused('sign counter did not increase', undefined, { factor_id: credential.id });
  }
}

/** Records a refused WebAuthn attempt: our reason only, never response content. */
export async function auditRefusal(
  deps: AuthDeps,
  o: { type: string; err: InvalidMfaError; subjectId: string | null; actorId?: string; meta: RequestMeta; details?: Record<string, unknown> },
): Promise<void> {
  const factorId = (o.err.detail as { factor_id?: unknown } | undefined)?.factor_id;
  await deps.audit.record({
    type: o.type,
    outcome: 'failure',
    actorId: o.actorId ?? null,
    subjectId: o.subjectId,
    meta: o.meta,
    details: { ...o.details, reason: reasonOf(o.err), ...(typeof factorId === 'string' ? { factor_id: factorId } : {}) },
  });
}
