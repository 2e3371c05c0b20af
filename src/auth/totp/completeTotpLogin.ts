/**
 * Step two of a person's login: a TOTP code against the MFA challenge.
 */
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidMfaError } from '../../errors.ts';
import { MAX_CHALLENGE_FAILURES, type AuthDeps } from '../deps.ts';
import { issueSession, type IssuedSession } from '../sessions/issueSession.ts';
import { hashOpaqueToken } from '../opaqueToken.ts';
import { checkTotpCode } from './checkTotpCode.ts';
import { deadChallenge } from '../refusals.ts';

/** Options of {@link completeTotpLogin}. */
export interface CompleteTotpLoginOptions {
  mfaToken: string;
  code: string;
  meta: RequestMeta;
}

/**
 * Checks the code against the person's confirmed factor (throttled, replay
 * proof); the challenge is single-use and burned after repeated failures.
 */
export async function completeTotpLogin(deps: AuthDeps, options: CompleteTotpLoginOptions): Promise<IssuedSession> {
  const now = deps.clock.now();
  const challenge = await deps.store.findMfaChallenge(hashOpaqueToken(options.mfaToken), now, MAX_CHALLENGE_FAILURES);
  if (!challenge) throw await deadChallenge(deps, { type: 'auth.totp.login', mfaToken: options.mfaToken, meta: options.meta });
  try {
    await checkTotpCode(deps, { principalId: challenge.principalId, code: options.code, meta: options.meta, purpose: 'login' });
  } catch (err) {
    if (err instanceof InvalidMfaError) await deps.store.recordMfaFailure(challenge.id);
    throw err;
  }
  if (!(await deps.store.consumeMfaChallenge(challenge.id))) {
    throw await deadChallenge(deps, { type: 'auth.totp.login', mfaToken: options.mfaToken, meta: options.meta, reason: 'challenge consumed concurrently' });
  }
  return issueSession(deps, { principalId: challenge.principalId, scope: 'full', amr: ['pwd', 'otp', 'mfa'], mfaMethod: 'totp' });
}
