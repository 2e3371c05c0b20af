/**
 * Checks a TOTP code of a person's confirmed factor: throttled per account
 * and source, replay-proof (the accepted time step is stored atomically), and
 * audited either way. Used by login and by step-up.
 */
import type { RequestMeta } from '../../audit/log.ts';
import { open } from '../../crypto/secretbox.ts';
import { InvalidMfaError } from '../../errors.ts';
import type { AuthDeps } from '../deps.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from '../throttle.ts';
import { verifyTotp } from './totp.ts';

/** Throws InvalidMfaError (or RateLimitedError) unless the code is good and fresh. */
export async function checkTotpCode(deps: AuthDeps, o: { principalId: string; code: string; meta: RequestMeta; purpose: 'login' | 'step-up' }): Promise<void> {
  const keys = attemptKeys(`mfa:${o.principalId}`, o.meta);
  await reserveAttempt(deps, keys, o.meta, o.principalId);
  const failed = async (reason: string) => {
    await deps.audit.record({ type: `auth.totp.${o.purpose}`, outcome: 'failure', subjectId: o.principalId, meta: o.meta, details: { reason } });
    return new InvalidMfaError({ reason, principalId: o.principalId });
  };
  const factor = await deps.store.getConfirmedTotp(o.principalId);
  if (!factor) throw await failed('no confirmed TOTP factor');
  const secret = open(deps.encryptionKey, factor.secretEnc, `totp:${factor.id}`);
  const result = await verifyTotp({ secret: secret.toString('utf8'), code: o.code, nowMs: deps.clock.now().getTime(), lastTimeStep: factor.lastTimeStep });
  // otplib-style results are objects: only an explicit `valid === true` counts.
  if (result.valid !== true) throw await failed(result.reason);
  if (!(await deps.store.advanceTotpStep(factor.id, result.timeStep))) throw await failed('replayed (concurrent)');
  await attemptSucceeded(deps, keys);
  await deps.audit.record({ type: `auth.totp.${o.purpose}`, outcome: 'success', actorId: o.principalId, subjectId: o.principalId, meta: o.meta });
}
