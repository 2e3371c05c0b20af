/**
 * People: login (password, then TOTP), enrollment, and their own session.
 */
import { z } from 'zod';
import { completeTotpLogin } from '../../auth/totp/completeTotpLogin.ts';
import { redeemEnrollment } from '../../auth/redeemEnrollment.ts';
import { login } from '../../auth/sessions/login.ts';
import { listFactors, removeFactor } from '../../auth/factors.ts';
import { completeRecoveryLogin, regenerateRecoveryCodes } from '../../auth/recoveryCodes.ts';
import { refreshSession } from '../../auth/sessions/refreshSession.ts';
import { stepUpWithTotp } from '../../auth/sessions/stepUp.ts';
import { confirmTotpEnrollment, startTotpEnrollment } from '../../auth/totp/totpEnrollment.ts';
import type { AppDeps } from '../deps.ts';
import { must, Session } from './shared.ts';
import { defineRoute, storableText } from '../route.ts';

// Bounded so a megabyte "password" cannot make argon2id do unbounded work.
const StepUp = z.object({ mfa_at: z.string(), method: z.enum(['totp', 'webauthn']) });
const PasswordField = z.string().min(1).max(1024);
// Names reach audit events: storable text only, so a refusal can always be recorded.
const Username = storableText(128).min(1);
const Code = z.string().min(1).max(16);


/** Authentication and self-service routes. */
export function authRoutes(deps: AppDeps) {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/auth/login',
      summary: 'Password step of a login; answers with an MFA challenge',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ username: Username, password: PasswordField }),
      responses: {
        200: { description: 'Password accepted; answer the challenge', schema: z.object({ mfa_token: z.string(), methods: z.array(z.string()), expires_in: z.number() }) },
        401: { description: 'invalid_credentials (the same for an unknown user and a wrong password)' },
        429: { description: 'rate_limited: too many attempts for this account or source (Retry-After)' },
      },
      handler: async ({ body, meta }) => ({ body: await login(deps.auth, { ...body, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/totp',
      summary: 'TOTP step of a login; answers with a session',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ mfa_token: z.string().min(1).max(200), code: Code }),
      responses: { 200: { description: 'Session', schema: Session }, 401: { description: 'invalid_mfa' } },
      handler: async ({ body, meta }) => ({ body: await completeTotpLogin(deps.auth, { mfaToken: body.mfa_token, code: body.code, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/enroll',
      summary: 'Redeem a one-time enrollment secret: set a password, get an enrollment session',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ username: Username, enrollment_secret: z.string().min(1).max(200), password: PasswordField }),
      responses: { 200: { description: 'Enrollment session (may only enroll a factor)', schema: Session }, 400: { description: 'Password refused by policy' } },
      handler: async ({ body, meta }) => ({
        body: await redeemEnrollment(deps.auth, { username: body.username, secret: body.enrollment_secret, password: body.password, meta }),
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/logout',
      summary: 'End the current session',
      tag: 'auth',
      auth: { kind: 'enrollment' },
      responses: { 204: { description: 'Ended' } },
      handler: async ({ auth, meta }) => {
        await deps.auth.store.revokeSession(must(auth).sessionId, deps.clock.now());
        await deps.audit.record({ type: 'session.logout', outcome: 'success', actorId: must(auth).principalId, meta });
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/refresh',
      summary: 'Exchange a refresh token for a new token pair (rotation; reuse revokes the session)',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ refresh_token: z.string().min(1).max(200) }),
      responses: { 200: { description: 'New pair', schema: Session }, 401: { description: 'unauthenticated' } },
      handler: async ({ body, meta }) => ({ body: await refreshSession(deps.auth, { refreshToken: body.refresh_token, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/recovery',
      summary: 'Second step of a login with a single-use recovery code',
      tag: 'auth',
      auth: { kind: 'public' },
      body: z.strictObject({ mfa_token: z.string().min(1).max(200), code: z.string().min(1).max(40) }),
      responses: { 200: { description: 'Session', schema: Session }, 401: { description: 'invalid_mfa' }, 429: { description: 'rate_limited' } },
      handler: async ({ body, meta }) => ({ body: await completeRecoveryLogin(deps.auth, { mfaToken: body.mfa_token, code: body.code, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/auth/step-up/totp',
      summary: 'Prove a second factor again (TOTP) to unlock sensitive actions for the step-up window',
      tag: 'auth',
      auth: { kind: 'session' },
      body: z.strictObject({ code: Code }),
      responses: { 200: { description: 'Stepped up', schema: StepUp }, 401: { description: 'invalid_mfa' }, 429: { description: 'rate_limited' } },
      handler: async ({ auth, body, meta }) => ({ body: await stepUpWithTotp(deps.auth, must(auth), { code: body.code, meta }) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/me/factors',
      summary: 'List your second factors and remaining recovery codes',
      tag: 'me',
      auth: { kind: 'session' },
      responses: {
        200: {
          description: 'Factors',
          schema: z.object({
            factors: z.array(z.object({ id: z.string(), type: z.enum(['totp', 'webauthn']), name: z.string(), created_at: z.string(), last_used_at: z.string().nullable() })),
            recovery_codes_remaining: z.number().int(),
          }),
        },
      },
      handler: async ({ auth }) => ({ body: await listFactors(deps.auth, must(auth)) }),
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/me/factors/:id',
      summary: 'Remove a second factor (never the last one)',
      tag: 'me',
      auth: { kind: 'session', stepUp: true },
      params: z.strictObject({ id: z.string().min(1).max(1400) }),
      responses: { 204: { description: 'Removed' }, 409: { description: 'It is your last factor' } },
      handler: async ({ auth, params, meta }) => {
        await removeFactor(deps.auth, must(auth), { factorId: params.id, meta });
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/me/recovery-codes',
      summary: 'Generate ten new single-use recovery codes (replacing the old ones; shown once)',
      tag: 'me',
      auth: { kind: 'session', stepUp: true },
      responses: { 201: { description: 'Codes', schema: z.object({ codes: z.array(z.string()) }) } },
      handler: async ({ auth, meta }) => ({ status: 201, body: await regenerateRecoveryCodes(deps.auth, must(auth), meta) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/me',
      summary: 'The caller, its session and its organisation-wide roles',
      tag: 'me',
      auth: { kind: 'enrollment' },
      responses: {
        200: {
          description: 'Caller',
          schema: z.object({
            principal_id: z.string(),
            username: z.string(),
            scope: z.enum(['full', 'enrollment']),
            amr: z.array(z.string()),
            auth_time: z.number().int(),
            expires_at: z.string(),
            mfa_at: z.string().nullable(),
            mfa_method: z.enum(['totp', 'webauthn', 'recovery']).nullable(),
            roles: z.array(z.string()),
            permissions: z.array(z.string()),
            idle_timeout_seconds: z.number().int().describe('A session unused this long ends (the console signs out after it)'),
          }),
        },
      },
      handler: async ({ auth }) => {
        const a = must(auth);
        return {
          body: {
            principal_id: a.principalId,
            username: a.principalName,
            scope: a.scope,
            amr: a.amr,
            auth_time: Math.floor(a.authTime.getTime() / 1000),
            expires_at: a.expiresAt.toISOString(),
            mfa_at: a.mfaAt ? a.mfaAt.toISOString() : null,
            mfa_method: a.mfaMethod,
            roles: a.orgRoles,
            permissions: [...a.permissions].sort(),
            idle_timeout_seconds: deps.auth.settings.idleTimeoutSeconds,
          },
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/me/totp',
      summary: 'Start enrolling a TOTP authenticator: secret and otpauth URI',
      tag: 'me',
      auth: { kind: 'enrollment' },
      responses: { 201: { description: 'Pending factor; confirm it with a first code', schema: z.object({ factor_id: z.string(), secret: z.string(), otpauth_uri: z.string() }) } },
      handler: async ({ auth, meta }) => ({ status: 201, body: await startTotpEnrollment(deps.auth, must(auth), meta) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/me/totp/confirm',
      summary: 'Confirm a pending TOTP factor with its first code; answers with a full session',
      tag: 'me',
      auth: { kind: 'enrollment' },
      body: z.strictObject({ factor_id: z.uuid(), code: Code }),
      responses: {
        200: {
          description: 'Factor confirmed: a full session (from an enrollment session), or the factor (from a full session, which needs step-up)',
          schema: z.union([Session, z.object({ factor_id: z.string(), confirmed: z.literal(true) })]),
        },
        401: { description: 'invalid_mfa, or step_up_required when replacing a factor' },
      },
      handler: async ({ auth, body, meta }) => ({ body: await confirmTotpEnrollment(deps.auth, must(auth), { factorId: body.factor_id, code: body.code, meta }) }),
    }),
  ];
}
