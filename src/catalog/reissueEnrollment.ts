/**
 * Issues a new one-time enrollment secret (new password and factor) for a
 * person, together with its `enrollment.issued` audit event, in one
 * transaction. Nobody issues one for themselves: it would let a holder of a
 * stolen session replace the owner's factors.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthDeps } from '../auth/deps.ts';
import { issueEnrollment, type IssuedEnrollment } from '../auth/enrollment.ts';
import { ForbiddenError } from '../errors.ts';

/** Options of {@link reissueEnrollment}. */
export interface ReissueEnrollmentOptions {
  principalId: string;
  actorId: string;
  meta: RequestMeta;
  /** Refuse (EnrolledMeanwhileError) if the person has enrolled by the time the secret is made (see issueEnrollment). */
  firstOnly?: boolean;
}

/** Issues the secret (shown once) and records it; both commit or neither does. */
export async function reissueEnrollment(deps: AuthDeps, options: ReissueEnrollmentOptions): Promise<IssuedEnrollment> {
  if (options.principalId === options.actorId) throw new ForbiddenError('You cannot issue an enrollment secret for yourself.');
  // The secret, the revocation of earlier ones and `enrollment.issued` commit together (issueEnrollment).
  return issueEnrollment(deps, { principalId: options.principalId, actorId: options.actorId, meta: options.meta, firstOnly: options.firstOnly });
}
