/**
 * Editing a role. A change to what the role inherits waits for a second
 * administrator (dual control, docs/security-model.md) when it could widen an
 * administrator's permissions or make the role administrative:
 * - the proposer holds the role (directly, by inheritance, or through an
 *   active grant; in any scope): nobody widens their own permissions;
 * - anyone holding the role has an administrative permission or an
 *   approving role (see privilege.ts);
 * - after the edit the role is, or inherits, an administrative, approver or
 *   reviewer role.
 * Removing a parent counts as a change too: a deny rule applies through every
 * role a principal holds, so dropping a parent can lift a deny and widen
 * access. A description-only edit, or an edit of a role nobody privileged
 * holds and that stays unprivileged, applies at once, as before.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { NotFoundError } from '../errors.ts';
import { holdChange, reloadPolicy, roleFingerprint, type ChangeDeps } from './deps.ts';
import { privilegedAmong, privilegedBaseRoles, type HoldReason } from './privilege.ts';
import type { ChangeTx, PendingChange, RoleState } from './store.ts';

/** What {@link updateRole} did: applied at once, or held for a second administrator. */
export type UpdateRoleResult = { status: 'applied'; role: RoleState } | { status: 'pending'; change: PendingChange };

/** Why an inheritance change of this role must wait (empty: it may apply at once). */
async function roleEditHoldReasons(deps: ChangeDeps, t: ChangeTx, o: { roleId: string; actorId: string; inherits: readonly string[] }): Promise<HoldReason[]> {
  const now = deps.clock.now();
  const base = privilegedBaseRoles(deps.policy.current());
  const reasons: HoldReason[] = [];
  const holders = await t.holdersOf(o.roleId, now);
  if (holders.includes(o.actorId)) reasons.push('proposer-holds-role');
  const held = await t.rolesOf(holders, now);
  if ([...held.values()].some((roles) => privilegedAmong(roles, base))) reasons.push('held-by-administrator');
  if (privilegedAmong(await t.closureWith(o.roleId, o.inherits), base)) reasons.push('confers-administrative-role');
  return reasons;
}

/** Edits a role's description and inheritance, or holds an inheritance change for a second administrator. */
export async function updateRole(
  deps: ChangeDeps,
  o: { auth: AuthContext; meta: RequestMeta; id: string; input: { description?: string | undefined; inherits?: string[] | undefined } },
): Promise<UpdateRoleResult> {
  const actorId = o.auth.principalId;
  const result = await deps.store.begin(async (t): Promise<UpdateRoleResult> => {
    await t.lockRoleGraph();
    const before = await t.role(o.id);
    if (!before) throw new NotFoundError(`Role ${o.id}`);
    const after: RoleState = {
      id: o.id,
      description: o.input.description ?? before.description,
      inherits: o.input.inherits ? [...new Set(o.input.inherits)].sort() : before.inherits,
    };
    // Refuse what could never apply (unknown parent, itself, a cycle) now, not at approval.
    await t.checkInherits(o.id, after.inherits);
    const inheritsChanged = after.inherits.join('\n') !== before.inherits.join('\n');
    const reasons = inheritsChanged ? await roleEditHoldReasons(deps, t, { roleId: o.id, actorId, inherits: after.inherits }) : [];
    if (reasons.length > 0) {
      const change = await holdChange(deps, t, { kind: 'role.update', target: o.id, payload: { description: after.description, inherits: after.inherits }, before, after, base: roleFingerprint(before), reasons, actorId, meta: o.meta });
      return { status: 'pending', change };
    }
    await t.updateRole(o.id, after);
    await deps.audit.recordIn(t.tx, { type: 'catalog.role.updated', outcome: 'success', actorId, meta: o.meta, details: { id: o.id, before, after } });
    return { status: 'applied', role: after };
  });
  if (result.status === 'applied') await reloadPolicy(deps);
  return result;
}
