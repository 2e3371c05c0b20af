/**
 * A new enrollment secret for a person (POST /v1/principals/:id/enrollment).
 * For someone who has enrolled it is an account recovery: whoever holds the
 * secret can become them, so it waits for a second administrator, who
 * receives it on approval (holdRecovery.ts). Anyone else gets theirs at
 * once, with its audit event (catalog/reissueEnrollment.ts); nobody issues
 * one for themselves.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { EnrolledMeanwhileError, type IssuedEnrollment } from '../auth/enrollment.ts';
import { reissueEnrollment } from '../catalog/reissueEnrollment.ts';
import type { ChangeDeps } from './deps.ts';
import { holdRecovery } from './holdRecovery.ts';
import type { PendingChange } from './store.ts';

/** What {@link requestEnrollment} did: issued the secret (shown once), or held the recovery. */
export type RequestEnrollmentResult = { status: 'issued'; enrollment: IssuedEnrollment } | { status: 'pending'; change: PendingChange };

/**
 * Holds a recovery for a second administrator, or issues a first-enrollment
 * secret at once. "Not enrolled" is decided in one transaction and the secret
 * made in another: if the person enrolls in between, the issue is refused
 * under their lock and the request is held as the recovery it has become.
 */
export async function requestEnrollment(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; principalId: string }): Promise<RequestEnrollmentResult> {
  const change = await holdRecovery(deps, o);
  if (change) return { status: 'pending', change };
  try {
    return { status: 'issued', enrollment: await reissueEnrollment(deps.auth, { principalId: o.principalId, actorId: o.auth.principalId, meta: o.meta, firstOnly: true }) };
  } catch (err) {
    if (!(err instanceof EnrolledMeanwhileError)) throw err;
    // Enrolled now, and enrollment is never undone but by a recovery: this holds it.
    const held = await holdRecovery(deps, o);
    if (held) return { status: 'pending', change: held };
    throw err;
  }
}
