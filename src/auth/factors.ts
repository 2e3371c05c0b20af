/**
 * Listing and removing a person's second factors.
 */
import type { RequestMeta } from '../audit/log.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { AuthContext } from './context.ts';
import type { AuthDeps } from './deps.ts';
import type { FactorSummary } from './store.ts';

/** The caller's factors and how many recovery codes remain. */
export async function listFactors(deps: AuthDeps, auth: AuthContext): Promise<{ factors: FactorSummary[]; recovery_codes_remaining: number }> {
  return { factors: await deps.store.listFactors(auth.principalId), recovery_codes_remaining: await deps.store.countRecoveryCodes(auth.principalId) };
}

/** Removes one factor; the last one can never be removed (recovery codes do not count). */
export async function removeFactor(deps: AuthDeps, auth: AuthContext, options: { factorId: string; meta: RequestMeta }): Promise<void> {
  // The removal and its event commit together, or neither does.
  const r = await deps.store.transaction(async (s, tx) => {
    const outcome = await s.deleteFactorUnlessLast(auth.principalId, options.factorId);
    if (outcome === 'deleted') {
      await deps.audit.recordIn(tx, { type: 'factor.removed', outcome: 'success', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor_id: options.factorId } });
    }
    return outcome;
  });
  if (r === 'not_found') throw new NotFoundError(`Factor ${options.factorId}`);
  if (r === 'last') {
    await deps.audit.record({ type: 'factor.removed', outcome: 'failure', actorId: auth.principalId, subjectId: auth.principalId, meta: options.meta, details: { factor_id: options.factorId, reason: 'last factor' } });
    throw new ConflictError('You cannot remove your last second factor; add another one first.');
  }
}
