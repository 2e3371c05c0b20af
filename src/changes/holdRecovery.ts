/**
 * Account recovery under dual control. A new enrollment secret for someone
 * who has already enrolled replaces their password and factors when it is
 * redeemed (auth/redeemEnrollment.ts): whoever holds it can become that
 * person and reach what they may read. So it waits for a second
 * administrator with fresh MFA, who receives the secret when approving
 * ("no one alone", docs/security-model.md). Someone who never enrolled (a new person whose
 * first secret expired) has nothing to take over: their secret is issued at
 * once, as before.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { holdChange, type ChangeDeps } from './deps.ts';
import type { PendingChange } from './store.ts';

/** Holds a recovery for a second administrator; undefined when the person never enrolled (issue at once). */
export async function holdRecovery(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; principalId: string }): Promise<PendingChange | undefined> {
  // Issuing one for yourself is refused by the issuing operation, with its own audit event.
  if (o.principalId === o.auth.principalId) return undefined;
  return deps.store.begin(async (t) => {
    if (!(await t.enrolled(o.principalId))) return undefined;
    return holdChange(deps, t, {
      kind: 'principal.recover',
      target: o.principalId,
      payload: { principal_id: o.principalId },
      before: null,
      after: { principal_id: o.principalId, effect: 'a new enrollment secret; redeeming it removes the person’s password, factors and sessions' },
      base: `principal:${o.principalId}`,
      reasons: ['account-recovery'],
      actorId: o.auth.principalId,
      subjectId: o.principalId,
      meta: o.meta,
    });
  });
}
