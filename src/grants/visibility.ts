/**
 * Who may see what of the just-in-time workflow. A request is visible to
 * its requester, to security reviewers (`access:review`) and to those who
 * may approve it (an approving role, by policy, in its scope); a grant to
 * its holder and to reviewers. To anyone else a request or grant does not
 * exist: not yours to see answers the same as not there (404), so the
 * answer never confirms that it exists. Listing everyone's is for reviewers.
 */
import type { AuthContext } from '../auth/context.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import { holdsRoleIn, resolveScope, type GrantDeps } from './deps.ts';
import type { AccessRequest, Grant } from './store.ts';

/** Whether the caller reviews access (security reviewers): they see every request and grant. */
export function isReviewer(auth: AuthContext): boolean {
  return auth.permissions.has('access:review');
}

/** Whether the caller may see the request: its requester, a reviewer, or someone holding an approving role for its scope. */
export async function mayViewRequest(deps: GrantDeps, auth: AuthContext, r: AccessRequest): Promise<boolean> {
  if (r.requester_id === auth.principalId || isReviewer(auth)) return true;
  const limit = deps.policy.current().accessLimits.get(r.role_id);
  if (!limit) return false;
  const scope = await resolveScope(deps, { project: r.project_id, dataset: r.dataset_id });
  return holdsRoleIn(deps, auth.principalId, limit.approverRoles, scope.project);
}

/** The request, when the caller may see it; NotFoundError when it does not exist or is not theirs to see. */
export async function loadVisibleRequest(deps: GrantDeps, auth: AuthContext, id: string): Promise<AccessRequest> {
  const r = await deps.store.getRequest(id);
  if (!r || !(await mayViewRequest(deps, auth, r))) throw new NotFoundError(`Access request ${id}`);
  return r;
}

/** The grant, when the caller holds it or reviews access; NotFoundError otherwise. */
export async function loadVisibleGrant(deps: GrantDeps, auth: AuthContext, id: string): Promise<Grant> {
  const g = await deps.store.getGrant(id);
  if (!g || (g.principal_id !== auth.principalId && !isReviewer(auth))) throw new NotFoundError(`Grant ${id}`);
  return g;
}

/** Refuses a listing of everyone's requests or grants to anyone but a reviewer. */
export function assertMayListAll(auth: AuthContext, what: 'request' | 'grant'): void {
  if (!isReviewer(auth)) throw new ForbiddenError(`Listing every ${what} is for security reviewers.`);
}
