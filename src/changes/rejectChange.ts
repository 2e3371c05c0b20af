/**
 * Rejecting a pending change, or withdrawing one's own. Any holder of the
 * approving permission may reject (a rejection only keeps things as they
 * are, so it needs no second factor); the proposer may withdraw. Both are
 * final; the proposer can propose again.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { ChangeDeps } from './deps.ts';
import { expireChange } from './expireChange.ts';
import { approvingPermission } from './privilege.ts';
import type { PendingChange } from './store.ts';

/** Rejects (or, for its proposer, withdraws) a pending change with its audit event. */
export async function rejectChange(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; id: string; reason?: string | undefined }): Promise<PendingChange> {
  const actorId = o.auth.principalId;
  const change = await deps.store.get(o.id);
  if (!change) throw new NotFoundError(`Change ${o.id}`);
  const withdraw = change.proposer_id === actorId;
  if (!withdraw && !o.auth.permissions.has(approvingPermission(change.kind))) {
    await deps.audit.record({ type: 'change.reject_refused', outcome: 'failure', actorId, meta: o.meta, details: { change_id: change.id, kind: change.kind, reason: 'missing-permission' } });
    throw new ForbiddenError(`Rejecting this change needs ${approvingPermission(change.kind)}.`);
  }
  if (await expireChange(deps, { change, meta: o.meta })) throw new ConflictError('The change has expired.');
  const now = deps.clock.now();
  const status = withdraw ? 'withdrawn' : 'rejected';
  return deps.store.begin(async (t) => {
    const c = await t.lockChange(o.id);
    if (!c || c.status !== 'pending') throw new ConflictError('The change is no longer pending.');
    const decided = await t.decide(c.id, { status, by: actorId, at: now, reason: o.reason ?? null });
    await deps.audit.recordIn(t.tx, { type: `change.${status}`, outcome: 'success', actorId, meta: o.meta, details: { change_id: c.id, kind: c.kind, target: c.target, proposed_by: c.proposer_id, reason: o.reason ?? null } });
    return decided;
  });
}
