/**
 * Creating a role. A new role has no holders, so it widens nobody: it is
 * created at once, whatever it inherits. Assigning it later is what dual
 * control watches (assignRole.ts), and so is any later edit (updateRole.ts).
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { reloadPolicy, type ChangeDeps } from './deps.ts';
import type { RoleState } from './store.ts';

/** Creates a role with its parents and its audit event in one transaction. */
export async function createRole(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; input: { id: string; description?: string | undefined; inherits?: string[] | undefined } }): Promise<RoleState> {
  const role: RoleState = { id: o.input.id, description: o.input.description ?? '', inherits: [...new Set(o.input.inherits ?? [])].sort() };
  await deps.store.begin(async (t) => {
    await t.lockRoleGraph();
    await t.insertRole(role);
    await deps.audit.recordIn(t.tx, { type: 'catalog.role.created', outcome: 'success', actorId: o.auth.principalId, meta: o.meta, details: { id: role.id, after: role } });
  });
  // The role graph is part of the policy snapshot: recompile.
  await reloadPolicy(deps);
  return role;
}
