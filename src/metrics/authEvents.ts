/**
 * Authentication failures and lockouts, read off the audit events the
 * authentication operations already write (src/auth): every refused
 * password, second factor, client secret or assertion is audited
 * (HIPAA §164.312(b)), so counting the committed events counts exactly the
 * refusals, with no hook in each operation. The event type names the method;
 * the label values are this file's fixed sets.
 */
import type { AuditEvent } from '../audit/log.ts';

/** Authentication methods, as the `method` label of custos_auth_failures_total. */
export const AUTH_METHODS = ['password', 'totp', 'webauthn', 'recovery_code', 'client_secret', 'client_assertion', 'refresh_token', 'enrollment'] as const;

/** One authentication method. */
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** What a lock or throttle holds back: an account (one name) or a source address. */
export const LOCK_SCOPES = ['account', 'source'] as const;

/** One lock scope. */
export type LockScope = (typeof LOCK_SCOPES)[number];

/** The method of a failed authentication event, or undefined when the event is not one. */
export function failedMethod(e: AuditEvent): AuthMethod | undefined {
  if (e.outcome !== 'failure') return undefined;
  const t = e.type;
  if (t === 'auth.password') return 'password';
  // auth.totp.login, auth.totp.step-up
  if (t.startsWith('auth.totp.')) return 'totp';
  // auth.webauthn.login, auth.webauthn.step-up, auth.passkey.login. (A sign counter anomaly is
  // audited as webauthn.counter_anomaly and then as the refused login itself: counted once, as the latter.)
  if (t.startsWith('auth.webauthn.') || t === 'auth.passkey.login') return 'webauthn';
  if (t === 'recovery_code.used') return 'recovery_code';
  if (t === 'client.auth') return e.details?.method === 'private_key_jwt' ? 'client_assertion' : 'client_secret';
  if (t === 'session.refresh' || t === 'session.refresh_reuse') return 'refresh_token';
  if (t === 'auth.enrollment') return 'enrollment';
  return undefined;
}

/** The scope of a lockout (`auth.lockout`) or a throttled attempt (`auth.throttled`). */
export function lockScope(e: AuditEvent): LockScope {
  return e.details?.key_kind === 'source' ? 'source' : 'account';
}
