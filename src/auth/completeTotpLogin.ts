/**
 * Step two of a person's login: a TOTP code against the MFA challenge.
 */
import { InvalidMfaError } from '../errors.ts';
import { open } from '../crypto/secretbox.ts';
import { MAX_CHALLENGE_FAILURES, type AuthDeps } from './deps.ts';
import { issueSession, type IssuedSession } from './issueSession.ts';
import { hashOpaqueToken } from './opaqueToken.ts';
import { verifyTotp } from './totp.ts';

/** Options of {@link completeTotpLogin}. */
export interface CompleteTotpLoginOptions {
  mfaToken: string;
  code: string;
}

/**
 * Checks the code against the person's confirmed factor. The accepted time
 * step is stored atomically so the same code (or an older one) never works
 * twice; the challenge is single-use and burned after repeated failures.
 */
export async function completeTotpLogin(deps: AuthDeps, options: CompleteTotpLoginOptions): Promise<IssuedSession> {
  const now = deps.clock.now();
  const challenge = await deps.store.findMfaChallenge(hashOpaqueToken(options.mfaToken), now, MAX_CHALLENGE_FAILURES);
  if (!challenge) throw new InvalidMfaError({ reason: 'unknown, expired or used challenge' });
  const factor = await deps.store.getConfirmedTotp(challenge.principalId);
  if (!factor) throw new InvalidMfaError({ reason: 'no confirmed factor' });

  const secret = open(deps.encryptionKey, factor.secretEnc, `totp:${factor.id}`);
  const result = await verifyTotp({ secret: secret.toString('utf8'), code: options.code, nowMs: now.getTime(), lastTimeStep: factor.lastTimeStep });
  if (result.valid !== true) {
    await deps.store.recordMfaFailure(challenge.id);
    throw new InvalidMfaError({ reason: result.reason, principalId: challenge.principalId });
  }
  if (!(await deps.store.advanceTotpStep(factor.id, result.timeStep))) {
    await deps.store.recordMfaFailure(challenge.id);
    throw new InvalidMfaError({ reason: 'replayed (concurrent)', principalId: challenge.principalId });
  }
  if (!(await deps.store.consumeMfaChallenge(challenge.id))) throw new InvalidMfaError({ reason: 'challenge consumed concurrently' });
  return issueSession(deps, { principalId: challenge.principalId, scope: 'full', amr: ['pwd', 'otp', 'mfa'] });
}
