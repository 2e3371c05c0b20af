/**
 * Authentication failures and lockouts are counted from the audit events
 * src/auth writes: each failure event type maps to its method, successes and
 * other events to nothing, lockouts to their scope.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/log.ts';
import { AUTH_METHODS, failedMethod, lockScope } from '../../src/metrics/authEvents.ts';

const failure = (type: string, details?: Record<string, unknown>): AuditEvent => ({ type, outcome: 'failure', details });

describe('authentication failure events', () => {
  it.each([
    ['auth.password', undefined, 'password'],
    ['auth.totp.login', undefined, 'totp'],
    ['auth.totp.step-up', undefined, 'totp'],
    ['auth.webauthn.login', undefined, 'webauthn'],
    ['auth.webauthn.step-up', undefined, 'webauthn'],
    ['auth.passkey.login', undefined, 'webauthn'],
    ['recovery_code.used', undefined, 'recovery_code'],
    ['client.auth', { client_id: 'c', reason: 'unknown client or wrong secret' }, 'client_secret'],
    ['client.auth', { method: 'private_key_jwt', reason: 'bad signature' }, 'client_assertion'],
    ['session.refresh', undefined, 'refresh_token'],
    ['session.refresh_reuse', undefined, 'refresh_token'],
    ['auth.enrollment', undefined, 'enrollment'],
  ])('%s %j → %s', (type, details, method) => {
    expect(failedMethod(failure(type, details))).toBe(method);
    expect(AUTH_METHODS).toContain(method);
  });

  it('counts no success and no event that is not an authentication failure', () => {
    expect(failedMethod({ type: 'auth.password', outcome: 'success' })).toBeUndefined();
    // The counter anomaly is followed by the refused login's own event: counted once, there.
    for (const t of ['webauthn.counter_anomaly', 'auth.lockout', 'auth.throttled', 'factor.added', 'policy.pushed', 'auth.step_up_required']) expect(failedMethod(failure(t))).toBeUndefined();
  });

  it('tells account locks from source-address locks', () => {
    expect(lockScope(failure('auth.lockout', { key_kind: 'source' }))).toBe('source');
    expect(lockScope(failure('auth.lockout', { key_kind: 'account' }))).toBe('account');
  });
});
