/**
 * Removing a role assignment. Removing someone else's role narrows their
 * access and applies at once. Removing one of your own waits for a second
 * administrator: a deny rule applies through every role a principal holds
 * (e.g. system administrators never read PHI), so dropping a role can
 * widen what its holder reads.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { NotFoundError } from '../errors.ts';
import { holdChange, type ChangeDeps } from './deps.ts';
import type { AssignmentRow, PendingChange } from './store.ts';

/** What {@link unassignRole} did: removed at once, or held for a second administrator. */
export type UnassignRoleResult = { status: 'applied'; removed: AssignmentRow } | { status: 'pending'; change: PendingChange };

/** Removes an assignment, or holds the removal of the caller's own for a second administrator. */
export async function unassignRole(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; id: string }): Promise<UnassignRoleResult> {
  const actorId = o.auth.principalId;
  return deps.store.begin(async (t): Promise<UnassignRoleResult> => {
    await t.lockRoleGraph();
    const a = await t.assignment(o.id);
    if (!a) throw new NotFoundError(`Role assignment ${o.id}`);
    if (a.principal_id === actorId) {
      const change = await holdChange(deps, t, { kind: 'role.unassign', target: a.principal_id, payload: { assignment_id: a.id }, before: a, after: null, base: `assignment:${a.id}`, reasons: ['own-assignment'], actorId, subjectId: a.principal_id, meta: o.meta });
      return { status: 'pending', change };
    }
    const removed = (await t.unassign(o.id))!;
    await deps.audit.recordIn(t.tx, { type: 'role.unassigned', outcome: 'success', actorId, subjectId: removed.principal_id, meta: o.meta, details: { before: removed } });
    return { status: 'applied', removed };
  });
}
