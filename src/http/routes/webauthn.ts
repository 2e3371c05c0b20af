/**
 * WebAuthn: registering authenticators, WebAuthn as the second step of a
 * login, username-less passkey login, and step-up. Every refusal is a
 * generic 401 `invalid_mfa`; nothing the library says reaches the client.
 */
import { z } from 'zod';
import { completeWebauthnLogin, webauthnLoginOptions } from '../../auth/webauthn/webauthnLogin.ts';
import { completePasskeyLogin, passkeyLoginOptions } from '../../auth/webauthn/webauthnPasskey.ts';
import { finishWebauthnRegistration, startWebauthnRegistration } from '../../auth/webauthn/webauthnRegistration.ts';
import { stepUpWithWebauthn, webauthnStepUpOptions } from '../../auth/webauthn/webauthnStepUp.ts';
import type { AppDeps } from '../deps.ts';
import { must, Session } from './shared.ts';
import { RateLimitedError } from '../../errors.ts';
import { defineRoute, storableText, type AnyRoute } from '../route.ts';


/** base64url text of bounded length. */
const B64u = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'base64url');
/** A credential id: at most 1023 bytes (WebAuthn §5.1), 1364 base64url characters. */
const CredentialId = B64u(1364);
/** Optional in the JSON; browsers may send null. */
const nullishAs = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);

// The response objects are validated field by field but otherwise passed
// through (browsers add members over time); only the validated fields are
// handed to the verifier.
const RegistrationResponse = z
  .looseObject({
    id: CredentialId,
    rawId: CredentialId,
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: B64u(4096),
      attestationObject: B64u(48_000),
      transports: nullishAs(z.array(z.string().max(32)).max(16)),
    }),
    authenticatorAttachment: z.string().max(32).nullish(),
    clientExtensionResults: z.looseObject({}).optional(),
  })
  .describe('RegistrationResponseJSON (PublicKeyCredential.toJSON() of navigator.credentials.create())');

const AuthenticationResponse = z
  .looseObject({
    id: CredentialId,
    rawId: CredentialId,
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: B64u(4096),
      authenticatorData: B64u(4096),
      signature: B64u(2048),
      userHandle: nullishAs(B64u(128)),
    }),
    authenticatorAttachment: z.string().max(32).nullish(),
    clientExtensionResults: z.looseObject({}).optional(),
  })
  .describe('AuthenticationResponseJSON (PublicKeyCredential.toJSON() of navigator.credentials.get())');

const CreationOptions = z.looseObject({ challenge: z.string(), rp: z.looseObject({}), user: z.looseObject({}) }).describe('PublicKeyCredentialCreationOptionsJSON');
const RequestOptions = z.looseObject({ challenge: z.string(), rpId: z.string().optional() }).describe('PublicKeyCredentialRequestOptionsJSON');
const MfaToken = z.string().min(1).max(200);
const StepUp = z.object({ mfa_at: z.string(), method: z.literal('webauthn') });


/** WebAuthn routes. */
export function webauthnRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/me/webauthn/registration/options',
      summary: 'Start registering a WebAuthn authenticator: options for navigator.credentials.create()',
      tag: 'me',
      // An enrollment session (first factor), or a full session with a recent second factor.
      auth: { kind: 'enrollment' },
      responses: { 200: { description: 'Creation options (single-use challenge)', schema: CreationOptions }, 401: { description: 'step_up_required' } },
      handler: async ({ auth, meta }) => ({ body: await startWebauthnRegistration(deps.auth, must(auth), meta) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/me/webauthn/registration/verify',
      summary: 'Finish registering: an enrollment session gets a full session, a full session the new credential',
      tag: 'me',
      auth: { kind: 'enrollment' },
      body: z.strictObject({ name: storableText(100).trim().min(1), response: RegistrationResponse }),
      responses: {
        200: { description: 'Registered while enrolling; full session', schema: Session },
        201: { description: 'Registered', schema: z.object({ credential_id: z.string(), name: z.string() }) },
        401: { description: 'invalid_mfa or step_up_required' },
        409: { description: 'The authenticator is already registered' },
      },
      handler: async ({ auth, body, meta }) => {
        const r = await finishWebauthnRegistration(deps.auth, must(auth), { name: body.name, response: body.response, meta });
        return r.kind === 'session' ? { body: r.session } : { status: 201, body: { credential_id: r.credential_id, name: r.name } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/webauthn/options',
      summary: 'WebAuthn step of a login: options for navigator.credentials.get()',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ mfa_token: MfaToken }),
      responses: { 200: { description: 'Request options (single-use challenge)', schema: RequestOptions }, 401: { description: 'invalid_mfa' } },
      handler: async ({ body, meta }) => ({ body: await webauthnLoginOptions(deps.auth, { mfaToken: body.mfa_token, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/webauthn/verify',
      summary: 'WebAuthn step of a login; answers with a session',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ mfa_token: MfaToken, response: AuthenticationResponse }),
      responses: { 200: { description: 'Session', schema: Session }, 401: { description: 'invalid_mfa' }, 429: { description: 'rate_limited' } },
      handler: async ({ body, meta }) => ({ body: await completeWebauthnLogin(deps.auth, { mfaToken: body.mfa_token, response: body.response, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/passkey/options',
      summary: 'Username-less passkey login: options for navigator.credentials.get()',
      tag: 'auth',
      auth: { kind: 'public' },
      responses: { 200: { description: 'Request options (single-use challenge, no allowCredentials)', schema: RequestOptions }, 429: { description: 'rate_limited' } },
      handler: async ({ meta }) => {
        // Anonymous and it stores a challenge: bounded per source address (ten times the failure budget).
        if (meta.ip) {
          const limits = { ...deps.auth.settings.throttle.source, budget: deps.auth.settings.throttle.source.budget * 10 };
          const r = await deps.auth.store.reserveAttempt(`pkopt:${meta.ip}`, deps.clock.now(), limits);
          if (!r.allowed) {
            await deps.audit.record({ type: 'auth.throttled', outcome: 'failure', meta, details: { key_kind: 'source', key: `pkopt:${meta.ip}`, account: null, seconds: r.retryAfterSeconds } });
            throw new RateLimitedError(r.retryAfterSeconds);
          }
        }
        return { body: await passkeyLoginOptions(deps.auth) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/passkey/verify',
      summary: 'Username-less passkey login (user verification required); answers with a session',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ response: AuthenticationResponse }),
      responses: { 200: { description: 'Session', schema: Session }, 401: { description: 'invalid_mfa' }, 429: { description: 'rate_limited' } },
      handler: async ({ body, meta }) => ({ body: await completePasskeyLogin(deps.auth, { response: body.response, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/step-up/webauthn/options',
      summary: 'Step up with WebAuthn: options for navigator.credentials.get()',
      tag: 'auth',
      auth: { kind: 'session' },
      responses: { 200: { description: 'Request options (single-use challenge bound to this session)', schema: RequestOptions }, 401: { description: 'invalid_mfa' } },
      handler: async ({ auth, meta }) => ({ body: await webauthnStepUpOptions(deps.auth, must(auth), meta) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/step-up/webauthn/verify',
      summary: 'Prove a second factor again (WebAuthn) to unlock sensitive actions for the step-up window',
      tag: 'auth',
      auth: { kind: 'session' },
      body: z.strictObject({ response: AuthenticationResponse }),
      responses: { 200: { description: 'Stepped up', schema: StepUp }, 401: { description: 'invalid_mfa' }, 429: { description: 'rate_limited' } },
      handler: async ({ auth, body, meta }) => ({ body: await stepUpWithWebauthn(deps.auth, must(auth), { response: body.response, meta }) }),
    }),
  ];
}
