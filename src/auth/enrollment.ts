/**
 * One-time enrollment secrets: how a new person (or one who lost their
 * factor) sets a password and a second factor. An administrator, the
 * bootstrap or the host operator (`custos admin recover`) issues one; it
 * works once, before it expires, and only while it is the person's newest:
 * issuing a secret kills every earlier unused one, so a secret that leaked
 * (an old e-mail, a screenshot) is dead the moment a new one exists.
 * Redeeming is in redeemEnrollment.ts.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { Tx } from '../db/client.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';
import { newOpaqueToken } from './opaqueToken.ts';

/** A freshly issued enrollment secret (shown once). */
export interface IssuedEnrollment {
  secret: string;
  expires_at: string;
}

/** Options of {@link issueEnrollment}. */
export interface IssueEnrollmentOptions {
  principalId: string;
  /**
   * The caller's transaction, to commit the caller's own change (a new
   * person, say) with this secret and its event; without it the secret and
   * its event commit in a transaction of their own.
   */
  tx?: Tx | undefined;
  /** Who issues it; null (the default) for the bootstrap and the host operator. */
  actorId?: string | null | undefined;
  meta?: RequestMeta | undefined;
  /** Added to the `enrollment.issued` event (e.g. `{ via: 'cli' }`). */
  details?: Record<string, unknown> | undefined;
  /**
   * Only for someone who has not enrolled (no password yet), checked under
   * the person's lock: a secret for someone who has is a recovery, which
   * needs a second administrator. Whoever decided "not enrolled" earlier, in
   * another transaction, may have been overtaken by the person enrolling.
   */
  firstOnly?: boolean | undefined;
}

/** The person enrolled after the caller checked they had not ({@link IssueEnrollmentOptions.firstOnly}): nothing was issued. */
export class EnrolledMeanwhileError extends ConflictError {
  constructor(principalId: string) {
    super(`Principal ${principalId} has enrolled meanwhile: a new secret would now be an account recovery, which needs a second administrator.`);
  }
}

/**
 * Issues a one-time enrollment secret for a person, revoking every earlier
 * unused one, and records `enrollment.issued` (with the ids it superseded)
 * in the same transaction. The secret itself is never stored, only its hash.
 */
export async function issueEnrollment(deps: AuthDeps, options: IssueEnrollmentOptions): Promise<IssuedEnrollment> {
  // Inside the caller's transaction a person created there is visible.
  const principal = await (options.tx ? deps.catalog.withTx(options.tx) : deps.catalog).getPrincipal(options.principalId);
  if (principal.kind !== 'user') {
    throw new ValidationError('Only people enroll; services use client credentials.', [{ path: 'params.id', message: 'not a user' }]);
  }
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + deps.settings.enrollmentTtlSeconds * 1000);
  const { token, hash } = newOpaqueToken('cen');
  const id = deps.ids();
  const store = options.tx ? deps.store.within(options.tx) : deps.store;
  await store.transaction(async (s, tx) => {
    // One issue or redeem per person at a time: of two concurrent issues, the later one wins.
    await s.lockPerson(principal.id);
    if (options.firstOnly && (await s.getPasswordHash(principal.id)) !== undefined) throw new EnrolledMeanwhileError(principal.id);
    const superseded = await s.revokeEnrollments(principal.id, now, 'superseded');
    await s.createEnrollment({ id, principalId: principal.id, secretHash: hash, expiresAt, issuedBy: options.actorId ?? null });
    await deps.audit.recordIn(tx, {
      type: 'enrollment.issued',
      outcome: 'success',
      actorId: options.actorId ?? null,
      subjectId: principal.id,
      meta: options.meta,
      details: { ...options.details, enrollment_id: id, expires_at: expiresAt.toISOString(), superseded_ids: superseded },
    });
  });
  return { secret: token, expires_at: expiresAt.toISOString() };
}
