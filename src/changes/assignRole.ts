/**
 * Assigning a role. Nobody assigns a role to themselves (refused, as
 * before). A role that is, or inherits, an administrative, approver or
 * reviewer role (privilege.ts) waits for a second administrator with fresh
 * MFA, in any scope (an approving role acts in a project too). So does any
 * role for a person whose enrollment secret the assigner received (one they
 * created, say): they could have enrolled as that person, and would
 * otherwise reach through the account what they cannot read themselves.
 * Any other assignment is made at once.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { ForbiddenError } from '../errors.ts';
import { holdChange, roleFingerprint, type ChangeDeps } from './deps.ts';
import { privilegedAmong, privilegedBaseRoles, type HoldReason } from './privilege.ts';
import type { AssignmentRow, PendingChange } from './store.ts';

/** What {@link assignRole} did: assigned at once, or held for a second administrator. */
export type AssignRoleResult = { status: 'applied'; assignment: AssignmentRow } | { status: 'pending'; change: PendingChange };

/** Assigns a role, or holds the assignment of a privileged role for a second administrator. */
export async function assignRole(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; input: { principal_id: string; role_id: string; project_id?: string | null | undefined } }): Promise<AssignRoleResult> {
  const actorId = o.auth.principalId;
  const input = { principal_id: o.input.principal_id, role_id: o.input.role_id, project_id: o.input.project_id ?? null };
  // Separation of duties: nobody widens their own access.
  if (input.principal_id === actorId) {
    await deps.audit.record({ type: 'role.assigned', outcome: 'failure', actorId, subjectId: input.principal_id, meta: o.meta, details: { role_id: input.role_id, project_id: input.project_id, reason: 'self-assignment' } });
    throw new ForbiddenError('You cannot assign a role to yourself.');
  }
  return deps.store.begin(async (t): Promise<AssignRoleResult> => {
    await t.lockRoleGraph();
    await t.checkAssignable(input);
    const role = (await t.role(input.role_id))!;
    const privileged = privilegedAmong(await t.closureWith(role.id, role.inherits), privilegedBaseRoles(deps.policy.current()));
    const holdsSecret = (await t.secretHoldersOf(input.principal_id, deps.clock.now())).includes(actorId);
    if (privileged || holdsSecret) {
      const reasons: HoldReason[] = [];
      if (privileged) reasons.push('administrative-role');
      if (holdsSecret) reasons.push('holds-their-secret');
      const change = await holdChange(deps, t, {
        kind: 'role.assign',
        target: input.principal_id,
        payload: input,
        before: null,
        // The approver sees what the role carries, and approval requires the role unchanged since.
        after: { ...input, role_inherits: role.inherits, privileged_role: privileged ?? null },
        base: roleFingerprint(role),
        reasons,
        actorId,
        subjectId: input.principal_id,
        meta: o.meta,
      });
      return { status: 'pending', change };
    }
    const assignment = await t.assign(input, actorId);
    await deps.audit.recordIn(t.tx, { type: 'role.assigned', outcome: 'success', actorId, subjectId: input.principal_id, meta: o.meta, details: { assignment } });
    return { status: 'applied', assignment };
  });
}
