/**
 * Refusals that happen before any factor is checked still leave an audit
 * event (HIPAA §164.312(b)): an MFA challenge that is unknown, expired,
 * already used or burned by failures is where replayed and brute-forced
 * logins show, so it is recorded against the person it belonged to.
 */
import type { RequestMeta } from '../audit/log.ts';
import { InvalidMfaError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';
import { hashOpaqueToken } from './opaqueToken.ts';

/** Audits a login step answered against a dead MFA challenge and returns the error to throw. */
export async function deadChallenge(deps: AuthDeps, o: { type: string; mfaToken: string; meta: RequestMeta; reason?: string }): Promise<InvalidMfaError> {
  const reason = o.reason ?? 'unknown, expired or used challenge';
  const owner = await deps.store.mfaChallengeOwner(hashOpaqueToken(o.mfaToken));
  await deps.audit.record({ type: o.type, outcome: 'failure', subjectId: owner ?? null, meta: o.meta, details: { reason } });
  return new InvalidMfaError({ reason });
}
