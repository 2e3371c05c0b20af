/**
 * Recovery codes: ten single-use codes a person keeps offline, to log in when
 * their authenticator is lost. Stored as HMAC-SHA-256 under a key derived
 * from the server's encryption key, so a database copy alone cannot be used
 * to test guesses.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { RequestMeta } from '../audit/log.ts';
import { InvalidMfaError, UnauthenticatedError } from '../errors.ts';
import type { AuthContext } from './context.ts';
import { MAX_CHALLENGE_FAILURES, type AuthDeps } from './deps.ts';
import { issueSession, type IssuedSession } from './sessions/issueSession.ts';
import { hashOpaqueToken } from './opaqueToken.ts';
import { deadChallenge } from './refusals.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from './throttle.ts';

/** How many codes a person gets at once. */
export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i

function hmacKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'custos recovery codes v1', 32));
}

/** Normalises what a person typed: case, spaces and dashes do not matter. */
export function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

function recoveryHmac(encryptionKey: Buffer, code: string): Buffer {
  return createHmac('sha256', hmacKey(encryptionKey)).update(normaliseRecoveryCode(code)).digest();
}

function newCode(): string {
  // 12 characters from 31 symbols: about 59 bits.
  const bytes = randomBytes(12);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}`;
}

/** Replaces the caller's recovery codes with ten new ones (shown once). */
export async function regenerateRecoveryCodes(deps: AuthDeps, auth: AuthContext, meta: RequestMeta): Promise<{ codes: string[] }> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  // The new codes and their event commit together; a recovery in between wins (the session is checked under the lock).
  await deps.store.transaction(async (s, tx) => {
    await s.lockPerson(auth.principalId);
    if (!(await s.sessionLive(auth.sessionId, deps.clock.now()))) throw new UnauthenticatedError('The session has ended.', { reason: 'revoked meanwhile' });
    await s.replaceRecoveryCodes(
      auth.principalId,
      codes.map((c) => ({ id: deps.ids(), hmac: recoveryHmac(deps.encryptionKey, c) })),
    );
    await deps.audit.recordIn(tx, { type: 'recovery_codes.generated', outcome: 'success', actorId: auth.principalId, subjectId: auth.principalId, meta, details: { count: codes.length } });
  });
  return { codes };
}

/** Second step of a login with a recovery code instead of the lost factor. */
export async function completeRecoveryLogin(deps: AuthDeps, options: { mfaToken: string; code: string; meta: RequestMeta }): Promise<IssuedSession> {
  const now = deps.clock.now();
  const challenge = await deps.store.findMfaChallenge(hashOpaqueToken(options.mfaToken), now, MAX_CHALLENGE_FAILURES);
  if (!challenge) throw await deadChallenge(deps, { type: 'recovery_code.used', mfaToken: options.mfaToken, meta: options.meta });
  const keys = attemptKeys(`mfa:${challenge.principalId}`, options.meta);
  await reserveAttempt(deps, keys, options.meta, challenge.principalId);
  if (!(await deps.store.useRecoveryCode(challenge.principalId, recoveryHmac(deps.encryptionKey, options.code), now))) {
    await deps.store.recordMfaFailure(challenge.id);
    await deps.audit.record({ type: 'recovery_code.used', outcome: 'failure', subjectId: challenge.principalId, meta: options.meta, details: { reason: 'unknown or used recovery code' } });
    throw new InvalidMfaError({ reason: 'unknown or used recovery code' });
  }
  if (!(await deps.store.consumeMfaChallenge(challenge.id))) {
    throw await deadChallenge(deps, { type: 'recovery_code.used', mfaToken: options.mfaToken, meta: options.meta, reason: 'challenge consumed concurrently' });
  }
  await attemptSucceeded(deps, keys);
  const left = await deps.store.countRecoveryCodes(challenge.principalId);
  await deps.audit.record({ type: 'recovery_code.used', outcome: 'success', actorId: challenge.principalId, subjectId: challenge.principalId, meta: options.meta, details: { remaining: left } });
  return issueSession(deps, { principalId: challenge.principalId, scope: 'full', amr: ['pwd', 'otp', 'mfa'], mfaMethod: 'recovery' });
}
