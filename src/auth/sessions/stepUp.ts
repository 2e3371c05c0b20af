/**
 * Step-up: sensitive actions (role changes, approvals, policy edits, key
 * rotation, break-glass, removing a factor, issuing credentials) need a
 * second factor proven within the last few minutes, not merely a session.
 */
import type { RequestMeta } from '../../audit/log.ts';
import { StepUpRequiredError } from '../../errors.ts';
import { checkTotpCode } from '../totp/checkTotpCode.ts';
import type { AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';

/** Throws StepUpRequiredError (and audits the refusal) unless the caller's MFA is fresh enough. */
export async function assertFreshMfa(deps: AuthDeps, auth: AuthContext, meta: RequestMeta, action: string): Promise<void> {
  const now = deps.clock.now().getTime();
  const needsWebauthn = auth.orgRoles.some((r) => deps.settings.webauthnRequiredRoles.includes(r));
  const fresh = auth.mfaAt !== null && now - auth.mfaAt.getTime() <= deps.settings.stepUpSeconds * 1000;
  const methodOk = !needsWebauthn || auth.mfaMethod === 'webauthn';
  if (fresh && methodOk) return;
  const reason = !fresh ? 'second factor not recent enough' : 'WebAuthn required for this role';
  await deps.audit.record({ type: 'auth.step_up_required', outcome: 'failure', actorId: auth.principalId, meta, details: { action, reason } });
  throw new StepUpRequiredError(needsWebauthn ? ['webauthn'] : ['totp', 'webauthn'], { reason, action });
}

/** Proves a second factor again with a TOTP code, restarting the step-up window. */
export async function stepUpWithTotp(deps: AuthDeps, auth: AuthContext, options: { code: string; meta: RequestMeta }): Promise<{ mfa_at: string; method: 'totp' }> {
  await checkTotpCode(deps, { principalId: auth.principalId, code: options.code, meta: options.meta, purpose: 'step-up' });
  const now = deps.clock.now();
  await deps.store.markStepUp(auth.sessionId, now, 'totp');
  return { mfa_at: now.toISOString(), method: 'totp' };
}
